"""Under the training default (semantic, canonical identifiers) no valid Lua program encodes to <UNK>, whatever
programs the vocabulary was built from: every name of the standard library, Lua's attributes, the control and
bytes above 127 of string literals and v1..v64 are reserved; later canonical names are spelled, and text beyond
ASCII in a string is written as its UTF-8 bytes."""
import logging
import pathlib
import random

import pytest

from jaxlua.tokenize import Tokenizer, Vocabulary, lua_library, render_program
from tests.tokenize.lua_corpus import CANONICAL_HAZARDS, HANDWRITTEN, MiniGenerator, project_generator

CANONICAL = Tokenizer("semantic", identifiers="canonical")
HANDWRITTEN_DIR = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "handwritten"
# The libraries whose functions a program of the project can call (io/os/debug are reserved too, but calling
# them at random would touch the file system).
FUZZ_LIBRARIES = ("string", "table", "math", "utf8", "coroutine")
ESCAPES = ("\\0", "\\a", "\\1\\2", "\\127", "\\200\\255", "\\27[0m")  # Lua escapes: controls, raw bytes


def one_level_vocabulary(tokenizer: Tokenizer, level: int = 1, count: int = 200) -> Vocabulary:
    """A vocabulary built by the tokenizer from `count` generated programs of one level."""
    generator = project_generator()
    if generator is None:
        pytest.skip("jaxlua.lua.ProgramGenerator not available")
    gen = generator(level)
    return tokenizer.build_vocabulary(tokenizer.program_tokens(gen.sample(level)) for _ in range(count))


@pytest.fixture(scope="module")
def vocab():
    return one_level_vocabulary(CANONICAL)


def unknown(tokenizer: Tokenizer, vocab: Vocabulary, source: str) -> list[str]:
    return [t for t in tokenizer.program_tokens(source) if t not in vocab]


def library_call_program(rng: random.Random) -> str:
    """A random program calling standard-library functions in every form: dotted, as values, as methods of a
    string and of a table, and through variables that were first defined as functions."""
    lines = []
    for _ in range(rng.randint(1, 4)):  # the program's first names are functions: FUNCTION_CALL(v1), v2, ...
        lines.append(f"local function f{len(lines)}(a, b) return a end")
    for _ in range(12):
        library = rng.choice(FUZZ_LIBRARIES)
        member = rng.choice(lua_library.MEMBERS[library])
        method = rng.choice(sorted(lua_library.LIBRARY_NAMES))
        lines.append(rng.choice([
            f'print(pcall({library}.{member}, "a%d", 1, 2))',
            f"local g = {library}.{member}",
            f'local s = "abc" print(s:{rng.choice(lua_library.METHODS)}("b"), ("x"):{member}(1))',
            f"local t = {{}} t:{method}(1)",
            f"print({rng.choice(lua_library.GLOBALS)})",
            f"f0({rng.choice(lua_library.GLOBALS)}, {library})",
            f"local x <{rng.choice(('const', 'close'))}> = nil",
            'print("' + rng.choice(ESCAPES) + '")',
        ]))
    return "\n".join(lines) + "\n"


def test_generated_programs_of_every_level_encode_without_unk(vocab):
    generator = project_generator()
    for level in range(1, 8):
        gen = generator(100 + level)
        for _ in range(60):
            source = gen.sample(level)
            assert unknown(CANONICAL, vocab, source) == [], (level, source)


def test_handwritten_programs_encode_without_unk(vocab):
    sources = [path.read_text(encoding="utf-8") for path in sorted(HANDWRITTEN_DIR.glob("*.lua"))]
    assert len(sources) >= 40
    assert all(source.isascii() for source in sources)
    for source in sources + HANDWRITTEN + CANONICAL_HAZARDS:
        assert unknown(CANONICAL, vocab, source) == [], source


def test_fuzzed_library_calls_encode_without_unk(vocab):
    rng = random.Random(0)
    for _ in range(300):
        source = library_call_program(rng)
        assert unknown(CANONICAL, vocab, source) == [], source


def test_wide_grammar_programs_encode_without_unk(vocab):
    for seed in range(200):
        source = MiniGenerator(seed).sample()
        try:
            tokens = CANONICAL.program_tokens(source)
        except Exception:  # noqa: BLE001 - the mini generator can write programs that do not parse
            continue
        assert [t for t in tokens if t not in vocab] == [], source


def test_the_reservations_cover_each_form_of_a_library_name():
    reserved = set(CANONICAL.reserved_tokens())
    for library, members in lua_library.MEMBERS.items():
        for member in members:
            assert f"FUNCTION_CALL({library}.{member})" in reserved
            assert f"IDENTIFIER({member})" in reserved and f"METHOD_CALL({member})" in reserved
    for name in lua_library.GLOBALS:
        assert f"FUNCTION_CALL({name})" in reserved and f"IDENTIFIER({name})" in reserved
    assert {"FUNCTION_CALL(v1)", "FUNCTION_CALL(v64)", "IDENTIFIER(v64)", "ATTRIBUTE(const)", "ATTRIBUTE(close)",
            "\0", "\x7f", "\udcff"} <= reserved
    assert "FUNCTION_CALL(v65)" not in reserved
    assert set(Tokenizer("semantic", identifiers="spelled").reserved_tokens()) >= {"ATTRIBUTE(const)", "\0"}


