"""Multi-process training on JAX's distributed runtime, on this CPU: processes on localhost with gloo collectives.

Two processes (one CPU device each) train the parameters of one process with two devices and the same global
batch, bit for bit (same split of the batch, and a sum of two partial gradients is the same in either order);
one process with one device is equal within 1e-6 (measured 6e-8: the gradient's sum over rows is grouped
differently). A two-process run stopped (one process asked, both stop at the same step) or killed, then
resumed, ends with the parameters of an uninterrupted one. The program stream's processes trade candidates over
the coordinator's key-value store, each making half the slots, and give one process's batches. Bad launch
settings are one line and exit code 2. Skipped where jaxlib has no gloo CPU collectives.
"""

from __future__ import annotations

import json
import os
import re
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxlua.train import distributed

REPO = pathlib.Path(__file__).resolve().parents[2]


def _gloo_missing() -> bool:
    from jax._src.lib import _jax  # pylint: disable=import-outside-toplevel

    return not hasattr(_jax, "make_gloo_tcp_collectives")


needs_gloo = pytest.mark.skipif(_gloo_missing(), reason="this jaxlib has no gloo CPU collectives "
                                "(make_gloo_tcp_collectives): multi-process runs on CPU cannot be tested here")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def _env(cache: pathlib.Path | None = None, devices: int = 1) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COORDINATOR_ADDRESS", "XLA_FLAGS")}
    env["JAX_PLATFORMS"] = "cpu"
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    if cache is not None:  # the runs of a test share compiled programs
        env.update(JAX_COMPILATION_CACHE_DIR=str(cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                   JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    return env


def _start(args: list[str], processes: int, env: dict[str, str]) -> list[subprocess.Popen]:
    """`processes` processes of one run on localhost (`args` after `python -m`), or one plain process."""
    launch = []
    if processes > 1:
        port = _free_port()
        launch = [[f"--coordinator=localhost:{port}", f"--num_processes={processes}", f"--process_id={i}"]
                  for i in range(processes)]
    return [subprocess.Popen([sys.executable, "-m", *args, *extra], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for extra in (launch or [[]])]


def _finish(procs: list[subprocess.Popen], timeout: float = 300, codes: tuple[int, ...] = (0,)) -> list[tuple]:
    """(returncode, stdout, stderr) of every process; none is left running."""
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            results.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for code, _, err in results:
        assert code in codes, err[-3000:]
    return results


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def _train(workdir: pathlib.Path, processes: int, cache: pathlib.Path, *extra: str, devices: int = 1) -> list[dict]:
    procs = _start(["tests.train.distributed_run", str(workdir), *extra], processes, _env(cache, devices))
    return [_last_json(out) for _, out, _ in _finish(procs)]


def _params(workdir: pathlib.Path) -> dict[str, np.ndarray]:
    return dict(np.load(workdir / "final_params.npz"))


def _assert_same(a: dict, b: dict, atol: float = 0.0) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        if atol:
            np.testing.assert_allclose(a[name], b[name], rtol=0, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Workdirs of finished runs, made on first use: {"two": 2 processes, "one": 1 process with 2 devices}."""
    root = tmp_path_factory.mktemp("distributed")
    made: dict[str, pathlib.Path] = {}

    def get(*names: str) -> pathlib.Path | tuple[pathlib.Path, ...]:
        todo = [name for name in names if name not in made]
        started = [(name, _start(["tests.train.distributed_run", str(root / name)], 2 if name == "two" else 1,
                                 _env(root / "xla", {"two": 1, "one": 2, "one_device": 1}[name])))
                   for name in todo]  # side by side: the processes of a run mostly wait for each other
        for name, procs in started:
            outs = [_last_json(out) for _, out, _ in _finish(procs)]
            expected = [(0, 2, 2), (1, 2, 2)] if name == "two" else [(0, 1, 2 if name == "one" else 1)]
            assert [(o["process"], o["processes"], o["devices"]) for o in outs] == expected
            made[name] = root / name
        return made[names[0]] if len(names) == 1 else tuple(made[name] for name in names)

    get.root = root
    return get


# --- Launch settings. --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, environ, message", [
    (dict(num_processes=2, process_id=0), {}, "needs --coordinator HOST:PORT"),
    (dict(coordinator="node0:12355", num_processes=2, process_id=2), {}, "--process_id 2 is out of range"),
    (dict(coordinator="node0:12355", num_processes=2, process_id=-1), {}, "out of range"),
    (dict(coordinator="node0", num_processes=2, process_id=0), {}, "must be HOST:PORT"),
    (dict(coordinator="node0:99999", num_processes=2, process_id=0), {}, "must be HOST:PORT"),
    (dict(coordinator="node0:12355", process_id=0), {}, "needs --num_processes"),
    (dict(coordinator="node0:12355", num_processes=2), {}, "needs --process_id"),
    (dict(num_processes=0), {}, "--num_processes must be >= 1"),
    (dict(coordinator="auto", num_processes=2), {}, "--coordinator auto reads"),
])
def test_bad_settings_name_the_problem(kwargs, environ, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        distributed.settings(**kwargs, environ=environ)


def test_good_settings():
    assert not distributed.settings(environ={}).multi_process
    assert not distributed.settings(num_processes=1, environ={}).multi_process
    assert distributed.settings("[::1]:80", 2, 1, environ={}) == distributed.DistributedSettings("[::1]:80", 2, 1)
    from_env = distributed.settings(num_processes=2, process_id=1, environ={"JAX_COORDINATOR_ADDRESS": "h:1"})
    assert from_env == distributed.DistributedSettings("h:1", 2, 1)
    # JAX_COORDINATOR_ADDRESS alone, or --coordinator auto: jax.distributed reads the rest from the cluster.
    assert distributed.settings(environ={"JAX_COORDINATOR_ADDRESS": "h:1"}).coordinator == distributed.AUTO
    assert distributed.settings("auto", environ={}).coordinator == distributed.AUTO


@pytest.mark.parametrize("flags, message", [
    ("--num_processes=2 --process_id=0", "needs --coordinator HOST:PORT"),
    ("--coordinator=localhost:12355 --num_processes=2 --process_id=5", "--process_id 5 is out of range"),
])
def test_bad_launch_flags_are_one_line_and_exit_2(flags, message, tmp_path):
    (code, _, err), = _finish(_start(["experiments.train", f"--workdir={tmp_path / 'run'}", *flags.split()], 1,
                                     _env()), timeout=120, codes=(2,))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "run").exists()


@needs_gloo
def test_a_global_batch_not_divisible_by_every_process_devices_is_one_line_and_exit_2(tmp_path):
    procs = _start(["experiments.train", f"--workdir={tmp_path / 'run'}", "--batch_size=3"], 2, _env())
    for _, _, err in _finish(procs, timeout=120, codes=(2,)):
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines == ["error: --batch_size 3 is not divisible by the 2 devices of 2 processes"], err[-2000:]
    assert not (tmp_path / "run").exists()


# --- Training. ---------------------------------------------------------------------------------------------------


@needs_gloo
def test_two_processes_train_the_parameters_of_one_process(runs):
    two, one = runs("two", "one")
    _assert_same(_params(two), _params(one))
    # Only process 0 writes the run's files; the other's stream or checkpoint state is in the shared folders.
    assert (two / "metrics.csv").exists() and not (two / "processes").exists()


@needs_gloo
@pytest.mark.slow
def test_two_processes_match_one_device_within_float_rounding(runs):
    _assert_same(_params(runs("two")), _params(runs("one_device")), atol=1e-6)


@needs_gloo
@pytest.mark.slow
def test_a_stop_in_one_process_stops_both_and_the_run_resumes_to_the_same_parameters(runs):
    workdir = runs.root / "stopped"
    # Process 1 alone is asked to stop while it takes batch 9: both stop after step 10; the newest save is 8.
    stopped = _train(workdir, 2, runs.root / "xla", "--stop_at=9", "--stop_process=1")
    assert stopped == [{"stopped_at": 10, "checkpoint": 8}] * 2
    resumed = _train(workdir, 2, runs.root / "xla")
    assert [r["start_step"] for r in resumed] == [8, 8]
    _assert_same(_params(workdir), _params(runs("two")))


def _saved_steps(workdir: pathlib.Path) -> list[int]:
    directory = workdir / "checkpoints"
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) if directory.exists() else []


@needs_gloo
@pytest.mark.slow
def test_a_killed_two_process_run_resumes_to_the_same_parameters(runs):
    reference = runs("two")
    workdir = runs.root / "killed"
    procs = _start(["tests.train.distributed_run", str(workdir)], 2, _env(runs.root / "xla"))
    try:
        deadline = time.time() + 300
        while not _saved_steps(workdir) and all(p.poll() is None for p in procs) and time.time() < deadline:
            time.sleep(0.02)
        assert all(p.poll() is None for p in procs), "the run ended before it could be killed"
    finally:
        for proc in procs:  # the whole job, as a scheduler kills it
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
    saved = _saved_steps(workdir)
    resumed = _train(workdir, 2, runs.root / "xla")
    assert resumed[0]["start_step"] in saved and resumed[0]["start_step"] == resumed[1]["start_step"] > 0
    _assert_same(_params(workdir), _params(reference))


@needs_gloo
@pytest.mark.slow
def test_two_processes_on_the_stream_train_the_parameters_of_one(runs):
    root = runs.root
    two = _train(root / "stream_two", 2, root / "xla", "--stream")
    assert [o["start_step"] for o in two] == [0, 0]
    one, = _train(root / "stream_one", 1, root / "xla", "--stream", devices=2)
    _assert_same(_params(root / "stream_two"), _params(root / "stream_one"))
    # The processes shared the stream's work: each made its half of the blocks it started (at most 3 of 64 slots
    # past those accepted) and its retries, where one process makes every slot.
    assert one["made"] >= one["accepted"] >= 20 * 8
    assert all(o["made"] <= (o["accepted"] + 3 * 64) / 2 + o["duplicates"] for o in two), two
    assert all(o["made"] < o["accepted"] for o in two), two  # the stream ran far ahead of these 20 steps
    # Process 1 keeps its key log, every key of the run, apart from process 0's.
    logs = [(root / "stream_two" / "stream_keys.u64").read_bytes(),
            (root / "stream_two" / "processes" / "1" / "stream_keys.u64").read_bytes()]
    assert logs[0] and logs[1] and logs[0][:len(logs[1])] == logs[1][:len(logs[0])]


@needs_gloo
def test_the_stream_exchange_runs_over_the_coordinators_store(tmp_path):
    started = [_start(["tests.train.distributed_run", str(tmp_path / name), "--exchange"], count, _env())
               for name, count in (("two", 2), ("one", 1))]
    outs, (one,) = ([_last_json(out) for _, out, _ in _finish(procs, timeout=120)] for procs in started)
    assert [o["gathered"] for o in outs] == [[[f"0:{i}", f"1:{i}"] for i in range(3)]] * 2
    assert [o["kept"] for o in outs] == [[2], [2]]  # each process deleted its own keys once all had read them
    assert outs[0]["lonely"] is None
    assert "process 0 of 2 sent nothing for 'lonely' in 2 s" in outs[1]["lonely"]
    # The run's training data: both processes' streams give one process's batches, each making half the slots
    # (of the blocks it started: at most 3 of 64 slots past those accepted) and its retries.
    assert outs[0]["batches"] == outs[1]["batches"] == one["batches"]
    assert one["made"] >= one["accepted"] >= 40 * 8
    assert all(o["made"] <= (o["accepted"] + 3 * 64) / 2 + o["duplicates"] < o["accepted"] for o in outs), outs


@needs_gloo
@pytest.mark.slow
def test_the_train_command_runs_on_two_processes_and_process_0_writes_the_results(tmp_path):
    from tests.train.lua_data import write_dataset  # pylint: disable=import-outside-toplevel

    data, workdir = write_dataset(tmp_path / "data"), tmp_path / "run"
    flags = (f"--workdir={workdir} --data_dir={data} --cell=gru --steps=4 --batch_size=2 --embed_dim=8 "
             "--hidden_dim=8 --num_layers=1 --eval_interval=2 --checkpoint_interval=2 --log_interval=2 "
             "--eval_latency_programs=1 --max_len=64 --num_buckets=1 --noprogress").split()
    (_, out0, _), (_, out1, err1) = _finish(_start(["experiments.train", *flags], 2, _env(tmp_path / "xla")))
    assert "trained gru to step 4" in out0 and "| all | 3 |" in out0
    assert "trained" not in out1 and not [line for line in err1.splitlines() if line.strip()], err1[-2000:]
    assert json.loads((workdir / "metrics.json").read_text())["train"]["steps"] == 4
    assert (workdir / "predictions.jsonl").exists() and not (workdir / "lock.json").exists()
