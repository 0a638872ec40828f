"""What every bench_* script shares: the timer, the environment record, the result writer, bad-flag exits.

One timer (`time_call`) so every figure in results/ means the same thing: wall milliseconds of single calls,
each waited for with `jax.block_until_ready` (JAX dispatches asynchronously, so an unwaited call times only
its launch), after untimed warmup calls (the first compiles). Statistics over those lists come from `stats`.
The environment record holds the device, versions, date and load average. The result writer prints the JSON
and writes it to `--out`, by default results/<bench>_<backend>.json. A bad flag ends the run with one line
naming it and exit code 2.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import time
from typing import Any, Callable, NoReturn, TypeVar

import jax
import numpy as np
from absl import flags, logging
from tqdm import tqdm

from jaxlua.config import TrainConfig

T = TypeVar("T")


def time_call(fn: Callable[[], Any], repeats: int, warmup: int = 1, desc: str | None = None) -> list[float]:
    """Milliseconds of each of `repeats` calls of `fn()`, after `warmup` untimed calls; results are waited for.

    `desc` shows a progress bar (on stderr) over the timed calls.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"time_call needs repeats >= 1 and warmup >= 0; got {repeats}, {warmup}")
    for _ in range(warmup):
        jax.block_until_ready(fn())
    times = []
    for _ in tqdm(range(repeats), desc=desc, leave=False, disable=desc is None, file=sys.stderr):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append((time.perf_counter() - start) * 1e3)
    return times


def median_ms(times: list[float], digits: int = 3) -> float:
    """The median of `times`, rounded: the figure the tables report."""
    return round(statistics.median(times), digits)


