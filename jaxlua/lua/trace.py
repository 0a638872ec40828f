"""Execution traces recorded by the host while real Lua runs a program (`run_lua(source, trace=True)`).

A trace is the executed statements in order; each step holds the statement's line and the variables it changed,
with values formatted by Lua's own `tostring` (tables summarised deterministically). Pure Python: no lupa here, so
the tokenizer and the data pipeline can read traces anywhere; `TRACER_LUA` is the Lua source the sandbox runs.

How a step and its changes are found. A line hook, set by the host on the program's thread, fires whenever Lua
starts a new line (again at each loop iteration). Each event opens a step for that line. At the next event the
tracer compares the variables visible there with their last recorded values and gives the differences to the
step that just ran:
- locals of the running function (the innermost declaration of a name wins; compiler temporaries are skipped),
  compared per call frame, so a caller's locals are never compared with a callee's; a new frame's parameters
  count as changed by the calling line;
- globals of the program's environment under string keys, compared by value; library entries count only once
  the program reassigns them (edits inside a library table are not traced); a global hidden by a local of the
  same name is reported as `_ENV.name`.
When control returns to a caller and its locals changed (`local r = f(2)`), a step for the caller's line carries
those changes. Values are strings: numbers by `tostring`, strings as they are, `nil`/`true`/`false`, functions
as `function`; tables as `{1, 2, 3}` (array part in order) followed by the other keys sorted (`{n=1, x=2}`,
`[k]=v` for keys that are not names), nested two levels deep (`{...}` below), at most `MAX_ITEMS` entries
shown, and `...` where entries were left out (any table with more than `SCAN_CAP` entries shows only its array
part). A value is clipped to `MAX_VALUE_CHARS` bytes (then `...`), so changes past that point go unseen. Changes
within a step: locals in declaration order, then globals sorted by name. Only lines of the program itself are
traced (code compiled by `load` at run time is not); a local function's definition is reported on its `end`
line, as Lua's own line information has it. The tracer never calls a program's metamethods.

The trace stops, with `LuaResult.trace_truncated` set, after `max_trace_steps` steps, when calls nest more than
`MAX_DEPTH` deep, or when the tracer has used as many VM instructions as the program's `max_steps`; the program
itself runs on under its usual limits. Trace data counts against the memory limit.
"""
from __future__ import annotations

import dataclasses

MAX_ITEMS = 8
SCAN_CAP = 32
MAX_VALUE_CHARS = 200
MAX_TABLE_DEPTH = 2
MAX_DEPTH = 200
DEFAULT_MAX_TRACE_STEPS = 10_000


@dataclasses.dataclass(frozen=True)
class TraceStep:
    """One executed statement: its 1-based source `line` and `changes`, (variable name, new value) pairs."""

    line: int
    changes: tuple[tuple[str, str], ...] = ()


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")  # Lua strings are bytes; keep them byte-exact


def decode_trace(blob: bytes) -> tuple[TraceStep, ...]:
    """Parse the tracer's wire format: `<len>:<bytes>` fields; per step its line, the change count, then pairs."""
    fields, pos, end = [], 0, len(blob)
    while pos < end:
        colon = blob.index(b":", pos)
        start = colon + 1
        pos = start + int(blob[pos:colon])
        fields.append(blob[start:pos])
    steps, i = [], 0
    while i < len(fields):
        line, count = int(fields[i]), int(fields[i + 1])
        pairs = fields[i + 2:i + 2 + 2 * count]
        steps.append(TraceStep(line, tuple((_text(pairs[j]), _text(pairs[j + 1])) for j in range(0, len(pairs), 2))))
        i += 2 + 2 * count
    return tuple(steps)


def format_trace(trace: tuple[TraceStep, ...]) -> str:
    """One line per step, `line: name=value name=value`, for reading and for tests."""
    return "\n".join(f"{step.line}:" + "".join(f" {name}={value}" for name, value in step.changes)
                     for step in trace)


