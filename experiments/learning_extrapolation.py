r"""How many programs each level would need: a fit of the learning curves that bench_learning recorded.

    python -m experiments.learning_extrapolation results/learning_default_cpu.json [more results ...] \
        [--bars 0.5,0.8,0.9,0.95] [--fit_from 0.5] [--out results/learning_extrapolation_cpu.json] [--overwrite]

For each level of each result file, test exact match is fitted as a straight line in logit space against the log
of the programs seen, `logit(EM) = a + b ln(programs)`, by least squares over the curve's later points (those at
or after the `--fit_from` fraction of its programs; early points are dominated by the first-token phase). EM is
clipped to [0.5/n, 1 - 0.5/n] for a test set of n programs per level, so a level at 0 or 100% still has a finite
logit. The fit then gives the programs at which each bar would be met, and the hours of training that takes at
the run's own measured rate (programs seen / trainer seconds at its last point). A level whose slope is not
positive (no measurable progress over the fitted span) gets no estimate: `null`, with the reason.

This is an extrapolation far past the data, for one question: is a bar within reach of this machine at all? The
fit assumes learning keeps its measured pace in log-programs; real curves tend to bend (plateaus, or sudden
phase changes as in variable binding), so the numbers are orders of magnitude, not forecasts.
"""
from __future__ import annotations

import json
import math
import pathlib
import sys
from typing import Any, Sequence

import numpy as np
from absl import app, flags

from experiments.bench_common import bad_flag, environment

SCRIPT = "learning_extrapolation"
DEFAULT_BARS = (0.5, 0.8, 0.9, 0.95)

flags.DEFINE_list("bars", [str(b) for b in DEFAULT_BARS], "Exact-match bars to estimate programs for.")
flags.DEFINE_float("fit_from", 0.5, "Fit the points at or after this fraction of the curve's programs (0-1).")
flags.DEFINE_string("out", "results/learning_extrapolation_cpu.json", "Where the JSON goes.")
flags.DEFINE_bool("overwrite", False, "Replace --out when it exists.")
FLAGS = flags.FLAGS


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def fit_level(programs: Sequence[float], exact_match: Sequence[float], n: int, bars: Sequence[float],
              fit_from: float = 0.5) -> dict[str, Any]:
    """The logit-linear fit of one level's curve and the programs each bar needs (None where it cannot tell)."""
    x = np.asarray(programs, np.float64)
    y = np.asarray(exact_match, np.float64)
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"programs and exact_match need the same non-zero length; got {x.shape} and {y.shape}")
    keep = x >= fit_from * x.max()
    if keep.sum() < 3:
        keep = np.ones_like(x, bool) if x.size >= 3 else keep
    eps = 0.5 / max(n, 1)
    lx, ly = np.log(x[keep]), _logit(np.clip(y[keep], eps, 1 - eps))
    result: dict[str, Any] = {"points_fitted": int(keep.sum()), "programs_fitted": [int(x[keep].min()),
                                                                                   int(x[keep].max())],
                              "last_exact_match": float(y[-1])}
    if lx.size < 2 or np.ptp(lx) == 0:
        return {**result, "slope": None, "needs": {str(b): None for b in bars}, "reason": "too few points to fit"}
    slope, intercept = np.polyfit(lx, ly, 1)
    result.update(slope=round(float(slope), 4), intercept=round(float(intercept), 4))
    if slope <= 0:
        return {**result, "needs": {str(b): None for b in bars},
                "reason": "no measurable progress over the fitted span (slope <= 0)"}
    needs = {}
    for bar in bars:
        log_programs = (float(_logit(np.asarray(bar))) - intercept) / slope
        needs[str(bar)] = None if log_programs > 700 else int(round(math.exp(log_programs)))
    return {**result, "needs": needs}


def extrapolate(result: dict[str, Any], bars: Sequence[float], fit_from: float) -> dict[str, Any]:
    """Every level of one bench_learning result: its fit, the programs and the hours each bar needs."""
    curve = result.get("curve")
    if not curve:
        raise ValueError("the result has no 'curve' (is it a bench_learning result of one recipe?)")
    last = curve[-1]
    rate = last["programs_seen"] / last["seconds"] if last.get("seconds") else None
    n_by_level = result.get("test_set", {}).get("n_by_level", {})
    levels = {}
    for level in curve[-1]["by_level"]:
        programs = [point["programs_seen"] for point in curve]
        em = [point["by_level"][level] for point in curve]
        fit = fit_level(programs, em, int(n_by_level.get(level, 100)), bars, fit_from)
        fit["hours_at_measured_rate"] = {
            bar: (None if need is None or rate is None else round(need / rate / 3600, 2))
            for bar, need in fit["needs"].items()}
        levels[level] = fit
    return {"recipe": result.get("recipe"), "budget_s": result.get("budget_s"), "command": result.get("command"),
            "date": result.get("environment", {}).get("date"), "programs_per_s": None if rate is None
            else round(rate, 1), "programs_seen": last["programs_seen"], "levels": levels}


def main(argv: list[str]) -> None:
    paths = [pathlib.Path(a) for a in argv[1:]]
    if not paths:
        bad_flag(SCRIPT, "name at least one bench_learning result file, e.g. results/learning_default_cpu.json")
    try:
        bars = tuple(float(b) for b in FLAGS.bars)
    except ValueError:
        bad_flag(SCRIPT, f"--bars must be numbers in (0, 1); got {FLAGS.bars}")
    if not all(0 < b < 1 for b in bars):
        bad_flag(SCRIPT, f"--bars must be in (0, 1); got {bars}")
    if not 0 <= FLAGS.fit_from < 1:
        bad_flag(SCRIPT, f"--fit_from must be in [0, 1); got {FLAGS.fit_from}")
    out = pathlib.Path(FLAGS.out)
    if out.exists() and not FLAGS.overwrite:
        bad_flag(SCRIPT, f"{out} exists; pass --overwrite to replace it")
    fits = []
    for path in paths:
        if not path.is_file():
            bad_flag(SCRIPT, f"no such result file: {path}")
        try:
            fits.append({"file": str(path), **extrapolate(json.loads(path.read_text()), bars, FLAGS.fit_from)})
        except (ValueError, KeyError, json.JSONDecodeError) as error:
            bad_flag(SCRIPT, f"{path}: {error}")
    record = {"benchmark": SCRIPT, "command": " ".join(["python -m experiments." + SCRIPT, *sys.argv[1:]]),
              "method": __doc__.split("\n\n")[2].replace("\n", " "), "bars": list(bars), "fit_from": FLAGS.fit_from,
              "environment": environment(), "fits": fits}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    for fit in fits:
        print(f"{fit['file']} ({fit['recipe']}, {fit['programs_seen']} programs, {fit['programs_per_s']}/s)")
        for level, level_fit in fit["levels"].items():
            needs = ", ".join(f"{bar}: {need:.3g}" if need else f"{bar}: -" for bar, need in level_fit["needs"].items())
            print(f"  level {level}: last {level_fit['last_exact_match']:.2f}, slope {level_fit['slope']}, needs {needs}")
    print(f"wrote {out}")


if __name__ == "__main__":
    app.run(main)
