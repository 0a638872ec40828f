"""experiments.learning_extrapolation: the logit-linear fit recovers a known curve; levels without progress get no
estimate; the command refuses to overwrite a result and names bad input."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from experiments.learning_extrapolation import extrapolate, fit_level


def _curve(a: float, b: float, programs: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(a + b * np.log(programs))))


def test_fit_recovers_a_logit_linear_curve():
    programs = np.geomspace(1_000, 100_000, 12)
    a, b = -9.0, 0.8
    fit = fit_level(programs, _curve(a, b, programs), n=10_000, bars=(0.5, 0.9), fit_from=0.0)
    assert fit["slope"] == pytest.approx(b, rel=1e-3)
    assert fit["needs"]["0.5"] == pytest.approx(math.exp(-a / b), rel=1e-2)
    assert fit["needs"]["0.9"] == pytest.approx(math.exp((math.log(9) - a) / b), rel=1e-2)


def test_fit_uses_only_the_later_points():
    programs = np.geomspace(1_000, 100_000, 10)
    em = _curve(-9.0, 0.8, programs)
    em[:3] = 0.9  # an early spike the fit must not see
    fit = fit_level(programs, em, n=10_000, bars=(0.5,), fit_from=0.05)
    assert fit["points_fitted"] < 10 and fit["slope"] == pytest.approx(0.8, rel=1e-2)


def test_no_progress_gives_no_estimate():
    fit = fit_level([1_000, 2_000, 4_000, 8_000], [0.0, 0.0, 0.0, 0.0], n=100, bars=(0.5,), fit_from=0.0)
    assert fit["needs"] == {"0.5": None} and "no measurable progress" in fit["reason"]


def _result(tmp_path):
    curve = [{"programs_seen": p, "seconds": p / 100, "by_level": {"4": float(e), "1": 0.0}}
             for p, e in zip([3200, 6400, 12800, 25600], [0.1, 0.2, 0.35, 0.5])]
    path = tmp_path / "learning_x_cpu.json"
    path.write_text(json.dumps({"recipe": "x", "curve": curve, "test_set": {"n_by_level": {"4": 100, "1": 100}}}))
    return path


def test_extrapolate_reports_hours_at_the_measured_rate(tmp_path):
    fit = extrapolate(json.loads(_result(tmp_path).read_text()), (0.9,), 0.0)
    assert fit["programs_per_s"] == 100.0
    level = fit["levels"]["4"]
    assert level["hours_at_measured_rate"]["0.9"] == pytest.approx(level["needs"]["0.9"] / 100 / 3600, rel=1e-2)
    assert fit["levels"]["1"]["needs"]["0.9"] is None


def test_command_writes_once_and_names_bad_input(tmp_path):
    out = tmp_path / "out.json"
    command = [sys.executable, "-m", "experiments.learning_extrapolation", str(_result(tmp_path)), "--out", str(out)]
    assert subprocess.run(command, capture_output=True, text=True).returncode == 0
    assert json.loads(out.read_text())["fits"][0]["recipe"] == "x"
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    missing = subprocess.run(command[:3] + [str(tmp_path / "none.json"), "--out", str(tmp_path / "o2.json")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "no such result file" in missing.stderr
