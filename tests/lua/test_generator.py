"""ProgramGenerator: determinism per seed, runnable programs at every level, levels' measured difficulty."""
import collections
import hashlib

import pytest

from jaxlua.lua import LuaSandbox
from jaxlua.lua.generator import BRANCH_RANGES, LEVELS, GeneratorConfig, ProgramGenerator
from jaxlua.lua.lexer import tokenize_lua, count_branches

SAMPLES = 60


@pytest.fixture(scope="module")
def sandbox():
    return LuaSandbox()


def test_same_seed_same_programs_different_seed_different_programs():
    first = [ProgramGenerator(7).sample(level) for level in LEVELS for _ in range(3)]
    again = [ProgramGenerator(7).sample(level) for level in LEVELS for _ in range(3)]
    other = [ProgramGenerator(8).sample(level) for level in LEVELS for _ in range(3)]
    assert first == again
    assert first != other


def test_known_programs_for_seed_zero_are_stable():
    # Pinned so an accidental change of the generator's random stream is noticed: bump GENERATOR_VERSION.
    assert ProgramGenerator(0).sample(4) == "t = 4\ng = 5\nk = 7\nprint(g)\nprint(k / 5)\n"
    generator = ProgramGenerator(0)
    stream = "".join(generator.sample(level) for level in LEVELS for _ in range(3))
    assert hashlib.sha256(stream.encode()).hexdigest()[:16] == "b8e2fae16c19407f"


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_runs_ok_and_prints(level, sandbox):
    generator = ProgramGenerator(100 + level)
    statuses, empty = collections.Counter(), 0
    for _ in range(SAMPLES):
        source = generator.sample(level)
        result = sandbox.run(source, max_steps=generator.config.max_steps)
        statuses[result.status] += 1
        empty += result.ok and result.stdout == ""
    assert statuses["ok"] >= 0.9 * SAMPLES, statuses  # the rest is rejected by sample_verified
    assert empty <= 0.02 * SAMPLES


@pytest.mark.parametrize("level", LEVELS)
def test_sample_verified_respects_output_knobs(level, sandbox):
    config = GeneratorConfig(max_output_lines=4, max_loop_iterations=3)
    generator = ProgramGenerator(5, config)
    for _ in range(20):
        source, result = generator.sample_verified(level, sandbox)
        assert result.status == "ok"
        assert result.stdout.count("\n") <= 4
        assert "nan" not in result.stdout


@pytest.mark.parametrize("level", sorted(BRANCH_RANGES))
def test_dissertation_levels_have_their_branch_counts(level):
    low, high = BRANCH_RANGES[level]
    generator = ProgramGenerator(level)
    counts = [count_branches(generator.sample(level)) for _ in range(SAMPLES)]
    assert all(low <= c <= high for c in counts), counts


def test_levels_use_the_constructs_they_promise():
    generator = ProgramGenerator(3)
    tokens = {level: collections.Counter(t for _ in range(SAMPLES) for t in tokenize_lua(generator.sample(level)))
              for level in LEVELS}
    assert all(tokens[2][kw] for kw in ("for", "while", "repeat"))
    for construct in ("function", "return", "local", "{", "ipairs", "table.insert", "table.concat"):
        name = construct.split(".")[-1]
        assert tokens[3][name], construct
    assert all(tokens[4][kw] == 0 for kw in ("if", "for", "while"))
    assert tokens[5]["if"] and (tokens[5]["and"] or tokens[5]["or"]) and tokens[5]["not"]
    assert tokens[6]["for"] and not tokens[6]["while"]
    assert tokens[7]["while"] and not tokens[7]["for"]


def test_number_range_knob():
    generator = ProgramGenerator(11, GeneratorConfig(max_number=255))
    numbers = [int(t) for _ in range(40) for t in tokenize_lua(generator.sample(4)) if t.isdigit()]
    assert max(numbers) > 9 and max(numbers) <= 255
    small = ProgramGenerator(11, GeneratorConfig(max_number=9))
    assert all(int(t) <= 9 for _ in range(40) for t in tokenize_lua(small.sample(4)) if t.isdigit())


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="level"):
        ProgramGenerator(0).sample(8)
    with pytest.raises(ValueError, match="max_number"):
        GeneratorConfig(max_number=0)
    with pytest.raises(TypeError):
        ProgramGenerator("seed")
