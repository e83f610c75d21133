"""Symbolic dimensions: integer expressions over B, C, H, W and the space's parameters.

A `Dim` is kept in a normal form, a sum of monomials with rational coefficients, so that
equal expressions compare equal (`C // 4 * 4 + 0` is not `C`, but `2 * C - C` is).
Floor division, ceiling division, modulo, max and min of non-constant operands stay
opaque atoms with normalised arguments; the checker evaluates those at the declared
instantiation points when it cannot decide symbolically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache, total_ordering

Number = int | Fraction


class _once:
    """functools.cached_property without the lock that Python 3.11's takes on every first
    access (which cost more than the work it saved): the value lands in the instance's
    __dict__, which later lookups find first. Safe on frozen dataclasses, whose __dict__
    it writes directly; not a field, so equality, hashing and repr ignore it."""

    def __init__(self, func):
        self.func, self.name = func, func.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.func(instance)
        return value


_SYMBOLS: dict[str, Dim] = {}  # Dim.sym's: one object per symbol name
_SYMBOLS_MAX = 4096

# A coefficient is an int when integral, a Fraction only when not: int arithmetic and hashing
# run in C, Fraction's in Python, and an int equals (and hashes as) the Fraction of its value.
Coeff = int | Fraction


def _coeff(value: Number) -> Coeff:
    return value if type(value) is int else (value.numerator if value.denominator == 1 else value)


@total_ordering
@dataclass(frozen=True)
class Opaque:
    """An operation the polynomial form cannot absorb: `a // b`, `ceil(a / b)`, `a % b`, ..."""

    kind: str  # floordiv | ceildiv | mod | max | min | div
    args: tuple[Dim, ...]

    def key(self) -> tuple:
        return (self.kind, tuple(a.key() for a in self.args))

    def __lt__(self, other: Opaque) -> bool:
        return self.key() < other.key()

    def evaluate(self, env: dict[str, Number]) -> Number:
        values = [a.evaluate(env) for a in self.args]
        if self.kind in ("floordiv", "ceildiv", "mod", "div") and values[1] == 0:
            raise ZeroDivisionError(str(self))
        if type(values[0]) is int and type(values[1]) is int:  # exact, and no Fraction made
            a, b = values[0], values[1]
            if self.kind == "floordiv":
                return a // b
            if self.kind == "ceildiv":
                return -(-a // b)
            if self.kind == "mod":
                return a % b
            if self.kind == "div":
                return _coeff(Fraction(a, b))
        if self.kind == "floordiv":
            return Fraction(math.floor(values[0] / values[1]))
        if self.kind == "ceildiv":
            return Fraction(math.ceil(values[0] / values[1]))
        if self.kind == "mod":
            return values[0] - values[1] * math.floor(values[0] / values[1])
        if self.kind == "div":
            return values[0] / values[1]
        return max(values) if self.kind == "max" else min(values)

    def __str__(self) -> str:
        a = self.args
        if self.kind == "floordiv":
            return f"{a[0]._operand()} // {a[1]._operand()}"
        if self.kind == "mod":
            return f"{a[0]._operand()} % {a[1]._operand()}"
        if self.kind == "div":
            return f"{a[0]._operand()} / {a[1]._operand()}"
        if self.kind == "ceildiv":
            return f"ceil({a[0]} / {a[1]._operand()})"
        return f"{self.kind}({', '.join(map(str, a))})"

    def to_python(self, names: dict[str, str]) -> str:
        a = [arg.to_python(names) for arg in self.args]
        wrap = [f"({x})" if not _is_simple(x) else x for x in a]
        if self.kind == "floordiv":
            return f"{wrap[0]} // {wrap[1]}"
        if self.kind == "mod":
            return f"{wrap[0]} % {wrap[1]}"
        if self.kind == "div":
            return f"{wrap[0]} // {wrap[1]}"  # checked exact, so integer division is equal
        if self.kind == "ceildiv":
            return f"-({_negated(a[0], wrap[0])} // {wrap[1]})"
        return f"{self.kind}({', '.join(a)})"


def _is_simple(text: str) -> bool:
    return text.replace("_", "").replace(".", "").isalnum()


def _negated(text: str, wrapped: str) -> str:
    """-text. Where text is itself a negation (`-(-H // 2)`, the ceil inside a ceil), its
    operand: `-(-(...))` is a double negation, which linters reject (ruff B002)."""
    import ast  # codegen only: the checker never renders Python

    node = ast.parse(text, mode="eval").body
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return text[1:]  # a unary minus's operand binds tighter than the `//` that follows
    return f"-{wrapped}"


Atom = str | Opaque
Monomial = tuple[tuple[Atom, int], ...]  # sorted (atom, power); power may be negative


def _atom_key(atom: Atom) -> tuple:
    return (0, atom) if isinstance(atom, str) else (1, atom.key())


def _mono_key(mono: Monomial) -> tuple:
    return tuple((_atom_key(a), p) for a, p in mono)


def _mono_mul(a: Monomial, b: Monomial) -> Monomial:
    powers: dict[Atom, int] = dict(a)
    for atom, p in b:
        powers[atom] = powers.get(atom, 0) + p
    return tuple(sorted(((k, v) for k, v in powers.items() if v), key=lambda t: _atom_key(t[0])))


@dataclass(frozen=True)
class Dim:
    """A normalised integer expression; immutable and hashable."""

    terms: tuple[tuple[Monomial, Coeff], ...]  # sorted by monomial, no zero coefficients

    def __hash__(self) -> int:  # the memoised subs hashes dims constantly: hash each once
        return self._hash

    @_once
    def _hash(self) -> int:
        return hash(self.terms)

    def __eq__(self, other) -> bool:  # dims are often the very same object (Dim.sym interns)
        if self is other:
            return True
        if other.__class__ is Dim:
            return self.terms == other.terms
        return NotImplemented

    # ---- construction --------------------------------------------------------------
    @staticmethod
    def const(value: Number) -> Dim:
        value = _coeff(value if type(value) is int else Fraction(value))
        return Dim((((), value),) if value else ())

    @staticmethod
    def sym(name: str) -> Dim:
        dim = _SYMBOLS.get(name)
        if dim is None:
            if len(_SYMBOLS) >= _SYMBOLS_MAX:  # bounded: the language server runs for days
                _SYMBOLS.clear()
            dim = _SYMBOLS[name] = Dim(((((name, 1),), 1),))
        return dim

    @staticmethod
    def _atom(atom: Opaque) -> Dim:
        return Dim(((((atom, 1),), 1),))

    @staticmethod
    def _from(coeffs: dict[Monomial, Number]) -> Dim:
        items = [(m, _coeff(c)) for m, c in coeffs.items() if c]
        return Dim(tuple(sorted(items, key=lambda t: _mono_key(t[0]))))

    def key(self) -> tuple:
        return tuple((_mono_key(m), c) for m, c in self.terms)

    # ---- queries -----------------------------------------------------------------------
    @property
    def is_const(self) -> bool:
        return all(not m for m, _ in self.terms)

    @property
    def value(self) -> Fraction:
        assert self.is_const
        return Fraction(self.terms[0][1]) if self.terms else Fraction(0)

    def is_int(self, n: int) -> bool:
        return self.is_const and self.value == n

    def symbols(self) -> frozenset[str]:
        return self._symbols

    @_once
    def symbol(self) -> str | None:
        """The symbol when the dim is exactly one (`C`), the commonest dim of all."""
        if len(self.terms) == 1:
            mono, coeff = self.terms[0]
            if coeff == 1 and len(mono) == 1 and mono[0][1] == 1 and type(mono[0][0]) is str:
                return mono[0][0]
        return None

    # a dim is immutable and shared: its symbols and text are computed once, not per query
    @_once
    def _symbols(self) -> frozenset[str]:
        found: set[str] = set()
        for mono, _ in self.terms:
            for atom, _ in mono:
                if isinstance(atom, str):
                    found.add(atom)
                else:
                    for arg in atom.args:
                        found |= arg.symbols()
        return frozenset(found)

    def evaluate(self, env: dict[str, Number]) -> Number:
        """The value under `env`, an int where it is one, else a Fraction; raises KeyError
        for an unbound symbol."""
        lone = self.symbol
        if lone is not None:
            value = env[lone]
            return value if type(value) is int else Fraction(value)
        total: int | Fraction = 0
        for mono, coeff in self.terms:
            term: Coeff = coeff  # plain ints while exact: Fraction arithmetic is slow
            for atom, power in mono:
                base = env[atom] if isinstance(atom, str) else atom.evaluate(env)
                if power > 0:
                    term = term * base**power
                elif base == 0:
                    raise ZeroDivisionError(str(self))
                else:
                    term = Fraction(term) / Fraction(base) ** -power
            total += term
        return total if type(total) is int else Fraction(total)

    def subs(self, mapping: dict[str, Dim]) -> Dim:
        """Replace symbols by dims (instantiating an op's signature at a call site)."""
        if not mapping:
            return self
        lone = self.symbol
        if lone is not None:
            return mapping.get(lone, self)
        bindings = sorted((n, mapping[n]) for n in self._symbols if n in mapping)
        if not bindings:
            return self
        # Checking a space instantiates the same few signatures thousands of times (80
        # distinct cases in 3,000 calls for spaces/): memoise on the bindings that matter.
        return _subs(self, tuple(bindings))

    def _subs_uncached(self, mapping: dict[str, Dim]) -> Dim:
        total = Dim.const(0)
        for mono, coeff in self.terms:
            term = Dim.const(coeff)
            for atom, power in mono:
                base = (
                    mapping.get(atom, Dim.sym(atom))
                    if isinstance(atom, str)
                    else (_rebuild(atom, mapping))
                )
                for _ in range(abs(power)):
                    term = term * base if power > 0 else term.exact_div(base)
            total = total + term
        return total

    # ---- arithmetic ----------------------------------------------------------------------
    def __add__(self, other: Dim | int) -> Dim:
        other = _lift(other)
        coeffs = dict(self.terms)
        for m, c in other.terms:
            coeffs[m] = coeffs.get(m, 0) + c
        return Dim._from(coeffs)

    __radd__ = __add__

    def __neg__(self) -> Dim:
        return Dim(tuple((m, -c) for m, c in self.terms))

    def __sub__(self, other: Dim | int) -> Dim:
        return self + (-_lift(other))

    def __rsub__(self, other: Dim | int) -> Dim:
        return _lift(other) - self

    def __mul__(self, other: Dim | int) -> Dim:
        other = _lift(other)
        coeffs: dict[Monomial, Number] = {}
        for m1, c1 in self.terms:
            for m2, c2 in other.terms:
                m = _mono_mul(m1, m2)
                coeffs[m] = coeffs.get(m, 0) + c1 * c2
        return Dim._from(coeffs)

    __rmul__ = __mul__

    def exact_div(self, other: Dim | int) -> Dim:
        """`a / b` where the checker requires b to divide a: a polynomial when b is one term."""
        other = _lift(other)
        if len(other.terms) == 1:
            mono, coeff = other.terms[0]
            inverse = Dim((((tuple((a, -p) for a, p in mono)), _coeff(1 / Fraction(coeff))),))
            return self * inverse
        return Dim._atom(Opaque("div", (self, other)))

    def __truediv__(self, other: Dim | int) -> Dim:
        return self.exact_div(other)

    def __floordiv__(self, other: Dim | int) -> Dim:
        other = _lift(other)
        if self.is_const and other.is_const and other.value:
            return Dim.const(math.floor(self.value / other.value))
        if other.is_int(1):
            return self
        if self == other:
            return Dim.const(1)  # sizes are positive: W // W == 1
        quotient = self.exact_div(other)
        if other.is_const and _integral(quotient):
            return quotient  # e.g. (4*C) // 4 == C
        return Dim._atom(Opaque("floordiv", (self, other)))

    def ceildiv(self, other: Dim | int) -> Dim:
        other = _lift(other)
        if self.is_const and other.is_const and other.value:
            return Dim.const(math.ceil(self.value / other.value))
        if other.is_int(1):
            return self
        if self == other:
            return Dim.const(1)  # sizes are positive: ceil(W / W) == 1
        return Dim._atom(Opaque("ceildiv", (self, other)))

    def __mod__(self, other: Dim | int) -> Dim:
        other = _lift(other)
        if self.is_const and other.is_const and other.value:
            return Dim.const(self.value % other.value)
        if other.is_int(1):
            return Dim.const(0)
        return Dim._atom(Opaque("mod", (self, other)))

    @staticmethod
    def maximum(*dims: Dim) -> Dim:
        return _extremum("max", dims)

    @staticmethod
    def minimum(*dims: Dim) -> Dim:
        return _extremum("min", dims)

    # ---- rendering -----------------------------------------------------------------------
    def __str__(self) -> str:
        return self._text

    @_once
    def _text(self) -> str:
        if not self.terms:
            return "0"
        if len(self.terms) == 1 and _lone_atom(self.terms[0]):
            return str(self.terms[0][0][0][0])
        parts = []
        for i, (mono, coeff) in enumerate(_display_order(self.terms)):
            text = _render_term(mono, abs(coeff) if i else coeff)
            parts.append(text if i == 0 else (" - " if coeff < 0 else " + ") + text)
        return "".join(parts)

    def __repr__(self) -> str:
        return f"Dim({self})"

    def _operand(self) -> str:
        text = str(self)
        single = len(self.terms) == 1 and " " not in text
        return text if single else f"({text})"

    def to_python(self, names: dict[str, str] | None = None) -> str:
        """Python source computing this dim, with symbols renamed through `names`."""
        names = names or {}
        if not self.terms:
            return "0"
        if len(self.terms) == 1 and _lone_atom(self.terms[0]):
            atom = self.terms[0][0][0][0]
            return names.get(atom, atom) if isinstance(atom, str) else atom.to_python(names)
        parts = []
        for mono, coeff in _display_order(self.terms):
            numer = [(a, p) for a, p in mono if p > 0]
            denom = [(a, -p) for a, p in mono if p < 0]
            factors = []
            if coeff.numerator != 1 or not numer:
                factors.append(str(abs(coeff.numerator)))
            for atom, power in numer:
                factors.extend([_atom_python(atom, names)] * power)
            text = " * ".join(factors)
            divisors = [str(coeff.denominator)] if coeff.denominator != 1 else []
            for atom, power in denom:
                divisors.extend([_atom_python(atom, names)] * power)
            if divisors:
                text = f"{text} // " + " // ".join(divisors)
            parts.append(("-" if coeff < 0 else "+", text))
        sign, first = parts[0]
        out = ("-" if sign == "-" else "") + first
        for sign, text in parts[1:]:
            out += f" {sign} {text}"
        return out


def _lone_atom(term: tuple[Monomial, Coeff]) -> bool:
    mono, coeff = term
    return coeff == 1 and len(mono) == 1 and mono[0][1] == 1


def _display_order(terms):
    """Constants last: `C + 1`, not `1 + C`."""
    return [t for t in terms if t[0]] + [t for t in terms if not t[0]]


def _atom_python(atom: Atom, names: dict[str, str]) -> str:
    if isinstance(atom, str):
        return names.get(atom, atom)
    text = atom.to_python(names)
    return text if atom.kind in ("max", "min") else f"({text})"


def _render_term(mono: Monomial, coeff: Coeff) -> str:
    numer = [(a, p) for a, p in mono if p > 0]
    denom = [(a, -p) for a, p in mono if p < 0]

    def atom_text(atom: Atom) -> str:
        return (
            atom
            if isinstance(atom, str)
            else (str(atom) if atom.kind in ("max", "min", "ceildiv") else f"({atom})")
        )

    factors = [atom_text(a) + (f"**{p}" if p > 1 else "") for a, p in numer]
    if coeff.numerator != 1 or not factors:
        if coeff.numerator == -1 and factors:
            factors.insert(0, "-" + factors.pop(0))
        else:
            factors.insert(0, str(coeff.numerator))
    text = " * ".join(factors)
    divisors = ([str(coeff.denominator)] if coeff.denominator != 1 else []) + [
        atom_text(a) + (f"**{p}" if p > 1 else "") for a, p in denom
    ]
    for d in divisors:
        text += f" / {d}"
    return text


@lru_cache(maxsize=4096)  # bounded: the language server checks every edit
def _subs(dim: Dim, bindings: tuple[tuple[str, Dim], ...]) -> Dim:
    return dim._subs_uncached(dict(bindings))


def _rebuild(atom: Opaque, mapping: dict[str, Dim]) -> Dim:
    args = [a.subs(mapping) for a in atom.args]
    if atom.kind == "floordiv":
        return args[0] // args[1]
    if atom.kind == "ceildiv":
        return args[0].ceildiv(args[1])
    if atom.kind == "mod":
        return args[0] % args[1]
    if atom.kind == "div":
        return args[0].exact_div(args[1])
    return Dim.maximum(*args) if atom.kind == "max" else Dim.minimum(*args)


def _integral(dim: Dim) -> bool:
    return all(c.denominator == 1 and all(p > 0 for _, p in m) for m, c in dim.terms)


def _lift(value: Dim | int | Fraction) -> Dim:
    return value if isinstance(value, Dim) else Dim.const(value)


def _extremum(kind: str, dims: tuple[Dim, ...]) -> Dim:
    unique = sorted(set(dims), key=Dim.key)
    if len(unique) == 1:
        return unique[0]
    if all(d.is_const for d in unique):
        values = [d.value for d in unique]
        return Dim.const(max(values) if kind == "max" else min(values))
    return Dim._atom(Opaque(kind, tuple(unique)))


def is_int_valued(value: Fraction) -> bool:
    return value.denominator == 1


def fmt_value(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(float(value))
