"""In-process Lua 5.4 sandbox: one reusable LuaRuntime that runs untrusted chunks in fresh environments.

`LuaSandbox.run` enforces the instruction, memory and output limits, but not wall-clock time: a C library
function (e.g. catastrophic backtracking in string.find) cannot be interrupted in-process. Untrusted code
therefore goes through `jaxlua.lua.run_lua`, which runs this sandbox in a worker process that is killed on
timeout. Pool workers that run the project's own generated programs use `LuaSandbox` directly (faster).

Every run gets a fresh environment (base functions, string, table, math, utf8, io.write, and `load` for text
chunks in the same sandbox); the shared string metatable is reset, `string.dump` is unreachable, lupa's
`python` object is gone, and `math.random` is seeded with 0. Output is captured inside Lua, byte for byte as
the `lua5.4` binary prints it. Deliberate differences from that binary: no `coroutine`, `os`, `io` (except
`io.write`), `debug`, `package`/`require`; `collectgarbage` accepts only collect/count/step/isrunning; `__gc`
is refused; a recursion bomb ends as `memory` rather than "stack overflow"; error positions read `stdin:N:`;
step counts are exact up to `EXACT_STEPS` instructions and counted in blocks of `COARSE_STEPS` above.
"""
from __future__ import annotations

import dataclasses
import functools
import operator

from jaxlua.lua import trace as _trace
from jaxlua.lua.trace import DEFAULT_MAX_TRACE_STEPS, TraceStep

STATUSES = ("ok", "error", "timeout", "memory", "output_limit")
DEFAULT_MAX_STEPS = 10**7
DEFAULT_MAX_MEMORY = 64 * 2**20
DEFAULT_MAX_OUTPUT = 64 * 2**10
DEFAULT_TIMEOUT = 2.0
RANDOM_SEED = 0
# Instructions are counted exactly (a count hook every instruction) up to EXACT_STEPS; beyond that the hook
# fires every COARSE_STEPS instructions and `steps` has that resolution (a per-instruction hook would be far
# slower).
EXACT_STEPS = 20_000
COARSE_STEPS = 1000
CHUNK_NAME = "=stdin"  # error positions read "stdin:3: ...", as for `lua5.4 < prog.lua`
MAX_LIMIT = 2**62  # the largest step, memory, output or trace limit: fits Lua's integers and C's size_t


@dataclasses.dataclass(frozen=True)
class LuaResult:
    """Outcome of one sandboxed run: status in STATUSES, captured stdout, error text, VM instructions.

    With `trace=True`, `trace` holds the executed statements (see `jaxlua.lua.trace`) and `trace_truncated`
    says whether it was cut; otherwise `trace` is None.
    """

    status: str
    stdout: str
    error: str | None
    steps: int
    trace: tuple[TraceStep, ...] | None = None
    trace_truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# Trusted setup code. It runs once per LuaRuntime in the real global environment and returns `run`, which
