"""`@frozen`: a frozen dataclass that is cheap to define.

`dataclass(frozen=True)` compiles six methods per class with `exec` when the class is
defined; the check path defines about 80 such classes, and that compiling was a third of
its import time. `frozen` makes the same class for `dataclasses` (`fields`, `replace`,
`asdict`, `is_dataclass`, `__match_args__`) with the same `==`, `hash`, `repr` and
FrozenInstanceError, but shares one function per method instead of compiling it, and
compiles `__init__` (where speed matters) only when the class is first instantiated.
Methods the class defines itself are kept, as dataclass keeps them. No inheritance from
or by another dataclass: the checks dataclass makes there are not made here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, FrozenInstanceError
from operator import attrgetter


def frozen(cls: type) -> type:
    doc = cls.__doc__
    cls.__doc__ = cls.__name__  # else dataclass derives one from inspect.signature, slowly
    dataclasses.dataclass(cls, init=False, repr=False, eq=False)  # fields only, no exec
    cls.__doc__ = doc
    fields = dataclasses.fields(cls)
    if any(not f.init for f in fields):
        raise TypeError(f"{cls.__name__}: @frozen does not support init=False fields")
    compared = [f.name for f in fields if f.compare]
    shown = [f.name for f in fields if f.repr]
    key = (
        attrgetter(*compared)
        if len(compared) > 1
        else lambda self: tuple(getattr(self, name) for name in compared)
    )

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    def __hash__(self):
        return hash(key(self))

    def __repr__(self):
        shown_fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({shown_fields})"

    def __init__(self, *args, **kwargs):
        cls.__init__ = _compile_init(cls, fields)
        cls.__init__(self, *args, **kwargs)

    own = cls.__dict__
    explicit_hash = own.get("__hash__") is not None
    for name, method in (("__init__", __init__), ("__eq__", __eq__), ("__repr__", __repr__)):
        if name not in own:
            setattr(cls, name, method)
    if not explicit_hash:
        cls.__hash__ = __hash__
    cls.__setattr__ = _frozen_setattr
    cls.__delattr__ = _frozen_delattr
    return cls


def _frozen_setattr(self, name, value):
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self, name):
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _compile_init(cls: type, fields: tuple[dataclasses.Field, ...]):
    """The __init__ that dataclass would write, setting the fields in one dict update."""
    scope: dict = {"_MISSING": MISSING}
    positional, keyword, body = [], [], []
    for f in fields:
        if f.default is not MISSING:
            scope[f"_default_{f.name}"] = f.default
            param = f"{f.name}=_default_{f.name}"
        elif f.default_factory is not MISSING:
            scope[f"_factory_{f.name}"] = f.default_factory
            param = f"{f.name}=_MISSING"
            body.append(f" if {f.name} is _MISSING: {f.name} = _factory_{f.name}()")
        else:
            param = f.name
        (keyword if f.kw_only else positional).append(param)
    params = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    values = ", ".join(f"{f.name!r}: {f.name}" for f in fields)
    body.append(f" self.__dict__.update({{{values}}})")
    if hasattr(cls, "__post_init__"):
        body.append(" self.__post_init__()")
    namespace: dict = {}
    exec(f"def __init__({params}):\n" + "\n".join(body) + "\n", scope, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init
