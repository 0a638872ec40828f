"""TrainConfig validation, presets, JSON round trip and the resume comparison."""

from __future__ import annotations

import json

import pytest

from jaxlua.config import (CELLS, DIGIT_ORDERS, IDENTIFIER_STYLES, SCAN_METHODS, ModelConfig, TokenizerConfig,
                           model_names)
from jaxlua.train.config import PRESETS, TrainConfig, config_differences


def test_presets_validate_and_paper_matches_the_dissertation():
    for preset in PRESETS.values():
        preset.validate()
    paper = PRESETS["paper"]
    assert (paper.model.num_layers, paper.model.embed_dim, paper.model.hidden_dim) == (1, 500, 900)
    assert (paper.model.dropout, paper.label_smoothing, paper.weight_decay, paper.lr) == (0.5, 0.2, 1e-3, 9.9e-5)
    assert (paper.batch_size, paper.steps, paper.schedule) == (128, 3000, "plateau")
    assert (paper.plateau_factor, paper.plateau_patience) == (0.5, 10)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"cell": "foo"}, "unknown cell"),
        ({"hidden_dim": -1}, "hidden_dim must be positive"),
        ({"dropout": 1.0}, "dropout"),
        ({"schedule": "linear"}, "unknown schedule"),
        ({"curriculum": "random"}, "unknown curriculum"),
        ({"moe_top_k": 2, "num_experts": 1}, "moe_top_k"),
        ({"lr": 0.0}, "lr must be positive"),
        ({"warmup_steps": 50, "steps": 50}, "warmup_steps"),
        ({"attention": True, "hidden_dim": 30, "num_heads": 4}, "divisible"),
        ({"scan_method": "bogus"}, "unknown scan_method 'bogus'"),
        ({"dtype": "float16"}, "unknown dtype"),
        ({"tokenizer_mode": "bytes"}, "unknown tokenizer_mode"),
        ({"identifiers": "short"}, "unknown identifiers"),
        ({"digits": "reversed"}, "unknown digits"),
        ({"tokenizer_mode": "chars", "identifiers": "spelled"}, "semantic tokenizer mode only"),
        ({"max_len": 3}, "max_len"),
        ({"b2": 1.5}, "b2 must be in"),
    ],
)
def test_validate_names_the_bad_field(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes).validate()


def test_json_round_trip_and_differences():
    config = TrainConfig(cell="mingru", steps=7, data_dir="/x")
    assert TrainConfig.from_json(config.to_json()) == config
    assert config_differences(config, config.replace(data_dir="/elsewhere", log_interval=3)) == []
    assert config_differences(config, config.replace(lr=1.0)) == ["lr: saved 0.003, now 1.0"]
    with pytest.raises(ValueError, match="unknown TrainConfig fields: bogus"):
        TrainConfig.from_dict({"bogus": 1})


def test_every_field_is_validated_by_one_path():
    """Construction validates: an invalid config cannot exist, nested or flat."""
    with pytest.raises(ValueError, match="unknown scan_method"):
        TrainConfig().replace(scan_method="bogus")
    with pytest.raises(ValueError, match="unknown cell"):
        ModelConfig(cell="tcn")
    with pytest.raises(TypeError, match="unexpected field 'bogus'"):
        TrainConfig(bogus=1)


def test_nested_json_round_trip_and_flat_names():
    config = TrainConfig(model=ModelConfig(cell="gru", hidden_dim=8), tokenizer=TokenizerConfig(digits="lsd"), steps=9)
    assert config == TrainConfig(cell="gru", hidden_dim=8, digits="lsd", steps=9)
    assert json.loads(config.to_json())["model"]["cell"] == "gru"
    assert TrainConfig.from_json(config.to_json()) == config
    assert config.flat()["tokenizer_mode"] == "semantic" and config.flat()["hidden_dim"] == 8


def test_old_flat_config_json_is_converted():
    old = {"cell": "gru", "hidden_dim": 32, "tokenizer_mode": "chars", "max_len": 64, "steps": 60,
           "warmup_steps": 6, "lr": 0.01, "spell_identifiers": False}
    config = TrainConfig.from_dict(old)
    assert (config.model.cell, config.model.hidden_dim, config.model.max_len) == ("gru", 32, 64)
    assert config.tokenizer.mode == "chars" and config.warmup_steps is None and config.warmup == 6
    assert TrainConfig.from_dict({"spell_identifiers": True}).tokenizer.identifiers == "spelled"
    # A run of the flat era tokenized whole names: it keeps them although today's semantic default is canonical.
    assert TrainConfig.from_dict({"steps": 60}).tokenizer.identifier_style == "names"
    assert TrainConfig().tokenizer.identifier_style == "canonical"
    assert TrainConfig.from_dict({"steps": 60, "warmup_steps": 7}).warmup_steps == 7  # not the default rule


def test_growing_steps_is_no_difference_and_warmup_follows():
    saved = TrainConfig(steps=60)
    assert config_differences(saved, saved.replace(steps=120)) == []
    assert (saved.warmup, saved.replace(steps=120).warmup, saved.replace(steps=80).warmup) == (6, 100, 8)
    assert config_differences(saved, saved.replace(steps=30)) == ["steps: saved 60, now 30"]
    assert config_differences(saved, saved.replace(steps=120, cell="gru")) == ["cell: saved 'mingru', now 'gru'"]
    assert config_differences(saved, saved.replace(identifiers="spelled")) == [
        "identifiers: saved 'canonical', now 'spelled'"]
    # Unset means the semantic default: naming that default explicitly changes nothing.
    assert config_differences(saved, saved.replace(identifiers="canonical")) == []
    assert config_differences(saved.replace(identifiers="names"), saved) == [
        "identifiers: saved 'names', now 'canonical'"]


def test_registries_hold_the_names_once():
    assert CELLS.names() == ("rnn", "lstm", "gru", "mingru", "minlstm")
    assert "transformer" in model_names() and "transformer" not in CELLS
    assert SCAN_METHODS.names() == ("auto", "sequential", "associative", "heinsen", "pallas")
    assert (IDENTIFIER_STYLES.names(), DIGIT_ORDERS.names()) == (("names", "spelled", "canonical"), ("msd", "lsd"))
    assert all(CELLS.help(name) for name in CELLS)
