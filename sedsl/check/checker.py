"""The checker: proves each size condition symbolically where it can, evaluates it at
every declared instantiation point where it must, and says what it could not prove."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from sedsl.diagnostics.codes import Code
from sedsl.diagnostics.diagnostic import Diagnostics, Label
from sedsl.diagnostics.span import Span
from sedsl.frozen import frozen
from sedsl.language import ir
from sedsl.language.resolve import resolve_file
from sedsl.language.values import shape_text
from sedsl.ops.primitive import Obligation
from sedsl.shapes.dims import Dim, fmt_value

_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "~": lambda a, b: a == b or a == 1 or b == 1,  # broadcasts, as torch does at a point
}


@frozen
class CheckReport:
    space: ir.SpaceIR | None
    diagnostics: Diagnostics
    proved: int = 0  # conditions proved for all sizes
    evaluated: int = 0  # conditions verified at every declared point
    unproved: int = 0  # conditions that no point could decide
    points: int = 0
    files: tuple[Path, ...] = ()  # every source file read, imports included

    @property
    def ok(self) -> bool:
        return not self.diagnostics.has_errors


def check_file(
    path: Path, overrides: dict[str, int | float] | None = None, display: str | None = None
) -> CheckReport:
    diagnostics = Diagnostics()
    read: list[Path] = []
    space = resolve_file(path, diagnostics, overrides, display, read)
    if space is None:
        return CheckReport(None, diagnostics, files=tuple(read))
    return replace(check_space(space, diagnostics), files=tuple(read))


def environments(space: ir.SpaceIR) -> list[tuple[str, dict[str, int | float]]]:
    """One binding of every dim and parameter per declared instantiation point."""
    params = space.param_env()
    return [
        (point_set.name, _with_defaults(space, {**params, **dict(point)}))
        for point_set in space.point_sets
        for point in point_set.points
    ]


def _with_defaults(space: ir.SpaceIR, env: dict) -> dict:
    """A point that does not give an insertion-point dim takes its default (`dim Cin = C`)."""
    for d in space.point_dims:
        if d.name not in env and d.default is not None:
            value = _value(d.default, env)
            if value is not None:
                env[d.name] = int(value) if value.denominator == 1 else value
    return env


def check_space(space: ir.SpaceIR, diagnostics: Diagnostics) -> CheckReport:
    envs = environments(space)
    requires = {(r.lhs - r.rhs, r.op) for r in space.requirements}
    evaluate = _per_condition(lambda ob: _evaluate(ob, envs))
    decide = _per_condition(lambda ob: _decide(ob, requires))
    proved = evaluated = unproved = 0
    missed: dict[str, dict[str, list[ir.Claim]]] = {}  # op set -> candidate -> failed claims
    for claim in dict.fromkeys(space.claims):  # unique, in order
        ob, span = claim.condition, claim.span
        verdict = decide(ob)
        if verdict is True:
            proved += 1
            continue
        outcome = False if verdict is False else evaluate(ob)
        if outcome is None:
            unproved += 1
            diagnostics.warning(
                Code.UNPROVED,
                f"could not prove `{ob}` ({ob.reason})",
                span,
                notes=("it depends on sizes, and no declared point decides it",),
                help="declare instantiation points with `check NAME (C, H, W) in [...]`",
            )
        elif outcome:
            evaluated += 1
        elif claim.candidate is not None:
            opset, label = claim.candidate
            missed.setdefault(opset, {}).setdefault(label, []).append(claim)
        else:
            _report_claim(diagnostics, claim, verdict, envs)
    _report_missed_signatures(diagnostics, space, missed, requires, envs)
    for req in space.requirements:
        ob = Obligation(req.lhs, req.op, req.rhs, f"requirement `{req.text}`")
        if evaluate(ob) is False:
            _report_failure(
                diagnostics,
                Code.REQUIREMENT,
                f"requirement `{req.text}` is violated",
                ob,
                req.span,
                envs,
            )
    if space.block is not None and not envs:
        diagnostics.warning(
            Code.NO_POINTS,
            f"space `{space.name}` declares no instantiation points",
            space.block.span,
            help="add e.g. `check resnet20 (C, H, W) in [(16, 32, 32), (32, 16, 16), (64, 8, 8)]`",
        )
    return CheckReport(space, diagnostics, proved, evaluated, unproved, len(envs))


def _report_claim(diagnostics, claim: ir.Claim, verdict, envs) -> None:
    ob = claim.condition
    if verdict is False:
        diagnostics.error(claim.code, f"{ob.reason}: `{ob}` never holds", claim.span)
    else:
        _report_failure(diagnostics, claim.code, ob.reason, ob, claim.span, envs)


def _report_missed_signatures(diagnostics, space: ir.SpaceIR, missed, requires, envs) -> None:
    """A signature that every candidate misses is reported once, at the signature: the
    mistake is more likely there than in each candidate."""
    for name, by_label in missed.items():
        opset = next((s for s in space.opsets if s.name == name), None)
        labels = [c.label for c in opset.candidates] if opset else []
        if len(labels) >= 2 and not opset.broken and set(labels) <= by_label.keys():
            first = by_label[labels[0]][0]
            diagnostics.error(
                Code.SIGNATURE_NO_CANDIDATE,
                f"no candidate of op set `{name}` gives its declared result "
                f"{shape_text(opset.result)}",
                opset.span,
                label="the signature",
                labels=tuple(
                    Label(c.span, f"gives {shape_text(c.result)}") for c in opset.candidates
                ),
                notes=(
                    "the candidates are " + ", ".join(f"`{c}`" for c in labels),
                    f"e.g. `{first.condition}` {_failure_values(first.condition, requires, envs)}",
                ),
                help="the signature is more likely wrong than every candidate",
            )
            continue
        for claims in by_label.values():  # the first failed axis: its message gives both shapes
            _report_claim(diagnostics, claims[0], _decide(claims[0].condition, requires), envs)


def _failure_values(ob: Obligation, requires, envs) -> str:
    if _decide(ob, requires) is False:
        return "never holds"
    for name, env in envs:
        lhs, rhs = _value(ob.lhs, env), _value(ob.rhs, env)
        if lhs is not None and rhs is not None and not _COMPARE[ob.op](lhs, rhs):
            return f"fails at `{name}` ({_bindings(ob, env, lhs, rhs)})"
    return "fails"


def _bindings(ob: Obligation, env, lhs, rhs) -> str:
    used = sorted((ob.lhs.symbols() | ob.rhs.symbols()) & env.keys())
    bindings = ", ".join(f"{s}={env[s]}" for s in used)
    sides = [
        f"{side} = {fmt_value(value)}"
        for side, value in ((ob.lhs, lhs), (ob.rhs, rhs))
        if not side.is_const
    ]
    return f"with {bindings}: " + " and ".join(sides)


def _decide(ob: Obligation, requires) -> bool | None:
    diff = ob.lhs - ob.rhs
    if ob.op == "~":  # proved when equal; else it depends on which sizes are 1
        return True if diff.is_int(0) else None
    if diff.is_const:
        return _COMPARE[ob.op](diff.value, 0)
    if (diff, ob.op) in requires or (-diff, _flip(ob.op)) in requires:
        return True  # assumed by a `require`, which is itself checked at every point
    return None


def _flip(op: str) -> str:
    return {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)


def _value(dim: Dim, env) -> Fraction | None:
    try:
        return dim.evaluate(env)
    except (KeyError, ZeroDivisionError):
        return None


def _per_condition(verdict):
    """`verdict(ob)`, once per distinct condition: op-set candidates repeat the same
    obligations (61 distinct of 335 for spaces/)."""
    verdicts: dict[tuple, bool | None] = {}

    def memoised(ob: Obligation) -> bool | None:
        key = (ob.lhs, ob.op, ob.rhs)
        if key not in verdicts:
            verdicts[key] = verdict(ob)
        return verdicts[key]

    return memoised


def _evaluate(ob: Obligation, envs) -> bool | None:
    """True when it holds at every point, False when it fails at one, None if undecided."""
    decided = False
    for _, env in envs:
        lhs, rhs = _value(ob.lhs, env), _value(ob.rhs, env)
        if lhs is None or rhs is None:
            continue
        decided = True
        if not _COMPARE[ob.op](lhs, rhs):
            return False
    return True if decided else None


def _report_failure(diagnostics, code, message, ob: Obligation, span: Span, envs) -> None:
    failing = []
    for name, env in envs:
        lhs, rhs = _value(ob.lhs, env), _value(ob.rhs, env)
        if lhs is not None and rhs is not None and not _COMPARE[ob.op](lhs, rhs):
            failing.append((name, env, lhs, rhs))
    if not failing:
        return
    name, env, lhs, rhs = failing[0]
    # the first failing point's values go in the message, so the one-line formats show them
    values = _bindings(ob, env, lhs, rhs)
    where = sorted({n for n, *_ in failing})
    notes = (f"fails at {len(failing)} of {len(envs)} instantiation points ({', '.join(where)})",)
    if message.startswith("requirement"):
        text = f"{message} at `{name}` ({values})"
    else:
        text = f"{message}: `{ob}` fails at `{name}` ({values})"
    diagnostics.error(code, text, span, notes=notes)
