"""Hostile programs are contained by run_lua with the right status, within the wall limit."""
import time

import pytest

from jaxlua.lua import LuaSandbox, run_lua

WALL = 0.5  # seconds; short so the suite stays fast
WALL_TRACED = 3.0  # tracing runs the program twice, the second time with a line hook
MARGIN = 1.5  # killing and reporting must not take longer than this beyond the wall limit

HOSTILE = {
    "infinite_loop": ("while true do end", "timeout"),
    "loop_swallowing_the_limit": ("while true do pcall(function() while true do end end) end", "timeout"),
    "error_handler_loop": ("xpcall(function() while true do end end, function() while true do end end)",
                           "timeout"),
    "string_memory_bomb": ('local s = "x" while true do s = s .. s end', "memory"),
    "table_memory_bomb": ("local t = {} for i = 1, 1e9 do t[i] = i end", "memory"),
    "rep_memory_bomb": ('print(("x"):rep(1e8))', "memory"),
    "output_bomb": ('while true do print("spam spam spam") end', "output_limit"),
    "io_write_bomb": ('while true do io.write("x") end', "output_limit"),
    "output_bomb_swallowing_errors": ('while true do pcall(print, "spam") end', "output_limit"),
    "os_exit": ("os.exit(1)", "error"),
    "os_execute": ('os.execute("touch /tmp/jaxlua_pwned")', "error"),
    "io_open": ('io.open("/etc/passwd")', "error"),
    "require": ('require("os")', "error"),
    "dofile": ('dofile("/etc/passwd")', "error"),
    "debug_library": ("debug.sethook()", "error"),
    "python_object": ("python.eval('1')", "error"),
    "python_via_rawget": ('rawget(_G, "python").builtins.print(1)', "error"),
    "string_dump": ("string.dump(print)", "error"),
    "string_dump_via_metatable": ('("").dump(print)', "error"),
    "finalizer": ("setmetatable({}, {__gc = function() while true do end end})", "error"),
    "collectgarbage_stop": ('collectgarbage("stop")', "error"),
    "c_stack_recursion": ('local function f(s) return (s:gsub(".", f)) end f("ab")', "error"),
}


@pytest.mark.parametrize("trace", [False, True])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_program_is_contained(name, trace):
    source, expected = HOSTILE[name]
    wall = WALL_TRACED if trace else WALL
    started = time.monotonic()
    result = run_lua(source, timeout=wall, trace=trace)
    assert time.monotonic() - started < wall + MARGIN
    assert result.status == expected, result
    assert (result.trace is not None) == trace
    assert run_lua("print(1)").stdout == "1\n"  # the caller and the worker are still usable


# In-process there is no wall clock: an error handler that loops forever is stopped only by run_lua's.
IN_PROCESS = sorted(set(HOSTILE) - {"error_handler_loop"})


@pytest.mark.parametrize("name", IN_PROCESS)
def test_hostile_program_is_contained_in_process_with_tracing(name):
    source, expected = HOSTILE[name]
    budget = 200_000 if expected == "timeout" else 10**7  # what stops a loop in-process: the step budget
    result = LuaSandbox().run(source, max_steps=budget, trace=True)
    assert result.status == expected, result
    assert result.trace is not None


def test_recursion_bomb_is_contained():
    result = run_lua("local function f() return 1 + f() end f()", timeout=10)
    assert result.status in ("error", "memory")  # "stack overflow" or the memory cap, whichever is first


def test_c_level_backtracking_hits_the_wall_clock_and_worker_is_replaced():
    source = 'print(string.find(string.rep("a", 200000), ".-.-.-.-b"))'
    started = time.monotonic()
    result = run_lua(source, timeout=WALL)
    elapsed = time.monotonic() - started
    assert result.status == "timeout"
    assert WALL <= elapsed < WALL + MARGIN
    assert "wall-clock" in result.error
    assert run_lua("print(2)").stdout == "2\n"


def test_output_limit_truncates_at_the_cap():
    result = run_lua('for i = 1, 100 do io.write("0123456789") end', max_output=95)
    assert result.status == "output_limit"
    assert result.stdout == "0123456789" * 9 + "01234"


def test_instruction_budget_sets_steps():
    result = run_lua("while true do end", max_steps=5000)
    assert result.status == "timeout"
    assert 5000 <= result.steps < 5100


def test_binary_chunks_are_refused_and_load_uses_the_sandbox():
    result = run_lua('print(load("\\27Lua")) x = 7 print(load("return x, os, python")())')
    assert result.status == "ok"
    assert result.stdout == "nil\tattempt to load a binary chunk (mode is 't')\n7\tnil\tnil\n"


def test_hidden_globals_are_absent():
    result = run_lua("print(rawget(_G, 'python'), coroutine, package, require, debug, dofile, loadfile, "
                     "io.read, io.open, os, string.dump, _G == _ENV)")
    assert result.stdout == "nil\t" * 11 + "true\n"


def test_runs_are_isolated():
    hostile = """
        print = function() end
        string.upper = function() return "hacked" end
        getmetatable("").__index = {upper = function() return "hacked too" end}
        getmetatable("").__add = function() return 42 end
        setmetatable(getmetatable(""), {__newindex = function() while true do end end})
        table.insert = nil
        leaked = "yes"
        math.randomseed(123)
    """
    assert run_lua(hostile).status == "ok"
    result = run_lua('print(leaked, string.upper("a"), ("b"):upper(), "1" + 1, type(table.insert))')
    assert result.stdout == "nil\tA\tB\t2\tfunction\n"


def test_math_random_is_deterministic_across_runs():
    source = "print(math.random(1, 1000), math.random(), math.random(5))"
    first = run_lua(source).stdout
    run_lua("math.randomseed(99) print(math.random())")
    assert run_lua(source).stdout == first
    assert LuaSandbox().run(source).stdout == first  # same seed in-process


def test_in_process_sandbox_has_the_same_limits():
    sandbox = LuaSandbox()
    assert sandbox.run("while true do end", max_steps=1000).status == "timeout"
    assert sandbox.run('local s = "x" while true do s = s .. s end').status == "memory"
    assert sandbox.run('while true do print("x") end', max_output=100).status == "output_limit"
    assert sandbox.run("print(1 + 1)").stdout == "2\n"
