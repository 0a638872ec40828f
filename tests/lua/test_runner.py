"""The worker process behind run_lua: crash recovery, fork safety, argument checks, and staying in step."""
import itertools
import pickle
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from jaxlua.lua import LuaSandbox, run_lua
from jaxlua.lua import runner


def test_worker_crash_is_reported_and_the_next_call_works():
    run_lua("print(0)")  # make sure a worker is running
    proc = runner._DEFAULT_WORKER._proc
    killer = threading.Timer(0.3, proc.kill)
    killer.start()
    started = time.monotonic()
    result = run_lua("while true do end", max_steps=10**12, timeout=20)
    killer.join()
    assert time.monotonic() - started < 10
    assert result.status == "error" and "crashed" in result.error
    assert run_lua("print('back')").stdout == "back\n"


FORK_CHECK = """
import os
from jaxlua.lua import run_lua, runner
run_lua("print(0)")
parent_worker = runner._DEFAULT_WORKER._proc.pid
read_fd, write_fd = os.pipe()
pid = os.fork()
if pid == 0:  # child: must not talk over the parent's pipe
    try:
        ok = run_lua("print(6 * 7)").stdout == "42\\n" and runner._DEFAULT_WORKER._proc.pid != parent_worker
        os.write(write_fd, b"1" if ok else b"0")
    finally:
        os._exit(0)
os.close(write_fd)
answer = os.read(read_fd, 1)
os.waitpid(pid, 0)
assert answer == b"1", answer
assert runner._DEFAULT_WORKER._proc.pid == parent_worker
assert run_lua("print(1)").stdout == "1\\n"
print("fork-ok")
"""


def test_a_forked_child_gets_its_own_worker():
    # In a fresh interpreter: forking this pytest process, where JAX's threads may be running, can deadlock.
    done = subprocess.run([sys.executable, "-c", FORK_CHECK], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "fork-ok" in done.stdout, done.stderr


def test_bad_timeouts_are_refused_before_anything_runs_and_calls_stay_in_step():
    for timeout in (float("nan"), float("inf"), -1.0, 0, True, "1"):
        with pytest.raises(ValueError, match="timeout"):
            run_lua("print(1)", timeout=timeout)
        assert run_lua("print(2)").stdout == "2\n"
    assert run_lua("print(3)", timeout=1e300).stdout == "3\n"  # huge but finite: waits in rounds


def test_an_interrupt_during_a_slow_program_replaces_the_worker():
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(KeyboardInterrupt):
            run_lua('print("slow") local x = 0 while true do x = x + 1 end', max_steps=10**12, timeout=30)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert run_lua("print(2)").stdout == "2\n"
    assert run_lua("print(3)").stdout == "3\n"


def test_an_interrupt_while_the_answer_is_unread_never_shifts_later_answers():
    # the interrupt lands after the request went out, before its answer is read
    worker = runner.SandboxWorker()
    try:
        worker.run("print(0)", 10**6, 2**24, 2**10, 5.0)
        original = worker._read_exact

        def interrupted(n, deadline):
            raise KeyboardInterrupt

        worker._read_exact = interrupted
        with pytest.raises(KeyboardInterrupt):
            worker.run("print(1)", 10**6, 2**24, 2**10, 5.0)
        worker._read_exact = original
        assert worker.run("print(2)", 10**6, 2**24, 2**10, 5.0).stdout == "2\n"
        assert worker.run("print(3)", 10**6, 2**24, 2**10, 5.0).stdout == "3\n"
    finally:
        worker.close()


@pytest.mark.parametrize("limits", [{"max_steps": 2**70}, {"max_output": 2**70}, {"max_memory": 2**70},
                                    {"max_steps": 0}, {"max_steps": 1.5}, {"max_output": True},
                                    {"max_trace_steps": 0}])
def test_odd_limits_are_refused_up_front(limits):
    with pytest.raises(ValueError, match=next(iter(limits))):
        run_lua("print(1)", **limits)
    with pytest.raises(ValueError, match=next(iter(limits))):
        LuaSandbox().run("print(1)", **limits)
    assert run_lua("print(2)").stdout == "2\n"


def test_largest_limits_and_numpy_ints_are_accepted():
    assert run_lua("print(1)", max_steps=2**62, max_output=2**62, max_memory=2**62).stdout == "1\n"
    assert run_lua("print(1)", max_steps=np.int64(1000)).stdout == "1\n"


@pytest.mark.parametrize("max_memory", [1, 100, 10_000])
def test_a_tiny_memory_cap_is_a_memory_status(max_memory):
    assert run_lua("print(1)", max_memory=max_memory).status == "memory"
    assert LuaSandbox().run("print(1)", max_memory=max_memory).status == "memory"
    assert run_lua("print(2)").stdout == "2\n"


def test_a_lone_surrogate_in_the_source_is_refused_and_escaped_bytes_round_trip():
    with pytest.raises(ValueError, match="surrogate"):
        run_lua("print('\ud800')")
    with pytest.raises(ValueError, match="surrogate"):
        LuaSandbox().run("print('\ud800')")
    assert run_lua("print(2)").stdout == "2\n"
    assert run_lua("io.write('\udcff')").stdout == "\udcff"  # the byte 0xff, not UTF-8, kept byte-exact


def test_answers_carry_the_request_id():
    worker = runner.SandboxWorker()
    try:
        worker.run("print(0)", 10**6, 2**24, 2**10, 5.0)
        worker._ids = itertools.count(6)
        data = pickle.dumps((5, "print(1)", 10**6, 2**24, 2**10, False, 10))
        worker._proc.stdin.write(runner._HEADER.pack(len(data)) + data)  # an answer nobody reads: out of step
        with pytest.raises(RuntimeError, match="answered request 5 instead of 6"):
            worker.run("print(2)", 10**6, 2**24, 2**10, 5.0)
        assert worker.run("print(3)", 10**6, 2**24, 2**10, 5.0).stdout == "3\n"
    finally:
        worker.close()
