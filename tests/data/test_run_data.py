"""jaxlua.data.run_data: the tokenizer's own vocabulary (reserved tokens, settings), one-line errors for data a
run cannot use, and the split an evaluation opens. JAX-free and fast: no model is built."""
from __future__ import annotations

import shutil

import pytest

from jaxlua.config import DEFAULT
from jaxlua.data.splits import DatasetError
from jaxlua.tokenize import Tokenizer
from jaxlua.data.run_data import SplitError, eval_split, prepare_data
from tests.train.lua_data import PROGRAMS, write_dataset


def test_canonical_vocabulary_reserves_library_names_and_records_its_settings(tmp_path):
    data = write_dataset(tmp_path / "data")
    config = DEFAULT.replace(identifiers="canonical")
    vocab_path = tmp_path / "vocab.json"
    prepared = prepare_data(config, data, vocab_path=vocab_path)
    tokenizer = prepared.tokenizer
    assert tokenizer.identifiers == "canonical"
    assert prepared.vocab.settings == tokenizer.settings()
    assert set(tokenizer.reserved_tokens()) <= set(prepared.vocab.tokens)
    assert len(tokenizer.reserved_tokens()) > len(Tokenizer().reserved_tokens())  # library names on top
    assert len(prepared.train) == len(PROGRAMS) - 1

    prepared.vocab.save(vocab_path)  # as the training loop does; a resumed run reloads it
    again = prepare_data(config, data, vocab_path=vocab_path)
    assert again.vocab.tokens == prepared.vocab.tokens
    with pytest.raises(ValueError, match="identifiers=canonical"):
        prepare_data(DEFAULT.replace(identifiers="spelled"), data, vocab_path=vocab_path)


def test_empty_split_is_a_dataset_error(tmp_path):
    data = write_dataset(tmp_path / "data", empty="val")
    with pytest.raises(DatasetError, match=r"val\.jsonl holds no program"):
        prepare_data(DEFAULT, data)


def test_nothing_fits_names_the_drops_and_the_shortest_sequence(tmp_path):
    data = write_dataset(tmp_path / "data")
    with pytest.raises(DatasetError) as caught:
        prepare_data(DEFAULT.replace(max_len=4), data)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("no train program fits max_len=4: all 4 programs were dropped (")
    assert "1 that do not parse" in message
    shortest = int(message.split("the shortest sequence is ")[1].split()[0])
    # the length it names is exact: one less keeps nothing, that length keeps a program
    with pytest.raises(DatasetError, match="no train program fits"):
        prepare_data(DEFAULT.replace(max_len=shortest - 1), data)
    kept = prepare_data(DEFAULT.replace(max_len=shortest), data)
    assert len(kept.train) >= 1 and int(kept.train.lengths.max()) == shortest


def test_nothing_parses_is_said_so(tmp_path):
    data = write_dataset(tmp_path / "data", programs=[PROGRAMS[-1]])
    with pytest.raises(DatasetError, match="no program parses"):
        prepare_data(DEFAULT, data)


def fixed_config(data):
    return DEFAULT.replace(stream=False, curriculum="none", data_dir=str(data))


def test_eval_split_names_another_dataset_and_reads_all_splits(tmp_path):
    data = write_dataset(tmp_path / "data")
    config = fixed_config(data)
    prepared = prepare_data(config, data)
    own = eval_split(config, prepared.tokenizer, prepared.vocab, "test", tmp_path)
    assert own.other_dataset is None and own.source == str(data) and len(own.dataset) == len(PROGRAMS) - 1
    assert own.dataset.tokens.tolist() == prepared.test.tokens.tolist()
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)  # the same programs under another name: still the run's own dataset
    assert eval_split(config, prepared.tokenizer, prepared.vocab, "val", tmp_path, copy).other_dataset is None
    other = write_dataset(tmp_path / "other", programs=PROGRAMS[1:])
    named = eval_split(config, prepared.tokenizer, prepared.vocab, "all", tmp_path, other)
    assert named.other_dataset.startswith("other-") and named.fingerprint.startswith(named.other_dataset[6:])
    assert len(named.records) == 3 * (len(PROGRAMS) - 1)
    with pytest.raises(DatasetError, match="holds no program in any split"):
        eval_split(config, prepared.tokenizer, prepared.vocab, "all", tmp_path,
                   write_dataset(tmp_path / "empty", programs=[]))


def test_a_stream_run_has_no_train_split_to_evaluate(tmp_path):
    tokenizer = Tokenizer()
    with pytest.raises(SplitError, match="a stream run has no fixed train split; use one of val, test"):
        eval_split(DEFAULT, tokenizer, None, "train", tmp_path)  # refused before any stream opens
