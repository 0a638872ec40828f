"""jaxlua.train.inputs: the tokenizer's own vocabulary (reserved tokens, settings) and one-line errors for data a
run cannot use. JAX-free and fast: no model is built."""
from __future__ import annotations

import pytest

from jaxlua.config import DEFAULT
from jaxlua.data.splits import DatasetError
from jaxlua.tokenize import Tokenizer
from jaxlua.train.inputs import prepare_data
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
