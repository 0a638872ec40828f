"""The ladder below level 1: its first rung prints a literal or a variable, its second does one operation."""
from __future__ import annotations

import hashlib
import re

import pytest

from jaxlua.lua import ProgramGenerator, ladder
from jaxlua.lua.generator import LEVEL_NAMES, LEVELS
from jaxlua.lua.sandbox import LuaSandbox

_PRINT_ATOM = re.compile(r'^print\(("(?:[^"\\\n]|\\.)*"|-?\d+(\.\d+)?|true|false|[A-Za-z_][A-Za-z0-9_]*)\)$')


@pytest.fixture(scope="module")
def sandbox():
    return LuaSandbox()


def _lines(source: str) -> list[str]:
    return source.strip("\n").split("\n")


def test_ladder_levels_are_registered_and_named():
    assert ladder.FIRST_RUNG in LEVELS and ladder.SECOND_RUNG in LEVELS
    assert set(LEVEL_NAMES) == set(LEVELS)


def test_first_rung_prints_a_literal_or_the_variable_it_assigned():
    generator = ProgramGenerator(3)
    kinds = set()
    for _ in range(300):
        lines = _lines(generator.sample(ladder.FIRST_RUNG))
        assert 1 <= len(lines) <= 2, lines
        assert _PRINT_ATOM.match(lines[-1]), lines
        if len(lines) == 2:
            name = lines[-1][len("print("):-1]
            assert re.match(rf"^(local )?{re.escape(name)} = ", lines[0]), lines
            kinds.add("variable")
        else:
            kinds.add("literal")
    assert kinds == {"literal", "variable"}


def test_second_rung_does_each_kind_of_operation():
    generator = ProgramGenerator(4)
    sources = [generator.sample(ladder.SECOND_RUNG) for _ in range(400)]
    assert all(1 <= len(_lines(s)) <= 2 for s in sources)
    text = "\n".join(sources)
    for construct in (" .. ", "print(#", ":upper()", "string.", "[", "{", ".", " + "):
        assert construct in text, construct


def test_ladder_programs_run_and_print(sandbox):
    generator = ProgramGenerator(9)
    for level in (ladder.FIRST_RUNG, ladder.SECOND_RUNG):
        for _ in range(200):
            source, result = generator.sample_verified(level, sandbox, max_attempts=1)
            assert result.stdout.endswith("\n") and len(result.stdout) > 1, source


def test_ladder_random_stream_is_pinned():
    # An accidental change of the ladder's programs is noticed here (bump GENERATOR_VERSION with a real one).
    generator = ProgramGenerator(0)
    stream = "".join(generator.sample(level) for level in (ladder.FIRST_RUNG, ladder.SECOND_RUNG) for _ in range(20))
    assert hashlib.sha256(stream.encode()).hexdigest()[:16] == "45e3ea5a496d89a2"
