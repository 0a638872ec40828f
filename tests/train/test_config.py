"""TrainConfig validation, presets, JSON round trip and the resume comparison."""

from __future__ import annotations

import pytest

from jaxlua.train.config import PRESETS, TrainConfig, config_differences


def test_presets_validate_and_paper_matches_the_dissertation():
    for preset in PRESETS.values():
        preset.validate()
    paper = PRESETS["paper"]
    assert (paper.num_layers, paper.embed_dim, paper.hidden_dim) == (1, 500, 900)
    assert (paper.dropout, paper.label_smoothing, paper.weight_decay, paper.lr) == (0.5, 0.2, 1e-3, 9.9e-5)
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
