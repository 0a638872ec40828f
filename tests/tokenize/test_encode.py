"""encode_dataset: array layout BOS program SEP output EOS PAD, drop/truncate report, on-disk cache."""
import numpy as np
import pytest

from jaxlua.tokenize import EncodedDataset, Tokenizer, Vocabulary, encode_dataset

RECORDS = [
    {"id": "a", "source": "print(1)", "stdout": "1\n", "level": 1, "branches": 0, "steps": 3},
    {"id": "b", "source": "print('hello world')", "stdout": "hello world\n", "level": 2, "branches": 0, "steps": 3},
    {"id": "c", "source": "print(", "stdout": "", "level": 1, "branches": 0, "steps": 0},
    {"id": "d", "source": "x = 1 " * 40 + "print(x)", "stdout": "1\n", "level": 3, "branches": 0, "steps": 90},
]


@pytest.fixture
def setup():
    tokenizer = Tokenizer("semantic")
    vocab = Vocabulary.build([tokenizer.program_tokens(r["source"]) + tokenizer.output_tokens(r["stdout"])
                              for r in RECORDS[:2]])
    return tokenizer, vocab


def test_layout_and_report(setup):
    tokenizer, vocab = setup
    ds = encode_dataset(RECORDS, tokenizer, vocab, max_len=40)
    assert isinstance(ds, EncodedDataset) and len(ds) == 2
    assert ds.ids == ["a", "b"]
    assert ds.tokens.dtype == np.int32 and ds.tokens.shape == (2, 40)
    for arr in (ds.lengths, ds.output_start, ds.level):
        assert arr.dtype == np.int32 and arr.shape == (2,)
    np.testing.assert_array_equal(ds.level, [1, 2])
    for row, record in enumerate(RECORDS[:2]):
        n, start = ds.lengths[row], ds.output_start[row]
        tokens = vocab.decode(ds.tokens[row, :n])
        assert tokens[0] == "<BOS>" and tokens[start - 1] == "<PROGRAM END>" and tokens[-1] == "<EOS>"
        assert tokens[1:start - 1] == tokenizer.program_tokens(record["source"])
        assert tokenizer.decode_output(tokens[start:-1]) == record["stdout"]
        assert (ds.tokens[row, n:] == vocab.pad_id).all()
    assert ds.report == {"total": 4, "kept": 2, "truncated": 0, "dropped_too_long": 0,
                         "dropped_program_too_long": 1, "dropped_syntax_error": 1}


def test_too_long_outputs_drop_or_truncate(setup):
    tokenizer, vocab = setup
    record = dict(RECORDS[1], stdout="hello world\n" * 5)
    dropped = encode_dataset([record], tokenizer, vocab, max_len=30)
    assert len(dropped) == 0 and dropped.report["dropped_too_long"] == 1
    cut = encode_dataset([record], tokenizer, vocab, max_len=30, overflow="truncate")
    assert len(cut) == 1 and cut.report["truncated"] == 1
    assert cut.lengths[0] == 30 and vocab.eos_id not in cut.tokens[0]


