"""The training default's fast path (tokens read off the lexemes, jaxlua.tokenize.lexical) gives exactly the tree
walk's tokens and renaming, on every level, the hand-written set, wide-grammar and library-call fuzz, and the
constructs where lexemes and syntax are easy to confuse; it takes the fast path on generated programs and falls
back to the walk where it says it does."""
import pathlib
import random

import pytest

from jaxlua.tokenize import LuaSyntaxError, Tokenizer
from jaxlua.tokenize.lexical import lexical_tokens
from tests.tokenize.lua_corpus import CANONICAL_HAZARDS, HANDWRITTEN, MiniGenerator, mutated_programs, project_generator
from tests.tokenize.test_closed_vocabulary import library_call_program

FAST = Tokenizer("semantic", identifiers="canonical")
WALK = Tokenizer("semantic", identifiers="canonical", lexical=False)
HANDWRITTEN_DIR = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "handwritten"

TRICKY = [
    "x = -1 - -2 + a - b[-1] - (c) - f(-d)\nreturn -x\n",
    "local t = {-1, a = -2, [3] = - -3, b = {c = 1; d = 2}; e = f{g = 1}}\nprint(t.a, t.b.c, #t)\n",
    "print(a ~ b, ~a, a ~= b, not a == b, #t .. #s)\n",
    'print(("x"):rep(3), ("%d"):format(2), s:upper():lower(), s:sub(1, 2):len())\n',
    'f"a" f[[b]] f{1, 2} f{} g "a" .. h "b"\n',
    'f"a" f{1, 2} f{} x = g "a" .. h "b" .. t.u"c" .. t:m"d" .. t:n{1} .. f{x = 1}\n',
    "print(f()(1), f(1)(2)(3), t[1](2), t.a.b(3), t.a:b(4), t[1]:m(5), f().g(6), (f)(7))\n",
    "print(string.format('%5.2f', 1), math.floor(2.5), table.concat({1, 2}, ','), os.time)\n",
    "print(math.pi, string.len, x.y.z, a.print, b.string.upper(1))\n",
    "function a.b.c:d(x, ...) return self, ... end\nfunction f(...) local a, b = ... end\n",
    "local function g(n) if n <= 1 then return 1 end return n * g(n - 1) end\nprint(g(5))\n",
    "local f = function(a) return function(b) return a + b end end\nprint(f(1)(2))\n",
    "for i = 10, 1, -1 do print(i) end\nfor k, v in pairs({a = 1}) do print(k, v) end\n",
    "repeat x = x - 1 until x <= 0\nwhile true do break end\ndo local y = 1 end\n",
    "x = 1; y = 2;; print(x // y, x % y, x ^ y, x & y, x | y, x << 1, x >> 1)\n",
    "print(0x1F, 0xA.8p1, 1e-3, 3e+2, .5, 5., 3 .. 4, 1 // 1)\n",
    "print(0x1F, 0Xff, 1e-3, 3E+2, .5, 5.25, 3 .. 4, 1 // 1, 0x10p-2, 12345678901234567890)\n",
    "print('a\\'b', \"c\\\"d\", 'e\\\\', \"\\x41\\65\\u{48}\", 'tab\\tnew\\nline', 'z\\z\n   z')\n",
    "print('a\\'b', \"c\\\"d\", 'e\\\\', \"\\x41\\65\\u{48}\\u{E9}\", 'tab\\tnew\\nline', 'z\\z   z', '--no', \"[x\")\n",
    "-- a comment\nx = 1 -- another\n--[[ long\ncomment ]] y = 2\nprint(x --[==[ inline ]==] + y)\n",
    "-- a comment\nx = 1 -- another -- and 'quote\ny = x - -- minus then comment\n 2\nprint(x, y) --\n",
    "local s = [[\nlong\n]] .. [==[ level ]==]\nprint(s)\n",
    "goto done\nprint(1)\n::done::\nlocal x <const> = 1\nlocal y < close > = nil\n",
    "#!/usr/bin/lua\nprint(1)\n",
    "a = b\n(print)(1)\n",
    "local global = 1\nprint(global)\n",
    'print(load("return 1")(), pcall(print, x), _G.x)\n',
    "print(\"héllo\", 'wörld')\n",
    "local t = setmetatable({}, {__index = function(t, k) return k end})\nprint(t.foo, t['bar'])\n",
]

# Constructs the fast path reads itself (the test above fails if one of them falls back to the walk).
FAST_PATH = [source for source in TRICKY if not any(marker in source for marker in (
    "[[", "[==[", "goto", "#!", "\n(print)", "local global", "héllo", "0xA.8p1", "\\z\n"))]


