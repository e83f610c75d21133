"""Bad input never crashes: arbitrary text and mutated shipped spaces go through parse,
resolve and check in-process and come out as diagnostics only."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sedsl.check.checker import check_space
from sedsl.diagnostics.diagnostic import Diagnostics
from sedsl.language.format import format_module
from sedsl.language.parser import parse_text
from sedsl.language.resolve import Resolver
from tests.language.conftest import ROOT, shipped_spaces

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|\d+(?:\.\d+)?|\w+|\.\.|//|\*\*|[=!<>]=|->|\S')
SOURCES = {p.name: p.read_text(encoding="utf-8") for p in shipped_spaces()}


def _pipeline(text: str, tmp: Path) -> Diagnostics:
    """What `sedsl check` does, in-process; the file lives where its imports resolve."""
    path = tmp / "fuzzed.space"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    diagnostics = Diagnostics()
    space = Resolver(diagnostics, {}).run(path, str(path))
    if space is not None:
        check_space(space, diagnostics)
    module = parse_text(text, "fuzzed.space", Diagnostics())
    format_module(module)  # the formatter must take whatever the parser gives it
    return diagnostics


@FAST
@given(st.text(max_size=300))
def test_arbitrary_text_only_gives_diagnostics(tmp_path_factory, text):
    _pipeline(text, tmp_path_factory.mktemp("t"))


@st.composite
def mutated_space(draw):
    """A shipped space with a few tokens deleted, duplicated or swapped."""
    name = draw(st.sampled_from(sorted(SOURCES)))
    tokens = TOKEN.findall(SOURCES[name])
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(tokens) - 1))
        j = draw(st.integers(0, len(tokens) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "swap", "copy"]))
        if action == "delete":
            del tokens[i]
        elif action == "duplicate":
            tokens.insert(i, tokens[i])
        elif action == "swap":
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            tokens[i] = tokens[j]
    layout = draw(st.sampled_from([" ", "\n"]))
    return layout.join(tokens)


@FAST
@given(mutated_space())
def test_mutated_spaces_only_give_diagnostics(tmp_path_factory, text):
    tmp = tmp_path_factory.mktemp("m")
    (tmp / "lib").mkdir()
    (tmp / "lib" / "attention.space").write_text(SOURCES["attention.space"], encoding="utf-8")
    _pipeline(text, tmp)


def test_every_shipped_space_checks_clean():
    for path in shipped_spaces():
        diagnostics = Diagnostics()
        space = Resolver(diagnostics, {}).run(path, str(path.relative_to(ROOT)))
        assert space is not None
        check_space(space, diagnostics)
        assert not diagnostics.has_errors, [d.message for d in diagnostics]