def test_cache_reuses_and_keys_on_inputs(setup, tmp_path, monkeypatch):
    tokenizer, vocab = setup
    first = encode_dataset(RECORDS, tokenizer, vocab, max_len=40, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("tokenized again despite the cache")

    monkeypatch.setattr(tokenizer, "program_tokens", fail)
    second = encode_dataset(RECORDS, tokenizer, vocab, max_len=40, cache_dir=tmp_path)
    for name in ("tokens", "lengths", "output_start", "level"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert second.ids == first.ids and second.report == first.report
    monkeypatch.undo()
    encode_dataset(RECORDS, tokenizer, vocab, max_len=41, cache_dir=tmp_path)
    encode_dataset(RECORDS[:2], tokenizer, vocab, max_len=40, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_bad_arguments(setup):
    tokenizer, vocab = setup
    with pytest.raises(ValueError, match="max_len"):
        encode_dataset(RECORDS, tokenizer, vocab, max_len=2)
    with pytest.raises(ValueError, match="overflow"):
        encode_dataset(RECORDS, tokenizer, vocab, max_len=40, overflow="wrap")
    with pytest.raises(ValueError, match="stdout"):
        encode_dataset([{"id": "x", "source": "print(1)"}], tokenizer, vocab, max_len=40)


def test_end_to_end_on_generated_records(tmp_path):
    """Generated programs + sandbox stdout -> records -> train-only vocabulary -> arrays, every mode."""
    from tests.tokenize.lua_corpus import project_generator, run_lua_stdout

    generator = project_generator()
    if generator is None:
        pytest.skip("jaxlua.lua.ProgramGenerator not available")
    records = []
    for seed in range(60):
        source = generator(seed).sample(1 + seed % 3)
        status, stdout = run_lua_stdout(source)
        records.append({"id": str(seed), "source": source, "stdout": stdout, "level": 1 + seed % 3})
    train, test = records[:40], records[40:]
    tokenizers = [Tokenizer("semantic"), Tokenizer("semantic", spell_identifiers=True), Tokenizer("paper"),
                  Tokenizer("chars")]
    for tokenizer in tokenizers:
        vocab = Vocabulary.build([tokenizer.program_tokens(r["source"]) + tokenizer.output_tokens(r["stdout"])
                                  for r in train])
        ds = encode_dataset(test, tokenizer, vocab, max_len=4096, cache_dir=tmp_path)
        assert len(ds) == len(test) and ds.report["kept"] == len(test)
        if tokenizer.mode == "paper":
            continue
        for row, record in enumerate(test):
            out = vocab.decode(ds.tokens[row, ds.output_start[row]:ds.lengths[row] - 1])
            assert tokenizer.decode_output(out) == record["stdout"]
            program = tokenizer.program_tokens(record["source"])
            unknown = [t for t in program if vocab.token_id(t) == vocab.unk_id]
            # Literals and characters are always representable; only whole-name tokens can be new.
            assert all(t.startswith(("IDENTIFIER(", "FUNCTION_CALL(", "METHOD_CALL(")) for t in unknown), unknown
            if tokenizer.spell_identifiers or tokenizer.mode == "chars":
                assert not unknown
    assert len(list(tmp_path.glob("*.npz"))) == len(tokenizers)


def test_every_mode_keeps_the_same_records(setup):
    _, _ = setup
    kept = {}
    for mode in ("semantic", "paper", "chars"):
        tokenizer = Tokenizer(mode)
        vocab = Vocabulary.build([tokenizer.program_tokens(r["source"]) for r in RECORDS[:2]])
        ds = encode_dataset(RECORDS[:3], tokenizer, vocab, max_len=400)
        kept[mode] = (ds.ids, ds.report["dropped_syntax_error"])
    assert kept["semantic"] == kept["paper"] == kept["chars"] == (["a", "b"], 1)


def test_cache_keys_on_tokenizer_settings(tmp_path):
    """Same records and vocabulary, other settings: a separate cache entry with the other encoding."""
    records = [dict(RECORDS[0], stdout="120\n")]
    encoded = {}
    for digits in ("msd", "lsd"):
        tokenizer = Tokenizer("semantic", digits=digits)
        vocab = Tokenizer().build_vocabulary([tokenizer.program_tokens(records[0]["source"])])
        ds = encode_dataset(records, tokenizer, vocab, max_len=40, cache_dir=tmp_path)
        encoded[digits] = tokenizer.decode_output(vocab.decode(ds.tokens[0, ds.output_start[0]:ds.lengths[0] - 1]))
        assert vocab.decode(ds.tokens[0, ds.output_start[0]:ds.output_start[0] + 3]) == list(
            "120" if digits == "msd" else "021")
    assert encoded == {"msd": "120\n", "lsd": "120\n"}
    assert len(list(tmp_path.glob("*.npz"))) == 2
