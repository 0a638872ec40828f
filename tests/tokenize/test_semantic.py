"""Semantic mode is lossless: rendered tokens print the same stdout, output tokens decode to the same text."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxlua.tokenize import LuaSyntaxError, Tokenizer, render_program
from tests.tokenize.lua_corpus import HANDWRITTEN, PARSE_ONLY, MiniGenerator, project_generator, run_lua_stdout

SEMANTIC = Tokenizer("semantic")
SPELLED = Tokenizer("semantic", spell_identifiers=True)
PROPERTY = settings(max_examples=1000, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def assert_round_trip(source: str) -> None:
    """Rendering the program's tokens gives a program with the same status and stdout (both identifier
    spellings); re-tokenizing the rendered program gives the same tokens (rendering is a fixed point)."""
    expected = run_lua_stdout(source)
    for tokenizer in (SEMANTIC, SPELLED):
        tokens = tokenizer.program_tokens(source)
        rendered = render_program(tokens)
        assert run_lua_stdout(rendered) == expected, f"{tokenizer}\nsource:\n{source}\nrendered:\n{rendered}"
        assert tokenizer.program_tokens(rendered) == tokens


def test_default_mode_is_semantic():
    assert Tokenizer().mode == "semantic"


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown tokenizer mode"):
        Tokenizer("words")


@pytest.mark.parametrize("source", HANDWRITTEN)
def test_round_trip_handwritten(source):
    assert_round_trip(source)


@pytest.mark.parametrize("source", PARSE_ONLY)
def test_parse_only_programs_tokenize(source):
    tokens = SEMANTIC.program_tokens(source)
    assert tokens == SEMANTIC.program_tokens(render_program(tokens))


@PROPERTY
@given(seed=st.integers(0, 2**31 - 1))
def test_round_trip_wide_grammar_programs(seed):
    source = MiniGenerator(seed).sample()
    try:
        SEMANTIC.program_tokens(source)
    except LuaSyntaxError:  # a rare generated program Lua itself rejects (e.g. an escape over 255)
        assert run_lua_stdout(source)[0] == "error"
        return
    assert_round_trip(source)


@pytest.mark.skipif(project_generator() is None, reason="jaxlua.lua.ProgramGenerator not available")
@settings(PROPERTY, max_examples=2000)
@given(seed=st.integers(0, 2**31 - 1), level=st.sampled_from([1, 2, 3, 4, 5, 6, 7]))
def test_round_trip_project_generator(seed, level):
    assert_round_trip(project_generator()(seed).sample(level))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(text=st.text())
def test_output_tokens_decode_exactly(text):
    for mode in ("semantic", "chars"):
        tokenizer = Tokenizer(mode)
        tokens = tokenizer.output_tokens(text)
        assert tokenizer.decode_output(tokens) == text
        assert all(len(t) == 1 for t in tokens)


@pytest.mark.slow
@pytest.mark.skipif(project_generator() is None, reason="jaxlua.lua.ProgramGenerator not available")
def test_round_trip_sweep_20k_programs():
    generator = project_generator()(12345)
    for i in range(20_000):
        assert_round_trip(generator.sample(1 + i % 7))


def test_output_tokens_keep_newlines_tabs_signs_and_decimals():
    assert SEMANTIC.output_tokens("-1.5\tx\n") == ["-", "1", ".", "5", "\t", "x", "\n"]


def test_literals_are_spelled():
    tokens = SEMANTIC.program_tokens('x = 1234 .. "Hi\\n"')
    assert tokens == ["IDENTIFIER(x)", "EQUALS", "NUMBER", "1", "2", "3", "4", "CONCAT", "STRING", "H", "i", "\n"]


def test_string_values_not_spellings():
    """Escapes are resolved: every spelling of the same value gives the same tokens."""
    spellings = ['"A\\tb"', "'A\\9b'", '"\\65\\x09b"', '"\\u{41}\\tb"', "[[A\tb]]", "[==[\nA\tb]==]"]
    streams = {tuple(SEMANTIC.program_tokens(f"print({s})")) for s in spellings}
    assert len(streams) == 1


def test_calls_and_methods():
    tokens = SEMANTIC.program_tokens('s:upper() f(1)(2) t.a.b"x"; (g)()')
    assert tokens == [
        "IDENTIFIER(s)", "METHOD_CALL(upper)", "CALL_END",
        "FUNCTION_CALL(f)", "NUMBER", "1", "CALL_END", "CALL", "NUMBER", "2", "CALL_END",
        "FUNCTION_CALL(t.a.b)", "STRING", "x", "CALL_END", "SEMICOLON",
        "LEFT_PAREN", "IDENTIFIER(g)", "RIGHT_PAREN", "CALL", "CALL_END",
    ]


def test_unary_operators_are_distinct_from_binary():
    tokens = SEMANTIC.program_tokens("x = -a - ~b ~ c")
    assert tokens == ["IDENTIFIER(x)", "EQUALS", "NEGATE", "IDENTIFIER(a)", "MINUS", "BIT_NOT", "IDENTIFIER(b)",
                      "BIT_XOR", "IDENTIFIER(c)"]


def test_comments_do_not_change_tokens():
    plain = SEMANTIC.program_tokens("local x = 1\nprint(x)\n")
    commented = SEMANTIC.program_tokens("-- head\nlocal x --[[ inline ]] = 1 -- tail\nprint(x) --[==[\nblock]==]\n")
    assert plain == commented


def test_render_rejects_unknown_tokens():
    with pytest.raises(ValueError, match="cannot render token"):
        render_program(["IDENTIFIER(x)", "EQUALS", "<UNK>"])


def _generated_vocabulary_sizes(identifiers: str, programs: list[str]) -> tuple[int, int]:
    """(vocabulary size, of which reserved) for the semantic tokenizer with `identifiers` over `programs`."""
    tokenizer = Tokenizer("semantic", identifiers=identifiers)
    token_lists = []
    for source in programs:
        try:
            token_lists.append(tokenizer.program_tokens(source))
        except LuaSyntaxError:
            continue
    return len(tokenizer.build_vocabulary(token_lists)), len(tokenizer.reserved_tokens())


def test_semantic_vocabulary_stays_small():
    """Spelled and canonical identifiers keep the vocabulary to the reserved tokens plus a few structural ones,
    however many generated programs it is built from; whole-name identifiers ("names", the default) do not:
    the generator draws names from a distribution, so that vocabulary grows with the data."""
    from jaxlua.lua import ProgramGenerator  # pylint: disable=import-outside-toplevel

    programs = [ProgramGenerator(seed).sample(1 + seed % 3) for seed in range(1000)]
    for identifiers in ("spelled", "canonical"):
        half, reserved = _generated_vocabulary_sizes(identifiers, programs[:500])
        size, _ = _generated_vocabulary_sizes(identifiers, programs)
        assert size - reserved < 50, (identifiers, size, reserved)
        assert size - half < 10, (identifiers, half, size)  # bounded: twice the data adds next to nothing
    names_half, _ = _generated_vocabulary_sizes("names", programs[:500])
    names, _ = _generated_vocabulary_sizes("names", programs)
    assert names > 1.5 * names_half, (names_half, names)  # grows with the data: the default's weakness