# builds a fresh environment for every chunk. Only `run` keeps references to the real libraries.
_SANDBOX_LUA = r"""
local EXACT, COARSE, CHUNK_NAME, new_tracer = ...
local real_load, sethook, pack, concat = load, debug.sethook, table.pack, table.concat
local tostring, type, error, select, next, pairs, xpcall = tostring, type, error, select, next, pairs, xpcall
local setmetatable_raw, rawget, mtype, sformat, sfind = setmetatable, rawget, math.type, string.format, string.find
local randomseed, collect = math.randomseed, collectgarbage
local create, resume = coroutine.create, coroutine.resume
local set_any_metatable, rawset, ssub = debug.setmetatable, rawset, string.sub
local getinfo = debug.getinfo
local string_mt = getmetatable("")
local STRING_MT = {}  -- the pristine string metatable: arithmetic coercions (__add, ...) and __index
for k, v in pairs(string_mt) do STRING_MT[k] = v end
local BASE = {"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
              "rawlen", "rawset", "select", "tonumber", "tostring", "type", "xpcall"}
local LIBS = {string = string, table = table, math = math, utf8 = utf8}
local HIDDEN = {string = {dump = true}}
local GC_OPTIONS = {collect = true, count = true, step = true, isrunning = true}
local G = _G

-- Calibration: a count hook also consumes count on its own instructions, so each coarse hook call stands
-- for COARSE - overhead user instructions. Measure the overhead once against the exact per-instruction hook.
local function calibrate()
  local function count(every)
    local n = 0
    local co = create(real_load("local s = 0 for i = 1, 20000 do s = s + i end", "=probe", "t", {}))
    sethook(co, function() n = n + 1 end, "", every)
    resume(co)
    return n
  end
  return count(1) / count(COARSE)
end
local PER_COARSE = calibrate()

return function(arm_memory_cap, src, max_steps, max_output, seed, trace, max_trace_steps)
  arm_memory_cap()  -- from here on allocations can fail, but only inside this protected call
  local env = {}
  for i = 1, #BASE do env[BASE[i]] = G[BASE[i]] end
  for name, lib in pairs(LIBS) do
    local copy, hidden = {}, HIDDEN[name] or {}
    for k, v in pairs(lib) do if not hidden[k] then copy[k] = v end end
    env[name] = copy
  end
  env._G, env._VERSION = env, G._VERSION
  -- The string metatable is shared by every string of the state: reset it so no run sees another's edits,
  -- and point it at this run's string table (without dump).
  set_any_metatable(string_mt, nil)
  for k in next, string_mt do rawset(string_mt, k, nil) end
  for k, v in next, STRING_MT do rawset(string_mt, k, v) end
  rawset(string_mt, "__index", env.string)
  randomseed(seed)

  local out, nout, outlen, limit, steps = {}, 0, 0, nil, 0
  -- Once a limit is hit, every further instruction raises it again, so no pcall can swallow it for long.
  local function stop_always() error(limit, 0) end
  local function emit(s)
    if limit then error(limit, 0) end
    local n = #s
    if outlen + n > max_output then
      nout = nout + 1; out[nout] = ssub(s, 1, max_output - outlen); outlen = max_output
      limit = "output limit exceeded"
      sethook(stop_always, "", 1)
      error(limit, 0)
    end
    nout = nout + 1; out[nout] = s; outlen = outlen + n
  end
  -- print and io.write are C functions in lua5.4 (no VM instructions): while counting exactly, the
  -- instructions they run here (and in any __tostring they call) are not added to `steps`; the budget
  -- check in the hook still applies to them.
  env.print = function(...)
    local s0, args = steps, pack(...)
    for i = 1, args.n do args[i] = tostring(args[i]) end
    emit(concat(args, "\t", 1, args.n) .. "\n")
    if steps < EXACT then steps = s0 end
  end
  local stdout_file = {}
  local function write(...)
    local s0, args = steps, pack(...)
    for i = 1, args.n do
      local v = args[i]
      local tv = type(v)
      if tv == "number" then v = mtype(v) == "integer" and sformat("%d", v) or sformat("%.14g", v)
      elseif tv ~= "string" then
        error(sformat("bad argument #%d to 'write' (string expected, got %s)", i, tv), 2)
      end
      emit(v)
    end
    if steps < EXACT then steps = s0 end
    return stdout_file
  end
  stdout_file.write = function(self, ...) return write(...) end
  env.io = {write = write, stdout = stdout_file}
  env.setmetatable = function(t, mt)
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
      error("__gc metamethods are not allowed in the sandbox", 2)
    end
    return setmetatable_raw(t, mt)
  end
  env.collectgarbage = function(opt, ...)
    if opt ~= nil and not GC_OPTIONS[opt] then
      error("collectgarbage option '" .. tostring(opt) .. "' is not allowed in the sandbox", 2)
    end
    return collect(opt, ...)
  end
  env.load = function(chunk, name, mode, ...)
    if mode == nil then mode = "t" elseif type(mode) == "string" then
      if not sfind(mode, "t", 1, true) then return nil, "binary chunks are not allowed in the sandbox" end
      mode = "t"
    end
    if select("#", ...) > 0 then return real_load(chunk, name, mode, ...) end
    return real_load(chunk, name, mode, env)
  end

  local fn, err = real_load(src, CHUNK_NAME, "t", env)
  if not fn then return "error", "", err, 0 end
  local last_line = -1
  if trace then
    -- The chunk's final return takes the line of the last token, so a line event shows the last statement's
    -- effect on locals only if that token sits on a line of its own: append an empty statement (or, after
    -- `return`, its optional semicolon). Compiled only once the source is known good, so syntax errors read
    -- the same with and without tracing.
    local padded = real_load(src .. "\n;", CHUNK_NAME, "t", env)
    if padded then
      fn = padded
      for line in next, getinfo(fn, "L").activelines do if line > last_line then last_line = line end end
    end
  end

  local function over_budget()
    limit = "instruction limit exceeded"
    sethook(stop_always, "", 1)
    error(limit, 0)
  end
  local function coarse_hook()
    steps = steps + PER_COARSE
    if steps >= max_steps then over_budget() end
  end
  local function exact_hook()
    steps = steps + 1
    if steps >= max_steps then over_budget() end
    if steps >= EXACT then sethook(coarse_hook, "", COARSE) end
  end
  local handled = false
  local function handler(e) handled = true; return e end
  -- The user chunk runs in its own coroutine: hooks are per thread, so the limit hooks never fire in this
  -- trusted code, even after `stop_always` was installed.
  local co = create(function() return xpcall(fn, handler) end)
  local tracer, trace_result, trace_cut
  if trace then
    -- A trace run has a line hook only: a Lua count hook makes Lua 5.4 fire a spurious line event at every
    -- instruction it counts. Every loop iteration and every call starts a line event, so a budget of line
    -- events (max_steps, here at most the untraced run's instruction count) bounds the run as well.
    local events = 0
    local function stop_run(why)
      limit = why
      sethook(co, stop_always, "", 1)
      error(limit, 0)
    end
    tracer, trace_result = new_tracer(co, env, fn, last_line, max_trace_steps, max_steps)
    sethook(co, function(_, line)
      events = events + 1
      if events > max_steps then trace_cut = true; stop_run("instruction limit exceeded") end
      local resumed, keep = resume(tracer, line)
      if resumed and keep then return end
      tracer = nil
      if not resumed and keep == "not enough memory" then stop_run(keep) end  -- the trace counts as memory
      trace_cut = true  -- cut by the trace's own limits; nothing more to record
      stop_run("trace ended")
    end, "l")
  else
    sethook(co, exact_hook, "", 1)
  end
  local resumed, ok, res = resume(co)
  if not resumed then ok, res = false, ok end
  local trace_blob, trace_truncated
  if trace then
    if tracer and limit == nil then  -- a last look at the globals the final statement changed
      local done, why = resume(tracer, nil)
      if not done and why == "not enough memory" then limit = why elseif not done then trace_cut = true end
    end
    trace_blob, trace_truncated = trace_result(trace_cut)
  end
  local stdout = concat(out, "", 1, nout)
  steps = steps // 1
  local status
  if limit == "output limit exceeded" then status, res = "output_limit", limit
  elseif limit == "not enough memory" then status, res = "memory", limit
  elseif limit then status, res = "timeout", limit
  elseif ok then status, res = "ok", nil
  -- Lua does not call the message handler for allocation failures (LUA_ERRMEM).
  elseif not handled and res == "not enough memory" then status = "memory"
  else
    status = "error"
    if type(res) ~= "string" then res = "(error object is a " .. type(res) .. " value)" end
  end
  return status, stdout, res, steps, trace_blob, trace_truncated
end
"""


