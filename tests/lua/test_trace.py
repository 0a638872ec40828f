"""Execution traces (`trace=True`): contents on hand-checked programs, determinism, caps, and tamper-proofing."""
import pytest

from jaxlua.lua import LuaSandbox, ProgramGenerator, run_lua
from jaxlua.lua.trace import TraceStep, decode_trace, format_trace


@pytest.fixture(scope="module")
def sandbox():
    return LuaSandbox()


def traced(sandbox, source, **limits):
    result = sandbox.run(source, trace=True, **limits)
    assert result.status == "ok", result
    assert not result.trace_truncated
    return format_trace(result.trace)


def test_loop_iterations_repeat_their_lines(sandbox):
    source = "local s = 0\nfor i = 1, 3 do\n  s = s + i\nend\nprint(s)"
    assert traced(sandbox, source) == "\n".join([
        "1: s=0", "2: i=1", "3: s=1", "2: i=2", "3: s=3", "2: i=3", "3: s=6", "2:", "5:"])


def test_recursion_binds_parameters_per_frame_and_the_caller_completes(sandbox):
    source = ("local function f(n)\n  if n == 0 then return 0 end\n  return n + f(n - 1)\nend\n"
              "local r = f(2)\nprint(r)")
    # a local function is defined on its `end` line (Lua's line information); the call's binding of n goes
    # to the calling line, and `local r = f(2)` completes in a step of its own once f has returned
    assert traced(sandbox, source) == "\n".join([
        "4: f=function", "5: n=2", "2:", "3: n=1", "2:", "3: n=0", "2:", "5: r=3", "6:"])


def test_tables_insert_and_assign(sandbox):
    source = ('local t = {}\ntable.insert(t, 10)\nt[2] = "b"\nt.name = "x"\nt.inner = {1, {2}}\n'
              "table.remove(t, 1)\nprint(#t)")
    assert traced(sandbox, source) == "\n".join([
        "1: t={}", "2: t={10}", "3: t={10, b}", "4: t={10, b, name=x}", "5: t={10, b, inner={1, {...}}, name=x}",
        "6: t={b, inner={1, {...}}, name=x}", "7:"])


def test_big_tables_are_summarised_deterministically(sandbox):
    source = ("local a = {}\nfor i = 1, 40 do a[i] = i end\nlocal r = {}\nfor i = 1, 40 do r['k' .. i] = i end\n"
              "local small = {b = 2, a = 1, [true] = 0, [2.5] = 1}\nprint(1)")
    result = sandbox.run(source, trace=True)
    last = dict(result.trace[-2].changes)
    assert last == {"small": "{[2.5]=1, [true]=0, a=1, b=2}"}
    values = {name: value for step in result.trace for name, value in step.changes}
    assert values["a"] == "{1, 2, 3, 4, 5, 6, 7, 8, ...}"
    assert values["r"] == "{...}"  # too many keys to sort in bounded work: shown only as an ellipsis
    assert sandbox.run(source, trace=True).trace == result.trace


def test_shadowing_locals_and_globals(sandbox):
    source = "x = 1\nlocal x = 2\ndo\n  local x = 3\n  _G.x = 4\nend\nprint(x)"
    # `do` and `end` run no instructions; leaving the block shows the outer x again at the next line
    assert traced(sandbox, source) == "\n".join(["1: x=1", "2: x=2", "4: x=3", "5: x=2 _ENV.x=4", "7:"])


def test_multiple_assignment_and_swap(sandbox):
    source = "local a, b = 1, 2\na, b = b, a\nlocal c, d = (function() return 5, 6 end)()\nprint(a, b, c, d)"
    assert traced(sandbox, source) == "\n".join([
        "1: a=1 b=2", "2: a=2 b=1", "3:", "3:", "3: c=5 d=6", "4:"])  # line 3, the function's body, line 3 done


def test_values_use_lua_tostring_and_removed_globals_read_nil(sandbox):
    source = ('g = 7 / 2\nh = 2^3\ni = 10 // 3\nj = "s p"\nk = print\nl = nil\ng = nil\nprint(1)')
    assert traced(sandbox, source) == "\n".join([
        "1: g=3.5", "2: h=8.0", "3: i=3", "4: j=s p", "5: k=function", "6:", "7: g=nil", "8:"])


def test_no_trace_by_default_and_results_match_the_untraced_run(sandbox):
    generator = ProgramGenerator(seed=3)
    for level in (4, 5, 6, 7):
        source = generator.sample(level)
        plain, with_trace = sandbox.run(source), sandbox.run(source, trace=True)
        assert plain.trace is None and with_trace.trace
        assert (plain.status, plain.stdout, plain.error, plain.steps) == (
            with_trace.status, with_trace.stdout, with_trace.error, with_trace.steps)
        assert run_lua(source, trace=True) == with_trace


def test_trace_cap_sets_the_truncated_flag(sandbox):
    source = "local n = 0\nwhile n < 100 do\n  n = n + 1\nend"
    result = sandbox.run(source, trace=True, max_trace_steps=10)
    assert result.status == "ok" and result.trace_truncated and len(result.trace) == 10
    assert not sandbox.run(source, trace=True, max_trace_steps=1000).trace_truncated


