"""The worker process behind run_lua: crash recovery and fork safety."""
import subprocess
import sys
import threading
import time

from jaxlua.lua import run_lua
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
