"""Any input string either tokenizes or raises LuaSyntaxError (with line and column); nothing else, no hang."""
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlua.tokenize import LuaSyntaxError, Tokenizer, render_program
from jaxlua.tokenize.tokenizer import LANGUAGE
from tests.tokenize.lua_corpus import LUA_ALPHABET

FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None)
TOKENIZERS = [Tokenizer("semantic"), Tokenizer("paper"), Tokenizer("chars"),
              Tokenizer("semantic", spell_identifiers=True), Tokenizer("semantic", identifiers="canonical")]


def tokenize_or_syntax_error(source) -> None:
    for tokenizer in TOKENIZERS:
        try:
            tokens = tokenizer.program_tokens(source)
        except LuaSyntaxError as exc:
            assert exc.line >= 1 and exc.column >= 1
            continue
        assert isinstance(tokens, list) and all(isinstance(t, str) and t for t in tokens)
        if tokenizer.mode == "semantic":
            assert tokenizer.program_tokens(render_program(tokens)) == tokens


@FUZZ
@given(text=st.text(max_size=200))
def test_random_text(text):
    tokenize_or_syntax_error(text)


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes_including_invalid_utf8_and_nul(data):
    tokenize_or_syntax_error(data)
    tokenize_or_syntax_error(data.decode("utf-8", "surrogateescape"))
    tokenize_or_syntax_error(data.decode("latin-1"))


@FUZZ
@given(pieces=st.lists(st.sampled_from(LUA_ALPHABET), max_size=60))
def test_random_lua_like_text(pieces):
    tokenize_or_syntax_error("".join(pieces))


def test_mutated_valid_programs():
    """Deleting, duplicating or swapping characters of real programs: tokens or LuaSyntaxError only."""
    from tests.tokenize.lua_corpus import HANDWRITTEN, mutated_programs

    for source in mutated_programs(HANDWRITTEN, random.Random(0), 1500):
        tokenize_or_syntax_error(source)


@pytest.mark.parametrize("source,line,column", [
    ("print(", 1, 1),
    ("x = = 1", 1, 5),
    ("local x = 1\nif x then\n", 2, 1),  # the unfinished statement
    ('x = "a\\q"', 1, 7),
    ('x = 1\ny = "\\300"', 2, 6),
    ('x = "\\xZZ"', 1, 5),  # tree-sitter rejects the whole literal
    ('x = "ab\\u{80000000}"', 1, 8),
    ('x=[[\nab\n]] y = "\\999"', 3, 9),
])
def test_syntax_errors_carry_line_and_column(source, line, column):
    with pytest.raises(LuaSyntaxError) as info:
        Tokenizer().program_tokens(source)
    assert (info.value.line, info.value.column) == (line, column), str(info.value)
    assert f"line {line}" in str(info.value)


def test_syntax_error_is_a_value_error_and_picklable():
    import pickle

    error = LuaSyntaxError("boom", 3, 4)
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.line, copy.column, str(copy)) == (3, 4, str(error))


def test_non_string_source_is_a_type_error():
    with pytest.raises(TypeError, match="source must be str"):
        Tokenizer().program_tokens(42)
    with pytest.raises(TypeError, match="stdout must be str"):
        Tokenizer().output_tokens(None)


@pytest.mark.parametrize("depth", [10_000, 50_000])
def test_deep_nesting_neither_recurses_nor_hangs(depth):
    start = time.perf_counter()
    source = "x = " + "(" * depth + "1" + ")" * depth + "\nprint(" + "-" * 0 + "{" * depth + "}" * depth + ")"
    tokens = Tokenizer().program_tokens(source)
    assert tokens.count("LEFT_PAREN") == depth
    for broken in ("x = " + "(" * depth + "1", "print(" + "{" * depth):
        with pytest.raises(LuaSyntaxError):
            Tokenizer().program_tokens(broken)
    assert time.perf_counter() - start < 30


def test_every_grammar_node_kind_is_handled():
    """A program using every construct tree-sitter-lua knows; the walker must visit all kinds without RAW."""
    source = (
        "#!/usr/bin/env lua\n"
        "local a <const>, b <close> = 1, nil; ::top:: goto top\n"
        "global g = 1 global <const> * global function gf() end\n"
        "local function f(x, ...) return ..., #x, -x, ~x, not x end\n"
        "function t.a.b:c() end function t.d() end function h() end\n"
        "for i = 1, 2, 3 do break end for k, v in pairs(t) do end\n"
        "while a do end repeat until a if a then elseif b then else end do end\n"
        "x = {1, k = 2, [3] = 4; 5} x = t[1].y:z(1)'s'{2} x = (a)\n"
        "x = 1 + 2 - 3 * 4 / 5 // 6 % 7 ^ 8 .. 9 == a ~= b < c <= d > e >= f and g or h & i | j ~ k << l >> m\n"
        "x = true and false or nil x = 'q\\n' .. [[long]] .. [==[level]==] -- comment\n"
        "x = function(...) end\n"
        "--[[ block comment ]]\n"
    )
    tokens = Tokenizer().program_tokens(source)
    assert "RAW" not in tokens
    seen_kinds = set()
    tree = Tokenizer()._parser.parse(source.encode())
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        seen_kinds.add(node.type)
        stack.extend(node.children)
    named = {LANGUAGE.node_kind_for_id(i) for i in range(1, LANGUAGE.node_kind_count)
             if LANGUAGE.node_kind_is_named(i) and LANGUAGE.node_kind_is_visible(i)}
    missing = named - seen_kinds - {"ERROR"}
    assert not missing, f"extend this program to cover: {sorted(missing)}"