def stats(times: list[float], digits: int = 3) -> dict[str, float]:
    """p50, p95 (linear interpolation), mean and min of `times` (ms), rounded."""
    values = np.asarray(times, np.float64)
    return {"p50": round(float(np.percentile(values, 50)), digits),
            "p95": round(float(np.percentile(values, 95)), digits),
            "mean": round(float(values.mean()), digits), "min": round(float(values.min()), digits)}


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: on a shared machine, how busy it was."""
    return [round(x, 2) for x in os.getloadavg()]


def environment(machine_note: str | None = None) -> dict[str, Any]:
    """Device, versions, date and machine load: what the numbers depend on. `machine_note` is added on CPU."""
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "num_devices": jax.device_count(),
        "jax": jax.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "load_avg_1m_5m_15m_at_start": load_average(),
    }
    if machine_note and jax.default_backend() == "cpu":
        env["machine_note"] = f"{os.cpu_count()}-core CPU, " + machine_note
    return env


def finish_environment(result: dict[str, Any]) -> dict[str, Any]:
    """Adds the load average at the end of the run to `result["environment"]`; returns `result`."""
    result["environment"]["load_avg_1m_5m_15m_at_end"] = load_average()
    return result


def default_out_path(bench: str) -> pathlib.Path:
    """results/<bench>_<backend>.json: one file per benchmark and backend."""
    return pathlib.Path("results") / f"{bench}_{jax.default_backend()}.json"


def write_result(result: dict[str, Any], out: str | os.PathLike | None, bench: str) -> pathlib.Path:
    """Print `result` as JSON and write it to `out` (default: `default_out_path(bench)`)."""
    text = json.dumps(result, indent=2)
    print(text)
    path = pathlib.Path(out) if out else default_out_path(bench)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    logging.info("wrote %s", path)
    return path


def bad_flag(script: str, message: str) -> NoReturn:
    """The one way a benchmark refuses its flags: one line on stderr naming the problem, exit code 2."""
    sys.stderr.write(f"{script}: {message}\n")
    sys.exit(2)


def options_or_exit(script: str, argv: list[str], build: Callable[[], T]) -> T:
    """`build()` (which constructs and validates the options from the flags), or `bad_flag` on a ValueError
    or on leftover command-line arguments."""
    if len(argv) > 1:
        bad_flag(script, f"unexpected arguments {' '.join(argv[1:])}")
    try:
        return build()
    except ValueError as error:
        bad_flag(script, str(error))


def option(default: Any, help: str, *, kind: type | None = None) -> Any:  # noqa: A002
    """A field of a benchmark's Options: its default and flag help; `kind` is the value (or list element) type
    where the default cannot tell it (None, or an empty tuple). A tuple default makes a list flag."""
    if kind is None and default is None:
        raise TypeError("option(None, ...) needs kind=")
    if kind is None:
        kind = type(default[0]) if isinstance(default, tuple) else type(default)
    return dataclasses.field(default=default, metadata={"help": help, "kind": kind})


def define_flags(options_class: type) -> None:
    """One absl flag per field of `options_class` (a dataclass of `option` fields): same name, default, help."""
    for field in dataclasses.fields(options_class):
        default, help_text, kind = field.default, field.metadata["help"], field.metadata["kind"]
        if isinstance(default, tuple):
            flags.DEFINE_list(field.name, [str(v) for v in default], help_text)
        elif kind is bool:
            flags.DEFINE_boolean(field.name, default, help_text)
        elif kind is int:
            flags.DEFINE_integer(field.name, default, help_text)
        elif kind is float:
            flags.DEFINE_float(field.name, default, help_text)
        else:
            flags.DEFINE_string(field.name, default, help_text)


def options_from_flags(options_class: type) -> Any:
    """`options_class` filled from the parsed flags `define_flags` declared (list flags converted to tuples of
    the field's kind; ValueError naming the flag when an element does not convert)."""
    values = {}
    for field in dataclasses.fields(options_class):
        value = flags.FLAGS[field.name].value
        if isinstance(field.default, tuple):
            items = [v.strip() for v in value if v.strip()]
            if field.metadata["kind"] is int:
                value = int_list(field.name, items)
            else:
                value = tuple(field.metadata["kind"](v) for v in items)
        values[field.name] = value
    return options_class(**values)


def int_list(name: str, values: list[str]) -> tuple[int, ...]:
    """A list flag of positive integers, or a ValueError naming the flag."""
    try:
        numbers = tuple(int(v) for v in values)
    except ValueError:
        raise ValueError(f"--{name} must be a list of integers; got {','.join(values)}") from None
    if not numbers or min(numbers) < 1:
        raise ValueError(f"--{name} must be a non-empty list of integers >= 1; got {','.join(values)}")
    return numbers


def check_positive(options: Any, *names: str) -> None:
    """Raises ValueError naming the first of `names` whose value on `options` is < 1."""
    for name in names:
        if getattr(options, name) < 1:
            raise ValueError(f"--{name} must be >= 1; got {getattr(options, name)}")


def check_names(flag: str, names: tuple[str, ...], known: tuple[str, ...]) -> None:
    """Raises ValueError unless `names` is a non-empty list drawn from `known`."""
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise ValueError(f"--{flag} must be a non-empty list from {', '.join(known)}; got {','.join(names)}")


def jaxlua_step(config: TrainConfig, vocab: int, batch: dict[str, np.ndarray]) -> tuple[Callable[[], float], int]:
    """(run one training step of the model `config` describes and return its loss, number of parameters).

    The real step of `jaxlua.train` (jit, donated state threaded from call to call), with the loss window the
    training loop passes; bench_train_step and the GPU suite of bench_scan time their train steps with it.
    """
    from jaxlua.train.model_state import build_model, count_params, initial_train_state
    from jaxlua.train.optimizer import make_optimizer
    from jaxlua.train.step import make_train_step, output_span

    state, graphs = initial_train_state(build_model(config, vocab), config)
    window = output_span(batch["lengths"], batch["output_start"])  # what the training loop passes
    step_fn = make_train_step(graphs.train_def, make_optimizer(config), config, loss_window=window)
    device_batch = {k: jax.device_put(v) for k, v in batch.items()}
    rng = jax.random.key(config.seed)
    holder = {"state": state}

    def run() -> float:
        new_state, metrics = step_fn(holder["state"], device_batch, rng)
        jax.block_until_ready((new_state, metrics))
        holder["state"] = new_state
        return float(metrics["loss"])

    return run, count_params(state.params)