def _decode(data: bytes | str | None) -> str | None:
    """Lua strings are bytes; keep them byte-exact (invalid UTF-8 survives as surrogate escapes)."""
    if data is None or isinstance(data, str):
        return data
    return data.decode("utf-8", errors="surrogateescape")


def encode_source(source: str) -> bytes:
    """The bytes Lua runs: UTF-8, with surrogate escapes (bytes that were not UTF-8) restored byte-exact."""
    if not isinstance(source, str):
        raise TypeError(f"source must be str, got {type(source).__name__}")
    try:
        return source.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError as exc:
        raise ValueError(f"source is not encodable as UTF-8: {source[exc.start]!r} at position {exc.start} "
                         "(a lone surrogate)") from None


def check_limits(max_steps: int, max_memory: int, max_output: int,
                 max_trace_steps: int = DEFAULT_MAX_TRACE_STEPS) -> tuple[int, int, int, int]:
    """Validate run limits before anything runs: ints (not bools) in 1..MAX_LIMIT; returns them as ints."""
    limits = []
    for name, value in (("max_steps", max_steps), ("max_memory", max_memory), ("max_output", max_output),
                        ("max_trace_steps", max_trace_steps)):
        try:
            number = None if isinstance(value, bool) else operator.index(value)
        except TypeError:
            number = None
        if number is None or not 0 < number <= MAX_LIMIT:
            raise ValueError(f"{name} must be an int between 1 and 2**62, got {value!r}")
        limits.append(number)
    return tuple(limits)


