"""experiments/train.py rejects bad flags and bad data before any compute: one line on stderr, exit code 2."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--cell=foo", "unknown cell 'foo'"),
        ("--hidden_dim=-3", "hidden_dim must be positive"),
        ("--workdir=/etc/hostname/run", "is not a directory"),
        ("--data_dir=/nonexistent/data", "has no train.jsonl"),
        ("--schedule=linear", "unknown schedule"),
        ("--scan_method=bogus", "unknown scan_method 'bogus'"),
        ("--dtype=float16", "unknown dtype"),
        ("--identifiers=short", "unknown identifiers"),
        ("--tokenizer_mode=chars --spell_identifiers", "semantic tokenizer mode only"),
        ("--hidden_dim=abc", "hidden_dim"),
        ("--no_such_flag=1", "no_such_flag"),
        ("--preset=huge", "unknown preset 'huge'"),
    ],
)
def test_bad_flag_is_one_line_and_exit_2(flag, message, tmp_path):
    args = [sys.executable, "-m", "experiments.train", *flag.split()]
    if not flag.startswith("--workdir"):
        args.append(f"--workdir={tmp_path / 'run'}")
    done = subprocess.run(
        args,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "run").exists()


def test_flags_override_the_preset():
    import dataclasses  # pylint: disable=import-outside-toplevel
    import types  # pylint: disable=import-outside-toplevel

    from experiments import train as train_script  # pylint: disable=import-outside-toplevel
    from jaxlua.train.config import TrainConfig  # pylint: disable=import-outside-toplevel

    values = types.SimpleNamespace(**{name: None for name in TrainConfig().flat()})
    values.preset, values.cell, values.steps = "default", "mingru", 5
    assert train_script.config_from_flags(values).warmup == 0  # a tenth of the short --steps
    values.preset = "paper"
    config = train_script.config_from_flags(values)
    assert (config.model.cell, config.steps, config.model.hidden_dim, config.lr) == ("mingru", 5, 900, 9.9e-5)
    values.spell_identifiers = True
    assert train_script.config_from_flags(values).tokenizer.identifiers == "spelled"


def test_every_config_setting_is_a_flag():
    from experiments import train as train_script  # pylint: disable=import-outside-toplevel
    from jaxlua.train.config import TrainConfig  # pylint: disable=import-outside-toplevel

    for name in [*TrainConfig().flat(), "identifiers", "digits", "spell_identifiers"]:
        assert name in train_script.FLAGS, name
    assert "bogus" not in train_script.FLAGS["scan_method"].help and "heinsen" in train_script.FLAGS["scan_method"].help


def test_checkpoints_without_config_are_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "val", "test"):
        (data / f"{split}.jsonl").write_text("")
    (data / "meta.json").write_text("{}")
    run = tmp_path / "run"
    (run / "checkpoints" / "10").mkdir(parents=True)
    (run / "checkpoints" / "10" / "state").write_text("x")
    done = subprocess.run([sys.executable, "-m", "experiments.train", f"--workdir={run}", f"--data_dir={data}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
                          env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "holds checkpoints but no config.json" in lines[0], done.stderr
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints"]


def _break_train_line(data: pathlib.Path) -> None:
    with (data / "train.jsonl").open("a", encoding="utf-8") as file:
        file.write("{not json\n")


@pytest.mark.parametrize(
    "damage, flags, message",
    [
        (_break_train_line, [], "train.jsonl:5: not a JSON record"),
        (lambda data: (data / "test.jsonl").unlink(), [], "no test split at"),
        (lambda data: (data / "val.jsonl").write_text(""), [], "val.jsonl holds no program"),
        (lambda data: None, ["--max_len=4"], "no train program fits max_len=4: all 4 programs were dropped"),
    ],
    ids=["malformed-line", "missing-split", "empty-split", "max-len-4"],
)
def test_bad_data_is_one_line_and_exit_2(damage, flags, message, tmp_path):
    from tests.train.lua_data import write_dataset  # pylint: disable=import-outside-toplevel

    data = write_dataset(tmp_path / "data")
    damage(data)
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "experiments.train", f"--workdir={run}", f"--data_dir={data}",
                           *flags], cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
                          env=dict(os.environ, JAX_PLATFORMS="cpu", JAXLUA_CACHE=str(tmp_path / "cache")))
    assert done.returncode == 2, done.stderr[-2000:]
    absl_log = re.compile(r"^[IW]\d{4} ")  # INFO and WARNING lines of the run's log
    lines = [line for line in done.stderr.splitlines() if line.strip() and not absl_log.match(line)]
    assert len(lines) == 1 and message in lines[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not run.exists()  # nothing left behind, not even an empty workdir


def test_flags_derive_from_config_fields():
    """define_flags_of: one flag per setting with the field's help and the given defaults; config_of_flags reads
    them back validated, a broken rule named by its flag."""
    from absl import flags  # pylint: disable=import-outside-toplevel

    from jaxlua.cli.flags import FlagError, config_of_flags, define_flags_of  # pylint: disable=import-outside-toplevel
    from jaxlua.config import EVALUATE, EvalConfig  # pylint: disable=import-outside-toplevel

    values = flags.FlagValues()
    define_flags_of(EvalConfig, EVALUATE, prefix="eval_", only=("limit", "num_samples", "split"), flag_values=values)
    assert sorted(values) == ["eval_limit", "eval_num_samples", "eval_split"]
    assert values["eval_num_samples"].default == 10 and "train, val, test, all" in values["eval_split"].help
    values(["prog", "--eval_limit=5", "--eval_split=val"])
    read = config_of_flags(EvalConfig, values, EVALUATE, prefix="eval_", only=("limit", "num_samples", "split"))
    assert read == EVALUATE.replace(limit=5, split="val")
    values["eval_limit"].value = 0
    with pytest.raises(FlagError, match=r"^--eval_limit must be >= 1, got 0$"):
        config_of_flags(EvalConfig, values, prefix="eval_", only=("limit", "num_samples", "split"))
    with pytest.raises(ValueError, match="no settings bogus"):
        define_flags_of(EvalConfig, only=("bogus",), flag_values=flags.FlagValues())


def test_sweep_flags_are_its_settings():
    from absl import flags  # pylint: disable=import-outside-toplevel

    from experiments import sweep  # pylint: disable=import-outside-toplevel
    from jaxlua.cli.flags import FlagError, config_of_flags  # pylint: disable=import-outside-toplevel
    from jaxlua.config import EvalConfig  # pylint: disable=import-outside-toplevel

    def parse(*argv):
        values = flags.FlagValues()
        sweep.define_flags(values)
        values(["sweep", *argv])
        return values

    args = config_of_flags(sweep.SweepArgs, parse("--experts=0,4", "--attention=false,TRUE"))
    assert args.experts == (0, 4) and args.attention == (False, True) and args.cells == sweep.SweepArgs().cells
    assert len(sweep.grid(args)) == len(args.cells) * 4
    sampling = config_of_flags(EvalConfig, parse(), prefix="eval_", only=sweep.EVAL_FLAGS)
    assert args.evaluation(sampling) == EvalConfig(limit=200)
    assert args.replace(eval_limit=0).evaluation(sampling).limit is None
    for flag, message in [("--experts=x", "--experts must be integers"), ("--experts=-1", "--experts"),
                          ("--attention=maybe", "true or false"), ("--cells=foo", "unknown cell 'foo'"),
                          ("--preset=huge", "unknown preset 'huge'"), ("--steps=0", "--steps must be positive")]:
        with pytest.raises(FlagError, match=message):
            config_of_flags(sweep.SweepArgs, parse(flag))
    with pytest.raises(FlagError, match="--eval_num_samples must be >= 0"):
        config_of_flags(EvalConfig, parse("--eval_num_samples=-1"), prefix="eval_", only=sweep.EVAL_FLAGS)