def test_a_program_stopped_by_a_limit_has_a_cut_trace(sandbox):
    result = sandbox.run("local n = 0\nwhile true do\n  n = n + 1\nend", max_steps=500, trace=True)
    assert result.status == "timeout" and result.trace_truncated and result.trace


TAMPER = {
    "debug_is_absent": "print(debug, rawget(_G, 'debug'), package)",
    "no_hook_in_globals": "for k, v in pairs(_G) do if type(v) == 'function' then v = nil end end print('ok')",
    "string_tostring_metamethod": ('getmetatable("").__tostring = function() return "hacked" end\n'
                                   'local s = "abc"\nprint(#s)'),
    "table_metamethods": ('local t = setmetatable({}, {__index = function() while true do end end,\n'
                          '  __len = function() error("len") end, __pairs = function() error("pairs") end,\n'
                          '  __tostring = function() error("tostring") end, __name = "evil"})\nt[1] = 5\nprint(1)'),
    "error_objects": "local ok, e = pcall(error, {})\nprint(ok, type(e), debug)",
    "load_environment": 'local f = load("return debug, _ENV.debug")\nprint(f())',
    "load_with_the_chunk_name": 'local f = load("x = 1\\nreturn debug", "=stdin")\nprint(f(), x)',
}


@pytest.mark.parametrize("name", sorted(TAMPER))
def test_a_program_cannot_reach_or_disturb_the_tracer(sandbox, name):
    source = TAMPER[name]
    plain = sandbox.run(source, max_steps=100_000)
    result = sandbox.run(source, max_steps=100_000, trace=True)
    assert (result.status, result.stdout) == (plain.status, plain.stdout)
    assert result.status == "ok", result
    assert not result.trace_truncated and result.trace
    assert "debug" not in result.stdout.replace("nil", "") and "function" not in result.stdout
    values = {value for step in result.trace for _, value in step.changes}
    assert "hacked" not in values and not any("0x" in value for value in values)


def test_globals_flood_is_cut_by_the_tracer_budget(sandbox):
    source = "for i = 1, 3000 do _G['g' .. i] = {i} end\nlocal n = 0\nwhile n < 400 do\n  n = n + 1\nend"
    result = sandbox.run(source, max_steps=100_000, trace=True)
    assert result.status == "ok" and result.trace_truncated


def test_generated_programs_trace_deterministically(sandbox):
    generator = ProgramGenerator(seed=11)
    sources = [generator.sample(level) for level in (4, 5, 6, 7) for _ in range(3)]
    first = [sandbox.run(source, trace=True).trace for source in sources]
    assert [LuaSandbox().run(source, trace=True).trace for source in sources] == first
    assert all(trace and all(isinstance(step, TraceStep) for step in trace) for trace in first)


def test_decode_trace_round_trips_arbitrary_bytes():
    name, value = b"x", b"a:b\n\xff 3:"
    blob = b"".join(b"%d:%s" % (len(f), f) for f in (b"12", b"1", name, value, b"13", b"0"))
    assert decode_trace(blob) == (TraceStep(12, (("x", "a:b\n\udcff 3:"),)), TraceStep(13, ()))



# A generated level-3 program (stream seed 0, vocabulary slot 3500) on which the tracer's budget (a share of
# max_steps) ran out between a changed name and its value.
BUDGET_CUT_PROGRAM = """\
local size = 7
local wanPou = string.reverse(("PLOUNG") .. ("broup"))
local beest = string.upper("vour, cel: atzum")
local proop = {1, 2}
local function larGrep(a, w, fos_aind)
    if 1 == 3 then
        return 5 - a
    end
    return 9 // 7
end
print(larGrep((proop[2]) * 2, size + 4, 1))
local vet_cheem = 5
local round = 0
repeat
    vet_cheem = vet_cheem + (vet_cheem - (proop[1]))
    print(true)
    local puckplep = size
    round = round + 1
until round >= 2
print(table.concat(proop, ","))
for i = 9, 5, -1 do
    size = size + ((proop[2]) // 7)
    local shai60 = wanPou
end
local koumPrup, flum_vin, thea_veart = math.fmod(6, 2), size % 2, math.abs(round)
for beap = 10, 8, -1 do
    wanPou = wanPou .. (string.lower(beest))
end
local sle = {0, 7}
if (math.abs(vet_cheem)) ~= round then
    size = size + (vet_cheem + size)
    sle[#sle + 1] = (sle[2]) // 4
end
print(table.concat(sle, ""))
local droom85 = 4
while droom85 < 13 do
    if size < (sle[2]) then break end
    round = round * (thea_veart + flum_vin)
    local n = math.fmod(flum_vin, 4)
    droom85 = droom85 + 2
end
print(vet_cheem)
print((-2) >= size)
"""


def test_the_tracer_budget_never_cuts_a_change_in_half(sandbox):
    """The trace then ends with whole (name, value) pairs, flagged as cut, not a wire format the host cannot read."""
    result = sandbox.run(BUDGET_CUT_PROGRAM, max_steps=100_000, trace=True)
    assert result.status == "ok" and result.trace_truncated
    assert result.stdout == sandbox.run(BUDGET_CUT_PROGRAM).stdout
    assert all(len(pair) == 2 and all(isinstance(x, str) for x in pair) for step in result.trace
               for pair in step.changes)