# Trusted Lua, run once per LuaRuntime in the real global environment. It returns `new_tracer(co, env, chunk,
# last_line, max_trace_steps, budget)`, which gives the tracer coroutine (resumed from the host's line hook
# with the line number, or with nil for the final look after the program ends) and a function returning the
# encoded trace and whether it was cut. The tracer reads the program's thread only through the debug library,
# which the program's environment does not contain.
TRACER_LUA = r"""
local CHUNK_NAME, MAX_ITEMS, SCAN_CAP, MAX_VALUE, TABLE_DEPTH, MAX_DEPTH = ...
local getinfo, getlocal, sethook = debug.getinfo, debug.getlocal, debug.sethook
local create, yield = coroutine.create, coroutine.yield
local next, rawget, rawlen, rawequal, type, tostring, error = next, rawget, rawlen, rawequal, type, tostring, error
local mtype, sfind, ssub, sbyte, sformat = math.type, string.find, string.sub, string.byte, string.format
local sort, concat = table.sort, table.concat
local LEVEL = 2  -- in the traced thread while its hook runs: 0 is resume, 1 the hook, 2 the traced function
local PRISTINE = {}  -- marks a global that still holds its library value

local fmt
local function clip(s)
  if #s > MAX_VALUE then return ssub(s, 1, MAX_VALUE) .. "..." end
  return s
end
local function summarise(t, depth)
  if depth >= TABLE_DEPTH then return "{...}" end
  local n = rawlen(t)
  local parts, np = {}, 0
  for i = 1, n < MAX_ITEMS and n or MAX_ITEMS do np = np + 1; parts[np] = fmt(rawget(t, i), depth + 1) end
  local more = n > MAX_ITEMS
  -- other keys: only when the whole table is small, since `next` order is not deterministic
  local keys, nk, seen, k = {}, 0, 0, nil
  repeat
    k = next(t, k)
    if k == nil then break end
    seen = seen + 1
    if seen > SCAN_CAP then nk = -1; more = true; break end
    if not (mtype(k) == "integer" and k >= 1 and k <= n) then nk = nk + 1; keys[nk] = k end
  until false
  if nk > 0 then
    local entries = {}
    for i = 1, nk do
      local key = keys[i]
      local name = type(key) == "string" and sfind(key, "^[%a_][%w_]*$") and key or "[" .. fmt(key, depth + 1) .. "]"
      entries[i] = name .. "=" .. fmt(rawget(t, key), depth + 1)
    end
    sort(entries)
    for i = 1, nk do
      if np >= MAX_ITEMS then more = true; break end
      np = np + 1; parts[np] = entries[i]
    end
  end
  if more then np = np + 1; parts[np] = "..." end
  return "{" .. concat(parts, ", ", 1, np) .. "}"
end
fmt = function(v, depth)
  local tv = type(v)
  if tv == "string" then return clip(v)
  elseif tv == "number" then return tostring(v)  -- numbers have no metatable a program can set
  elseif tv == "nil" then return "nil"
  elseif tv == "boolean" then return v and "true" or "false"
  elseif tv == "table" then return clip(summarise(v, depth or 0))
  end
  return tv
end

return function(co, env, chunk, last_line, max_trace_steps, budget)
  local steps, nsteps, truncated = {}, 0, false
  local frames, cur_depth = {}, 0
  local graw, gfmt = {}, {}
  for k, v in next, env do
    if type(k) == "string" then graw[k] = v; gfmt[k] = PRISTINE end
  end

  local function depth_now()
    -- levels of the traced thread below the traced function; nil when deeper than MAX_DEPTH
    if getinfo(co, LEVEL + MAX_DEPTH, "") then return nil end
    local d = cur_depth
    if d > 0 and getinfo(co, LEVEL + d - 1, "") and not getinfo(co, LEVEL + d, "") then return d end
    local lo, hi = 1, MAX_DEPTH + 1  -- level LEVEL + lo - 1 exists, LEVEL + hi - 1 does not
    while hi - lo > 1 do
      local mid = (lo + hi) // 2
      if getinfo(co, LEVEL + mid - 1, "") then lo = mid else hi = mid end
    end
    return lo
  end

  local function global_changes(shadowed, out, no)
    local changed, nc = {}, 0
    for k, v in next, env do
      if type(k) == "string" then
        local old = gfmt[k]
        if not (rawequal(v, graw[k]) and (old == PRISTINE or type(v) ~= "table")) then
          local s = fmt(v)
          if s ~= old then nc = nc + 1; changed[nc] = k; gfmt[k] = s end
          graw[k] = v
        end
      end
    end
    for k, old in next, gfmt do
      if old ~= "nil" and rawget(env, k) == nil then nc = nc + 1; changed[nc] = k; gfmt[k] = "nil"; graw[k] = nil end
    end
    sort(changed)
    for i = 1, nc do
      local k = changed[i]
      out[no + 1] = shadowed[k] and "_ENV." .. k or k; out[no + 2] = gfmt[k]; no = no + 2
    end
    return no
  end

  local function emit(line)
    if nsteps >= max_trace_steps then truncated = true; return nil end
    nsteps = nsteps + 1
    local step = {line}
    steps[nsteps] = step
    return step
  end

  local function attach(step, changes, n)
    if step == nil then return end
    for i = 1, n do step[#step + 1] = changes[i] end
  end

  -- one line event; returns false when tracing must stop
  local function record(line, func)
    local depth = depth_now()
    if depth == nil then truncated = true; return false end
    for d = depth + 1, cur_depth do frames[d] = nil end
    local frame = frames[depth]
    if frame == nil or frame.func ~= func then
      frame = {func = func, vals = {}, step = nil}
      frames[depth] = frame
    end
    local returned = depth < cur_depth
    cur_depth = depth
    local vals, names, values, nn = frame.vals, {}, {}, 0
    local i = 1
    while true do
      local name, value = getlocal(co, LEVEL, i)
      if name == nil then break end
      if sbyte(name) ~= 40 then  -- "(": compiler temporaries such as "(for state)"
        if values[name] == nil then nn = nn + 1; names[nn] = name end
        values[name] = fmt(value)
      end
      i = i + 1
    end
    local changes, nc = {}, 0
    for j = 1, nn do
      local name = names[j]
      local s = values[name]
      if vals[name] ~= s then changes[nc + 1] = name; changes[nc + 2] = s; nc = nc + 2 end
    end
    frame.vals = values
    nc = global_changes(values, changes, nc)
    if returned and nc > 0 and frame.line then
      local step = emit(frame.line)
      if step == nil then return false end
      attach(step, changes, nc)
    else
      attach(steps[nsteps], changes, nc)
    end
    if func == chunk and line == last_line then return true end  -- the chunk's final return: not a statement
    if emit(line) == nil then return false end
    frame.line = line
    return true
  end

  local used = 0
  local tracer = create(function(line)
    while true do
      local keep = true
      if line == nil then  -- the program ended: only globals are left to compare
        local changes = {}
        attach(steps[nsteps], changes, global_changes({}, changes, 0))
      else
        local info = getinfo(co, LEVEL, "Sf")
        if info and info.source == CHUNK_NAME then keep = record(line, info.func) end
      end
      line = yield(keep)
    end
  end)
  sethook(tracer, function()
    used = used + 1000
    if used > budget then error("trace budget exhausted", 0) end
  end, "", 1000)

  local function result(cut)
    local out, no = {}, 0
    -- never tostring on a string: the program may have set a __tostring on the string metatable
    local function put(s)
      if type(s) == "number" then s = sformat("%d", s) end
      no = no + 1; out[no] = #s .. ":" .. s
    end
    for s = 1, nsteps do
      -- whole (name, value) pairs only: the trace budget can stop `attach` between a name and its value
      local step = steps[s]
      local pairs = (#step - 1) // 2
      put(step[1]); put(pairs)
      for j = 2, 1 + 2 * pairs do put(step[j]) end
    end
    return concat(out, "", 1, no), truncated or cut
  end
  return tracer, result
end
"""
