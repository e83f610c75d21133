"""`sedsl.frozen.frozen` behaves as `dataclass(frozen=True)` for everything sedsl uses."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from sedsl.frozen import frozen


def _define(decorator, name):
    class Node:
        name: str
        items: tuple[int, ...] = ()
        extra: dict = field(default_factory=dict, compare=False)
        span: int = field(default=0, compare=False, repr=False, kw_only=True)

    Node.__name__ = Node.__qualname__ = name  # a module-level name, so that it pickles
    return decorator(Node)


Real, Ours = _define(dataclass(frozen=True), "Real"), _define(frozen, "Ours")


def _both(*args, **kwargs):
    return Real(*args, **kwargs), Ours(*args, **kwargs)


def test_equality_and_hash_ignore_uncompared_fields():
    real, ours = _both("a", (1, 2), span=3)
    real_other, ours_other = _both("a", (1, 2), {"x": 1}, span=4)
    assert (real == real_other) == (ours == ours_other) is True
    assert hash(ours) == hash(ours_other)
    assert (ours == Ours("b", (1, 2))) is False
    assert ours.__eq__(real) is NotImplemented  # another class never compares equal


def test_repr_and_fields_match_dataclass():
    real, ours = _both("a", (1,), span=9)
    assert repr(ours) == repr(real).replace("Real", "Ours")
    assert [f.name for f in dataclasses.fields(ours)] == [f.name for f in dataclasses.fields(real)]
    assert Ours.__match_args__ == Real.__match_args__
    assert dataclasses.is_dataclass(ours)


def test_defaults_factories_and_keyword_only():
    first, second = Ours("a"), Ours("a")
    assert first.items == () and first.span == 0
    assert first.extra == {} and first.extra is not second.extra
    with pytest.raises(TypeError):
        Ours("a", (), {}, 3)  # span is keyword-only, as in the dataclass
    with pytest.raises(TypeError):
        Ours()


def test_frozen_replace_and_pickle():
    ours = Ours("a", (1,), span=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ours.name = "b"
    with pytest.raises(dataclasses.FrozenInstanceError):
        del ours.name
    changed = dataclasses.replace(ours, name="b")
    assert (changed.name, changed.items, changed.span) == ("b", (1,), 2)
    assert pickle.loads(pickle.dumps(ours)) == ours


def test_methods_the_class_defines_are_kept():
    @frozen
    class Shown:
        value: int

        def __repr__(self) -> str:
            return f"<{self.value}>"

    assert repr(Shown(3)) == "<3>"