def assert_same(source: str) -> bool:
    """Asserts the fast and the walked tokens and renaming are equal; True if the fast path read them itself."""
    try:
        walked = WALK.program_tokens(source)
    except LuaSyntaxError:
        with pytest.raises(LuaSyntaxError):
            FAST.program_tokens(source)
        return False
    assert FAST.program_tokens(source) == walked, source
    assert FAST.renaming(source) == WALK.renaming(source), source
    style = FAST._style  # pylint: disable=protected-access
    style.start(source.encode())
    return lexical_tokens(source, style) is not None


def test_generated_programs_of_every_level_take_the_fast_path_with_the_walks_tokens():
    generator = project_generator()
    if generator is None:
        pytest.skip("jaxlua.lua.ProgramGenerator not available")
    from jaxlua.lua.generator import LEVELS  # pylint: disable=import-outside-toplevel

    for level in LEVELS:
        gen = generator(200 + level)
        fast = sum(assert_same(gen.sample(level)) for _ in range(60))
        assert fast == 60, f"level {level}: only {fast} of 60 generated programs took the fast path"


def test_handwritten_programs_and_hazards_give_the_walks_tokens():
    sources = [path.read_text(encoding="utf-8") for path in sorted(HANDWRITTEN_DIR.glob("*.lua"))]
    assert len(sources) >= 40
    fast = sum(assert_same(source) for source in sources)
    assert fast >= 0.9 * len(sources)  # the others use long brackets
    for source in HANDWRITTEN + CANONICAL_HAZARDS:
        assert_same(source)


@pytest.mark.parametrize("source", TRICKY)
def test_constructs_easy_to_misread_give_the_walks_tokens(source):
    assert_same(source)


def test_the_fast_path_falls_back_where_it_says():
    takes = [assert_same(source) for source in TRICKY]
    falls_back = {TRICKY[i] for i, fast in enumerate(takes) if not fast}
    for marker in ("--[[", "[[", "goto", "#!", "\n(print)", "local global", "héllo"):
        assert any(marker in source for source in falls_back), marker
    assert sum(takes) >= len(TRICKY) // 2
    assert all(takes[TRICKY.index(source)] for source in FAST_PATH), "a construct meant for the fast path fell back"


def test_wide_grammar_and_library_fuzz_give_the_walks_tokens():
    for seed in range(150):
        assert_same(MiniGenerator(seed).sample())
    rng = random.Random(3)
    for _ in range(100):
        assert_same(library_call_program(rng))


def test_renaming_past_the_cap_and_reflective_programs_match():
    many = "\n".join(f"local n{i} = {i}" for i in range(70)) + "\nprint(n0, n69, n68(1))\n"
    assert assert_same(many)
    assert assert_same("local a = 1\nprint(pcall(function() return a end))\n")


def test_respaced_programs_give_the_walks_tokens():
    """Generated programs with their lexemes joined by random separators (none, spaces, newlines, comments):
    whatever text results, valid or not, both paths agree on it."""
    from jaxlua.tokenize.lexical import _LEXEME  # pylint: disable=import-outside-toplevel

    generator = project_generator()
    if generator is None:
        pytest.skip("jaxlua.lua.ProgramGenerator not available")
    rng = random.Random(5)
    gen = generator(7)
    fast = valid = 0
    for index in range(200):
        lexemes = _LEXEME.findall(gen.sample(1 + index % 7))
        source = "".join(lexeme + rng.choice(["", " ", " ", "\n", "\t", " -- c\n"]) for lexeme in lexemes)
        try:
            WALK.program_tokens(source)
            valid += 1
        except LuaSyntaxError:
            pass
        fast += assert_same(source)
    assert valid >= 50 and fast >= 25, (valid, fast)


def test_mutated_programs_give_the_walks_tokens():
    """Characters of real programs deleted, doubled or replaced: where Lua 5.4 still compiles the text, both
    paths agree. (Tree-sitter's grammar accepts some text Lua rejects, such as `local n = x, or i = 1` with `or`
    read as a name; on such invalid programs the two may write different tokens.)"""
    from lupa import lua54  # pylint: disable=import-outside-toplevel

    load = lua54.LuaRuntime(encoding=None).globals().load
    compiled = 0
    corpus = HANDWRITTEN + [path.read_text(encoding="utf-8") for path in sorted(HANDWRITTEN_DIR.glob("*.lua"))]
    for text in mutated_programs(corpus, random.Random(0), 1500):
        loaded = load(text.encode("utf-8", "surrogateescape"))  # a function, or (nil, message)
        if not isinstance(loaded, tuple) and loaded is not None:
            compiled += 1
            assert_same(text)
    assert compiled >= 300, compiled
