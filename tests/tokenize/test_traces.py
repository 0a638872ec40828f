"""Trace targets: compact step tokens, the cap, the split back into (trace, output), encode_dataset's layout."""
import numpy as np
import pytest

from jaxlua.lua.trace import TraceStep
from jaxlua.tokenize import OUT, STEP, TRACE_CUT, Tokenizer, encode_dataset, split_target
from tests.tokenize.lua_corpus import project_generator

SOURCE = "local total = 0\nfor i = 1, 2 do total = total + 10 * i end\nprint(total)\n"
TRACE = (TraceStep(1, (("total", "0"),)), TraceStep(2, (("i", "1"),)), TraceStep(2, ()),
         TraceStep(2, (("total", "10"), ("i", "2"))), TraceStep(3, (("total", "30"),)))
CHANGES = [[("total", "0")], [("i", "1")], [("total", "10"), ("i", "2")], [("total", "30")]]


def test_only_changes_are_written():
    tokens = Tokenizer().trace_tokens(TRACE)
    assert tokens == [STEP, "IDENTIFIER(total)", "EQUALS", "0",
                      STEP, "IDENTIFIER(i)", "EQUALS", "1",
                      STEP, "IDENTIFIER(total)", "EQUALS", "1", "0", "IDENTIFIER(i)", "EQUALS", "2",
                      STEP, "IDENTIFIER(total)", "EQUALS", "3", "0"]
    assert Tokenizer().decode_trace(tokens) == CHANGES


@pytest.mark.parametrize("settings", [dict(), dict(identifiers="spelled"), dict(digits="lsd"),
                                      dict(identifiers="spelled", digits="lsd")])
def test_decode_trace_inverts_names_and_spelled(settings):
    tokenizer = Tokenizer(**settings)
    trace = TRACE + (TraceStep(4, (("_ENV.total", "-120.5"), ("s", "a b=c"), ("e", ""))),)
    tokens = tokenizer.trace_tokens(trace)
    assert tokenizer.decode_trace(tokens) == CHANGES + [[("_ENV.total", "-120.5"), ("s", "a b=c"), ("e", "")]]
    written = "-021.5" if settings.get("digits") == "lsd" else "-120.5"
    assert any(tokens[i:i + 7] == ["EQUALS", *written] for i in range(len(tokens)))


def test_canonical_trace_names_match_the_program():
    tokenizer = Tokenizer(identifiers="canonical")
    program = tokenizer.program_tokens(SOURCE)
    tokens = tokenizer.trace_tokens(TRACE, SOURCE)
    assert "IDENTIFIER(v1)" in program and tokens[:4] == [STEP, "IDENTIFIER(v1)", "EQUALS", "0"]
    assert tokens[4:6] == [STEP, "IDENTIFIER(v2)"]
    other = tokenizer.trace_tokens(TRACE, "local i, total = 0, 0\n")  # another program: its own renaming
    assert other[:2] == [STEP, "IDENTIFIER(v2)"]
    with pytest.raises(ValueError, match="needs the program's source"):
        tokenizer.trace_tokens(TRACE)


def test_cap_cuts_at_a_step_boundary():
    tokenizer = Tokenizer()
    full = tokenizer.trace_tokens(TRACE)
    cut = tokenizer.trace_tokens(TRACE, max_tokens=10)
    assert cut == full[:8] + [TRACE_CUT] and len(cut) <= 10
    assert tokenizer.trace_tokens(TRACE, cut=True) == full + [TRACE_CUT]
    assert tokenizer.decode_trace(cut) == CHANGES[:2]
    with pytest.raises(ValueError, match="max_tokens"):
        tokenizer.trace_tokens(TRACE, max_tokens=0)


def test_json_forms_and_bad_steps():
    tokenizer = Tokenizer()
    as_lists = [[s.line, [list(c) for c in s.changes]] for s in TRACE]
    as_dicts = [{"line": s.line, "changes": [list(c) for c in s.changes]} for s in TRACE]
    assert tokenizer.trace_tokens(as_lists) == tokenizer.trace_tokens(as_dicts) == tokenizer.trace_tokens(TRACE)
    with pytest.raises(ValueError, match="trace step 1"):
        tokenizer.trace_tokens([[1, [["x", "1"]]], [2, [["x", 5]]]])