def test_calls_past_the_cap_are_spelled_from_reserved_tokens(vocab):
    source = "\n".join(f"local function f{i}() return {i} end" for i in range(70)) + "\nprint(f0(), f69())\n"
    tokens = CANONICAL.program_tokens(source)
    assert "FUNCTION_CALL(v1)" in tokens and "FUNCTION_CALL(v64)" not in tokens  # v64 is defined, never called
    tail = tokens[tokens.index("FUNCTION_CALL(print)"):]
    assert tail == ["FUNCTION_CALL(print)", "FUNCTION_CALL(v1)", "CALL_END", "COMMA", "NAME", "v", "7", "0", "CALL",
                    "CALL_END", "CALL_END"]
    assert [t for t in tokens if t not in vocab] == []
    assert "v70()" in render_program(tokens).replace(" ", "")


def test_control_and_raw_bytes_in_strings_round_trip(vocab):
    source = 'print("\\0\\a\\27[1m\\127\\200\\255")\n'
    tokens = CANONICAL.program_tokens(source)
    assert [t for t in tokens if t not in vocab] == []
    assert CANONICAL.program_tokens(render_program(tokens)) == tokens


def test_an_old_vocabulary_still_loads_and_says_what_it_lacks_in_one_line(tmp_path, caplog):
    programs = ["local function f(x) return x end\nprint(f(1))\n", 'print(("a"):upper())\n']
    old = Vocabulary.build(CANONICAL.program_tokens(s) for s in programs)  # the stream's builder before
    assert "FUNCTION_CALL(string.gmatch)" not in old
    old.save(tmp_path / "vocab.json")
    with caplog.at_level(logging.WARNING):
        loaded = CANONICAL.load_vocabulary(tmp_path / "vocab.json")
    assert loaded == old
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "lacks" in lines[0] and "\n" not in lines[0]
    assert loaded.encode(CANONICAL.program_tokens(programs[0])) == old.encode(CANONICAL.program_tokens(programs[0]))
    caplog.clear()
    new = CANONICAL.build_vocabulary(CANONICAL.program_tokens(s) for s in programs)
    new.save(tmp_path / "new.json")
    with caplog.at_level(logging.WARNING):
        CANONICAL.load_vocabulary(tmp_path / "new.json")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert CANONICAL.missing_reserved(new) == []


def test_the_stream_vocabulary_holds_the_reserved_tokens():
    from jaxlua.data.stream import StreamConfig, open_stream

    config = StreamConfig(levels=(1,), batch_size=4, sort_window=2, heldout_per_level=5, vocab_per_level=10,
                          workers=1, buffer_batches=2)
    with open_stream(config, CANONICAL, progress=False) as stream:
        assert stream.tokenizer.missing_reserved(stream.vocab) == []
        assert stream.vocab.settings == CANONICAL.settings()


def test_bench_data_tokenizer_report_splits_parse_and_the_rest():
    from experiments.bench_data import tokenizer_report

    records = [('local x = 1\nprint(x + 2)\n', "3\n"), ('print(("a"):upper())\n', "A\n"), ("--[[ c ]] print(1)\n", "1\n")]
    report = tokenizer_report(records, repeats=1)
    for name in ("canonical", "canonical_walk", "names"):
        row = report[name]
        assert row["programs_per_s"] > 0 and row["parse_us_per_program"] > 0
        assert row["us_per_program"] == pytest.approx(row["parse_us_per_program"] + row["rest_us_per_program"], abs=0.2)
    assert report["canonical"]["fast_path_share"] == pytest.approx(2 / 3, abs=1e-3)  # a long comment falls back
    assert report["canonical"]["mean_program_tokens"] == report["canonical_walk"]["mean_program_tokens"]
    assert report["fast_path_speedup"] > 0


def test_text_beyond_ascii_in_strings_is_written_as_bytes(vocab):
    from jaxlua.lua import run_lua  # pylint: disable=import-outside-toplevel

    rng = random.Random(1)
    alphabet = "aé€ü中文😀\u00a0ß"
    for _ in range(40):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        for source in (f'print("{text}", #"{text}")\n', 'print("\\u{20AC}\\u{1F600}" .. "' + text + '")\n'):
            tokens = CANONICAL.program_tokens(source)
            assert [t for t in tokens if t not in vocab] == [], source
            assert all(len(t) > 1 or ord(t) < 0x80 or 0xDC80 <= ord(t) <= 0xDCFF for t in tokens), source
            rendered = render_program(tokens)
            assert run_lua(rendered).stdout == run_lua(source).stdout, (source, rendered)
            assert CANONICAL.program_tokens(rendered) == tokens
    # The names style keeps one token per code point (its vocabulary is open by design).
    assert "é" in Tokenizer("semantic").program_tokens('print("é")')
