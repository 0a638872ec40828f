"""TrainConfig and EvalConfig validation, presets, JSON round trip, old formats and the resume comparison."""

from __future__ import annotations

import dataclasses
import json

import pytest

from jaxlua.config import (CELLS, DIGIT_ORDERS, EVALUATE, IDENTIFIER_STYLES, SCAN_METHODS, EvalConfig, FieldError,
                           ModelConfig, TokenizerConfig, model_names)
from jaxlua.config.migration import nested_from_flat_v0
from jaxlua.train.config import PRESETS, TrainConfig
from jaxlua.train.resume_rules import config_differences


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


@pytest.mark.parametrize("changes, field", [
    ({"limit": 0}, "limit"),
    ({"num_samples": -1}, "num_samples"),
    ({"num_samples": 5, "temperature": 0.0}, "temperature"),
    ({"batch_size": 0}, "batch_size"),
    ({"max_new_tokens": 0}, "max_new_tokens"),
    ({"latency_programs": -1}, "latency_programs"),
    ({"split": "dev"}, "split"),
])
def test_eval_config_names_the_bad_field(changes, field):
    with pytest.raises(FieldError) as caught:
        EvalConfig(**changes)
    assert caught.value.field == field and str(caught.value).startswith(f"{field} ")


def test_eval_config_defaults_and_the_evaluate_preset():
    assert EvalConfig(num_samples=0, temperature=0.0).temperature == 0.0  # greedy needs no temperature
    assert EvalConfig().decoding(run_seed=7)["seed"] == 7 and EVALUATE.decoding(run_seed=7)["seed"] == 0
    assert (EVALUATE.num_samples, EVALUATE.batch_size, EvalConfig().num_samples, EvalConfig().batch_size) == (
        10, 32, 0, 64)
    assert EvalConfig().flat() == {f.name: getattr(EvalConfig(), f.name) for f in dataclasses.fields(EvalConfig)}


def test_an_old_flat_config_converts_by_the_migration_rules_alone():
    nested = nested_from_flat_v0({"cell": "gru", "steps": 60, "warmup_steps": 6, "spell_identifiers": True},
                                 {"cell": ("model", "cell")}, lambda steps: steps // 10, 1200)
    assert nested == {"model": {"cell": "gru"}, "tokenizer": {"identifiers": "spelled"}, "steps": 60,
                      "warmup_steps": None}


def test_the_config_package_keeps_one_concept_per_module():
    import pathlib  # pylint: disable=import-outside-toplevel

    package = pathlib.Path(EvalConfig.__module__.replace(".", "/")).parent
    root = pathlib.Path(__file__).resolve().parents[2]
    for path in (root / package).glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 400, path