def test_split_target():
    tokenizer = Tokenizer()
    target = tokenizer.target_tokens("30\n", TRACE)
    trace, output = split_target(target)
    assert trace == tokenizer.trace_tokens(TRACE) and tokenizer.decode_output(output) == "30\n"
    assert split_target(list("30\n")) == ([], list("30\n"))  # an output-only target
    assert split_target([STEP, "IDENTIFIER(x)", "EQUALS", "1"]) == ([STEP, "IDENTIFIER(x)", "EQUALS", "1"], [])
    assert split_target([OUT, "1", "\n"]) == ([], ["1", "\n"])  # a program that changed nothing
    assert tokenizer.target_tokens("1\n") == ["1", "\n"]


def test_encode_dataset_trace_targets(tmp_path):
    tokenizer = Tokenizer()
    records = [{"id": "a", "source": SOURCE, "stdout": "30\n", "level": 2, "trace": list(TRACE)},
               {"id": "b", "source": "print(1)", "stdout": "1\n", "level": 1, "trace": [],
                "trace_truncated": True}]
    vocab = tokenizer.build_vocabulary([tokenizer.program_tokens(r["source"]) for r in records], traces=True)
    plain = encode_dataset(records, tokenizer, vocab, max_len=80, cache_dir=tmp_path)
    np.testing.assert_array_equal(plain.answer_start, plain.output_start)
    ds = encode_dataset(records, tokenizer, vocab, max_len=80, cache_dir=tmp_path, targets="trace_output")
    assert len(ds) == 2 and len(list(tmp_path.glob("*.npz"))) == 2
    for row, record in enumerate(records):
        tokens = vocab.decode(ds.tokens[row, :ds.lengths[row]])
        target = tokens[ds.output_start[row]:-1]
        trace, output = split_target(target)
        assert tokenizer.decode_output(output) == record["stdout"]
        assert tokens[ds.answer_start[row] - 1] == OUT
        assert tokenizer.decode_output(tokens[ds.answer_start[row]:-1]) == record["stdout"]
    assert vocab.decode(ds.tokens[1, ds.output_start[1]:ds.answer_start[1]]) == [TRACE_CUT, OUT]
    again = encode_dataset(records, tokenizer, vocab, max_len=80, cache_dir=tmp_path, targets="trace_output")
    np.testing.assert_array_equal(again.answer_start, ds.answer_start)
    assert len(list(tmp_path.glob("*.npz"))) == 2  # served from the cache
    with pytest.raises(ValueError, match="has no trace"):
        encode_dataset([dict(records[0], trace=None)], tokenizer, vocab, max_len=80, targets="trace_output")
    with pytest.raises(ValueError, match="targets must be one of"):
        encode_dataset(records, tokenizer, vocab, max_len=80, targets="trace")


def test_real_traces_of_generated_programs():
    """Traces recorded by real Lua encode, decode to the same changes, and split off the output."""
    from jaxlua.lua import LuaSandbox

    generator = project_generator()
    if generator is None:
        pytest.skip("jaxlua.lua.ProgramGenerator not available")
    sandbox = LuaSandbox()
    for settings in (dict(), dict(identifiers="spelled", digits="lsd"), dict(identifiers="canonical")):
        tokenizer = Tokenizer(**settings)
        for seed in range(40):
            source = generator(seed).sample(1 + seed % 7)
            result = sandbox.run(source, trace=True)
            assert result.status == "ok" and result.trace is not None
            target = tokenizer.target_tokens(result.stdout, result.trace, source, max_trace_tokens=100_000,
                                             trace_cut=result.trace_truncated)
            trace, output = split_target(target)
            assert tokenizer.decode_output(output) == result.stdout
            renaming = tokenizer.renaming(source)  # empty unless canonical

            def written(name):
                scope, dot, rest = name.rpartition(".")
                return f"{scope}{dot}{renaming.get(rest, rest)}"

            expected = [[(written(n), v) for n, v in step.changes] for step in result.trace if step.changes]
            assert tokenizer.decode_trace(trace) == expected
