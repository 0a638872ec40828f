"""Canonical identifiers: renaming never changes what a program prints, and no identifier is ever <UNK>."""
import pytest

from jaxlua.tokenize import LuaSyntaxError, Tokenizer, render_program
from jaxlua.tokenize import lua_library
from tests.tokenize.lua_corpus import (CANONICAL_HAZARDS, HANDWRITTEN, MiniGenerator, project_generator,
                                       run_lua_stdout)

CANONICAL = Tokenizer("semantic", identifiers="canonical")
SPELLED = Tokenizer("semantic", identifiers="spelled")


def assert_prints_the_same(source: str) -> None:
    """The canonical program, rendered back to Lua, has the same status and stdout; re-tokenizing it gives
    the same tokens (canonical names are a fixed point of the renaming)."""
    expected = run_lua_stdout(source)
    tokens = CANONICAL.program_tokens(source)
    rendered = render_program(tokens)
    assert run_lua_stdout(rendered) == expected, f"source:\n{source}\nrendered:\n{rendered}"
    assert CANONICAL.program_tokens(rendered) == tokens


@pytest.mark.parametrize("source", CANONICAL_HAZARDS + HANDWRITTEN)
def test_hazards_and_handwritten_programs_print_the_same(source):
    assert_prints_the_same(source)


def test_generated_programs_print_the_same_levels_1_to_7():
    generator = project_generator()
    if generator is None:
        pytest.skip("jaxlua.lua.ProgramGenerator not available")
    renamed = 0
    for seed in range(3500):
        source = generator(seed).sample(1 + seed % 7)
        assert_prints_the_same(source)
        renamed += bool(CANONICAL.renaming(source))
    assert renamed > 3000  # the property is not vacuous: nearly every program has renamed variables


@pytest.mark.slow
def test_generated_programs_print_the_same_sweep_20k():
    generator = project_generator()
    if generator is None:
        pytest.skip("jaxlua.lua.ProgramGenerator not available")
    for seed in range(20_000):
        assert_prints_the_same(generator(50_000 + seed).sample(1 + seed % 7))


def test_wide_grammar_programs_print_the_same():
    for seed in range(500):
        source = MiniGenerator(seed).sample()
        try:
            CANONICAL.program_tokens(source)
        except LuaSyntaxError:
            continue
        assert_prints_the_same(source)


def test_renaming_follows_first_appearance_and_keeps_library_fields_and_strings():
    source = ('local total = 0\nlocal box = {count = 2}\nfor i = 1, 3 do total = total + i * box.count end\n'
              'print(string.format("total=%d", total), ("total"):upper(), box:get())\n')
    tokens = CANONICAL.program_tokens(source)
    assert CANONICAL.renaming(source) == {"total": "v1", "box": "v2", "i": "v3"}
    assert tokens[:3] == ["LOCAL", "IDENTIFIER(v1)", "EQUALS"]
    assert ["IDENTIFIER(v2)", "DOT", "NAME", "c", "o", "u", "n", "t"] == tokens[tokens.index("MULTIPLY") + 1:][:8]
    assert "FUNCTION_CALL(string.format)" in tokens and "METHOD_CALL(upper)" in tokens
    assert ["METHOD_CALL", "g", "e", "t"] == tokens[tokens.index("METHOD_CALL"):][:4]  # a user method: spelled
    assert "".join(tokens[tokens.index("STRING") + 1:]).startswith("total=%d")


def test_two_programs_with_the_same_shape_get_the_same_tokens():
    first = CANONICAL.program_tokens("local apple = 3\nprint(apple * 2)\n")
    second = CANONICAL.program_tokens("local zebra_count = 3\nprint(zebra_count * 2)\n")
    assert first == second


def test_reflective_programs_keep_their_names():
    for source in ('x = 1\nprint(_G.x)\n', 'print(pcall(function() return missing.field end))\n'):
        tokens = CANONICAL.program_tokens(source)
        assert CANONICAL.renaming(source) == {}
        assert not any(t.startswith("IDENTIFIER(v") for t in tokens)


def test_names_past_the_reserved_ones_are_spelled():
    source = "\n".join(f"local n{i} = {i}" for i in range(70)) + "\nprint(n69)\n"
    tokens = CANONICAL.program_tokens(source)
    assert "IDENTIFIER(v64)" in tokens and "IDENTIFIER(v65)" not in tokens
    assert tokens[-6:] == ["FUNCTION_CALL(print)", "NAME", "v", "7", "0", "CALL_END"]
    assert "local v70 = 69" in render_program(tokens)


@pytest.mark.parametrize("identifiers", ["spelled", "canonical"])
def test_no_identifier_is_unknown_with_a_vocabulary_of_a_few_programs(identifiers):
    tokenizer = Tokenizer("semantic", identifiers=identifiers)
    train = ['x = 1\nprint(x + 2)\n', 'local s = "ab"\nprint(s .. "c")\n']
    vocab = tokenizer.build_vocabulary(tokenizer.program_tokens(s) for s in train)
    unseen = ('local brand_new, zebra = 5, {field_name = 1}\nfunction zebra:method_x(q) return self.field_name end\n'
              'print(brand_new:rep(2), other.field, zebra:method_x(1), math.floor(2.5), utf8.char(72), '
              'table.concat({}), os.time == nil, coroutine.wrap)\n'
              + "\n".join(f"local q{i} = {i}" for i in range(70)))
    tokens = tokenizer.program_tokens(unseen)
    assert vocab.unk_id not in vocab.encode(tokens), [t for t in tokens if t not in vocab]


def test_library_lists_cover_the_sandbox_environment():
    """Every global and library member the sandbox offers is a kept name (a test, not a copy of the list)."""
    status, stdout = run_lua_stdout(
        'local names = {}\nfor k, v in pairs(_G) do names[#names + 1] = k\n'
        '  if type(v) == "table" and k ~= "_G" then for m in pairs(v) do names[#names + 1] = k .. "." .. m end end\n'
        'end\nfor m in pairs(string) do names[#names + 1] = "method." .. m end\nprint(table.concat(names, " "))\n')
    assert status == "ok"
    for name in stdout.split():
        scope, _, member = name.partition(".")
        if scope == "method":
            assert member in lua_library.METHODS, name
        elif member:
            assert name in lua_library.DOTTED_FUNCTIONS, name
        else:
            assert name in lua_library.KEPT_VARIABLES, name


def test_canonical_applies_to_the_semantic_mode_only():
    for mode in ("paper", "chars"):
        with pytest.raises(ValueError, match="semantic mode only"):
            Tokenizer(mode, identifiers="canonical")