class LuaSandbox:
    """One LuaRuntime reused for many runs, each in a fresh sandboxed environment (no wall-clock limit)."""

    def __init__(self, max_memory: int = DEFAULT_MAX_MEMORY, random_seed: int = RANDOM_SEED):
        check_limits(DEFAULT_MAX_STEPS, max_memory, DEFAULT_MAX_OUTPUT)  # kept for callers; run() sets the cap
        from lupa import lua54  # pylint: disable=import-outside-toplevel  (reading datasets needs no lupa)

        self._lua54 = lua54
        self._runtime = lua54.LuaRuntime(
            encoding=None, register_eval=False, register_builtins=False, unpack_returned_tuples=True,
            max_memory=0)
        # Lupa registers a `python` module; the sandbox environment never references it, and we drop it from
        # the real globals too so no path leads to host objects.
        self._runtime.execute(b"python = nil; package.loaded.python = nil")
        new_tracer = self._runtime.execute(
            _trace.TRACER_LUA.encode(), CHUNK_NAME.encode(), _trace.MAX_ITEMS, _trace.SCAN_CAP,
            _trace.MAX_VALUE_CHARS, _trace.MAX_TABLE_DEPTH, _trace.MAX_DEPTH)
        self._run = self._runtime.execute(_SANDBOX_LUA.encode(), EXACT_STEPS, COARSE_STEPS, CHUNK_NAME.encode(),
                                          new_tracer)
        self._random_seed = random_seed

    def run(self, source: str, max_steps: int = DEFAULT_MAX_STEPS, max_memory: int = DEFAULT_MAX_MEMORY,
            max_output: int = DEFAULT_MAX_OUTPUT, trace: bool = False,
            max_trace_steps: int = DEFAULT_MAX_TRACE_STEPS) -> LuaResult:
        """Run `source` as a Lua 5.4 chunk with fresh globals; return its status, stdout, error and steps.

        `trace=True` also records the execution trace (at most `max_trace_steps` steps) in `LuaResult.trace`.
        """
        data = encode_source(source)
        max_steps, max_memory, max_output, max_trace_steps = check_limits(
            max_steps, max_memory, max_output, max_trace_steps)
        if not isinstance(trace, bool):
            raise ValueError(f"trace must be True or False, got {trace!r}")
        result = self._call(data, max_steps, max_memory, max_output, False, 0)
        if not trace:
            return result
        # The trace comes from a second run of the same program (fresh globals, same seed, so the same
        # execution), which cannot change the result above. It counts as cut where it does not reproduce that
        # run (the trace's own memory, or a program that reads its memory use) or the program hit a limit.
        traced = self._call(data, max_steps, max_memory, max_output, True, max_trace_steps)
        cut = (traced.trace_truncated or result.status not in ("ok", "error")
               or (traced.status, traced.stdout) != (result.status, result.stdout))
        return dataclasses.replace(result, trace=traced.trace, trace_truncated=cut)

    def _call(self, data: bytes, max_steps: int, max_memory: int, max_output: int, trace: bool,
              max_trace_steps: int) -> LuaResult:
        used = self._runtime.get_memory_used() or 0
        if used > 2**20:  # garbage of earlier runs must not count against this run's memory cap
            self._runtime.gccollect()
        empty = () if trace else None
        # The cap is armed by the Lua side once the arguments are on its stack: an allocation that fails
        # outside a protected call aborts the process (a Lua panic), which a tiny cap would otherwise cause.
        arm = functools.partial(self._runtime.set_max_memory, max_memory, False)
        try:
            status, stdout, error, steps, blob, truncated = self._run(
                arm, data, max_steps, max_output, self._random_seed, trace, max_trace_steps)
        except self._lua54.LuaMemoryError as exc:  # allocation failed in the sandbox's own bookkeeping
            self._runtime.set_max_memory(0)
            self._runtime.gccollect()
            return LuaResult("memory", "", str(exc) or "not enough memory", 0, empty, trace)
        except self._lua54.LuaError as exc:  # e.g. C stack exhausted outside the protected call
            return LuaResult("error", "", f"sandbox failure: {exc}", 0, empty, trace)
        finally:
            self._runtime.set_max_memory(0)
        return LuaResult(_decode(status), _decode(stdout), _decode(error), int(steps),
                         _trace.decode_trace(blob) if trace else None, bool(truncated))
