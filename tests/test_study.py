"""experiments.study: every variant is a valid configuration, the scoring counts unscored programs as wrong,
bad flags are one line with exit code 2, and a tiny study runs end to end."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from experiments import study
from jaxlua.cli.flags import FlagError

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("variant", study.VARIANTS, ids=lambda v: v.name)
def test_every_variant_is_a_valid_change_of_its_base(variant):
    base = study.base_config(variant.group, "1,2,3,4,5,6,7", 100, 150.0, 0, data_dir="unused")
    config = study.variant_config(variant, base)
    assert config.time_budget_s == 150.0 and config.stream == (variant.group == "stream")
    assert variant.group in study.GROUPS and variant.idea


def test_names_are_unique_and_only_checks_them():
    names = [v.name for v in study.VARIANTS]
    assert len(names) == len(set(names))
    assert [v.name for v in study.selected_variants(["rnn", "mingru"])] == ["mingru", "rnn"]
    with pytest.raises(FlagError, match="unknown variant"):
        study.selected_variants(["mingru", "bogus"])


def test_unscored_programs_count_as_wrong():
    metrics = {"per_level": {"1": {"num_programs": 8, "exact_match": 0.5}, "4": {"num_programs": 10,
                                                                                "exact_match": 1.0}},
               "per_construct": {"loops": {"n": 3, "exact_match": 1 / 3}}}
    scored = study.score(metrics, {"1": 10, "4": 10, "5": 10})
    assert scored["by_level"] == {"1": 0.4, "4": 1.0, "5": 0.0}
    assert scored["exact_match"] == pytest.approx(14 / 30)
    assert scored["scored_by_level"] == {"1": 8, "4": 10, "5": 0} and scored["by_construct"] == {"loops": 1 / 3}


def _study(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "experiments.study", "--noprogress", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("args,message", [
    (["--only", "nope"], "unknown variant"),
    (["--budget_s", "0"], "must be positive"),
    (["--levels", "4,9"], "levels must be"),
])
def test_bad_flags_are_one_line_and_exit_2(tmp_path, args, message):
    result = _study("--out", str(tmp_path / "s"), "--results", "", *args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "s").exists()


def test_existing_results_are_not_overwritten(tmp_path):
    (tmp_path / "r.json").write_text("{}")
    result = _study("--out", str(tmp_path / "s"), "--results", str(tmp_path / "r.json"), cwd=tmp_path)
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert (tmp_path / "r.json").read_text() == "{}"


def test_a_tiny_study_runs_end_to_end(tmp_path):
    result = _study("--out", str(tmp_path / "s"), "--results", str(tmp_path / "r.json"), "--budget_s", "6",
                    "--levels", "4", "--heldout_per_level", "6", "--only", "mingru", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["environment"]["jax"] and saved["budget_s"] == 6.0
    (run,) = saved["runs"]
    assert run["name"] == "mingru" and run["steps"] >= 1 and run["test"]["n_by_level"] == {"4": 6}
    assert 0.0 <= run["test"]["exact_match"] <= 1.0 and run["curve"]
    assert (tmp_path / "s" / run["predictions"]).is_file()
    assert "| mingru | stream |" in (tmp_path / "s" / "study.md").read_text()
