"""run_lua against outputs recorded from the reference lua5.4 (5.4.4) interpreter.

The expected strings were produced by `lua5.4 - < prog.lua`; the differential test at the end re-checks
generated programs against a local lua5.4 binary when one is installed (skipped otherwise).
"""
import shutil
import subprocess

import pytest

from jaxlua.lua import run_lua
from jaxlua.lua.generator import LEVELS, ProgramGenerator

# name -> (program, stdout of lua5.4)
GOLDEN = {
    'int_float': (
        'print(1, 1.0, -0.0, 3 / 2, 4 / 2, 2^10, 2^0.5, 10 // 3, 10.0 // 3, -7 // 2, 7 // -2.0)',
        '1\t1.0\t-0.0\t1.5\t2.0\t1024.0\t1.4142135623731\t3\t3.0\t-4\t-4.0\n',
    ),
    'mod': (
        'print(7 % 3, -7 % 3, 7 % -3, 5.5 % 2, -5.5 % 2, 3 % math.huge, -3 % math.huge)',
        '1\t2\t-2\t1.5\t0.5\t3.0\tinf\n',
    ),
    'big': (
        'print(2^53, 2^63, math.maxinteger, math.mininteger, math.maxinteger + 1, 1e15, 1e16, 123456789012, 0.1 + 0.2)',
        '9.007199254741e+15\t9.2233720368548e+18\t9223372036854775807\t-9223372036854775808\t-9223372036854775808\t1e+15\t1e+16\t123456789012\t0.3\n',
    ),
    'division': (
        'print(5/7, 1/3, 100/7, 1e300*1e10, -1e300*1e10, 7 // 0.0, -7 // 0.0)',
        '0.71428571428571\t0.33333333333333\t14.285714285714\tinf\t-inf\tinf\t-inf\n',
    ),
    'format': (
        'print(string.format("%d|%5d|%-5d|%05.1f|%.3f|%g|%g|%s|%q|%x|%X|%o|%e|%c|%%", 42, 7, 7, 3.14159, 2/3, 1e20, 0.1, nil, "a\\tb", 255, 255, 8, 12345.678, 65))',
        '42|    7|7    |003.1|0.667|1e+20|0.1|nil|"a\\9b"|ff|FF|10|1.234568e+04|A|%\n',
    ),
    'format_s': (
        'print(string.format("%s %s %s %10s|%-6s|", true, 1.5, 10, "hi", "x"))',
        'true 1.5 10         hi|x     |\n',
    ),
    'nil_bool': (
        'print(nil, true, false, not nil, nil == false, 1 == 1.0, "1" == 1)',
        'nil\ttrue\tfalse\ttrue\tfalse\ttrue\tfalse\n',
    ),
    'multi_return': (
        'local function f() return 1, 2, 3 end print(f()) print(f(), 10) print((f())) local a, b, c, d = f() print(a, b, c, d)',
        '1\t2\t3\n1\t10\n1\n1\t2\t3\tnil\n',
    ),
    'tabs': (
        'print("a\\tb", "c") print("x", nil, "y")',
        'a\tb\tc\nx\tnil\ty\n',
    ),
    'io_write': (
        'io.write("no newline") io.write(1, " ", 2.0, " ", -0.0, " ", 1e100, "\\n") io.write("end")',
        'no newline1 2 -0 1e+100\nend',
    ),
    'concat_numbers': (
        'print(1 .. "", 1.0 .. "", 2^63 .. "", -0.0 .. "|", 10 // 3 .. "x")',
        '1\t1.0\t9.2233720368548e+18\t-0.0|\t3x\n',
    ),
    'tostring_tonumber': (
        'print(tostring(12), tostring(1.5e300), tonumber("0x10"), tonumber("  12  "), tonumber("1e2"), tonumber("abc"), tonumber("10", 2), math.tointeger(3.0))',
        '12\t1.5e+300\t16\t12\t100.0\tnil\t2\t3\n',
    ),
    'strings': (
        'local s = "Hello World" print(s:upper(), s:lower(), #s, s:len(), s:rep(2, "-"), s:sub(2, 4), s:sub(-3), s:reverse(), s:find("o"), s:match("%u%l+"), s:gsub("o", "0"), s:byte(1), string.char(72, 105))',
        'HELLO WORLD\thello world\t11\t11\tHello World-Hello World\tell\trld\tdlroW olleH\t5\tHello\tHell0 W0rld\t72\tHi\n',
    ),
    'math': (
        "print(math.max(3, 7.5, 2), math.min(4, -1), math.floor(3.7), math.floor(-3.2), math.ceil(3.2), math.abs(-4), math.abs(-4.5), math.sqrt(16), math.pi, math.huge, -math.huge, math.fmod(7, 3), math.type(1), math.type(1.0), math.type('1'))",
        '7.5\t-1\t3\t-4\t4\t4\t4.5\t4.0\t3.1415926535898\tinf\t-inf\t1\tinteger\tfloat\tnil\n',
    ),
    'tables': (
        'local t = {5, 3, 8, 1} table.insert(t, 4) table.insert(t, 1, 9) table.sort(t) print(#t, table.concat(t, ", "), t[1], t[#t], t[10]) local r = {name = "lua", age = 30} r.age = r.age + 1 print(r.name, r["age"], r.missing) for i, v in ipairs({"a", "b", "c"}) do io.write(i, "=", v, " ") end print() print(table.unpack({1, 2, 3})) print(select("#", table.unpack({1, nil, 3}, 1, 3)))',
        '6\t1, 3, 4, 5, 8, 9\t1\t9\tnil\nlua\t31\tnil\n1=a 2=b 3=c \n1\t2\t3\n3\n',
    ),
    'sort_cmp': (
        'local t = {3, 1, 2} table.sort(t, function(a, b) return a > b end) print(table.concat(t, " ")) local w = {"pear", "apple", "fig"} table.sort(w) print(table.concat(w, ","))',
        '3 2 1\napple,fig,pear\n',
    ),
    'control': (
        'for i = 10, 1, -3 do io.write(i, " ") end print() for i = 1, 3 do if i == 2 then break end print(i) end local n = 0 repeat n = n + 1 until n >= 3 print(n) local k = 5 while k > 0 do k = k - 2 end print(k) for x = 1.0, 2.0, 0.5 do io.write(x, " ") end print()',
        '10 7 4 1 \n1\n3\n-1\n1 1.5 2 \n',
    ),
    'recursion': (
        'local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end print(fact(10), fact(20), fact(21)) local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end print(fib(15))',
        '3628800\t2432902008176640000\t-4249290049419214848\n610\n',
    ),
    'closures': (
        'local function counter() local c = 0 return function() c = c + 1 return c end end local a = counter() a() print(a(), counter()())',
        '2\t1\n',
    ),
    'pcall_errors': (
        'print(pcall(error, "msg")) print(pcall(error, "msg", 0)) print(pcall(function() local x = nil return x.y end)) print(type(select(2, pcall(function() error({code = 1}) end)))) print(select(2, pcall(function() error("deep") end)))',
        "false\tmsg\nfalse\tmsg\nfalse\tstdin:1: attempt to index a nil value (local 'x')\ntable\nstdin:1: deep\n",
    ),
    'goto_varargs': (
        'local function f(...) return select("#", ...), ... end print(f(1, nil, 3)) for i = 1, 3 do if i == 2 then goto continue end print(i) ::continue:: end',
        '3\t1\tnil\t3\n1\n3\n',
    ),
    'utf8_integer_ops': (
        'print(utf8.char(72, 228, 8364), utf8.len("häh"), #"ä", 5 & 3, 5 | 3, 5 ~ 3, ~0, 1 << 4, 256 >> 4, 7 // 2 * 2)',
        'Hä€\t3\t2\t1\t7\t6\t-1\t16\t16\t6\n',
    ),
    'string_coercion': (
        'print("10" + 5, "3" * "4", 10 .. 20, "2" ^ 2, -"2", "0x10" + 0, 10 == "10")',
        '15\t12\t1020\t4.0\t-2\t16\tfalse\n',
    ),
    'load_text': (
        'local f = load("return 1 + 1") print(f()) print(load("syntax error here")) x = 5 print(load("return x")()) print(type(load(function() return nil end)))',
        '2\nnil\t[string "syntax error here"]:1: syntax error near \'error\'\n5\nfunction\n',
    ),
    'integer_overflow': (
        'print(math.maxinteger * 2, math.mininteger - 1, -math.mininteger, math.mininteger // -1, math.maxinteger + 0.0)',
        '-2\t9223372036854775807\t-9223372036854775808\t-9223372036854775808\t9.2233720368548e+18\n',
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_stdout_matches_lua54(name):
    source, expected = GOLDEN[name]
    result = run_lua(source)
    assert result.status == "ok", result.error
    assert result.stdout == expected
    assert result.error is None
    assert result.steps > 0


def test_error_keeps_output_so_far_and_reports_position():
    result = run_lua('print("before")\nlocal t = nil\nprint(t.x)\nprint("after")')
    assert result.status == "error"
    assert result.stdout == "before\n"
    assert result.error == "stdin:3: attempt to index a nil value (local 't')"


def test_syntax_error_is_an_error_status():
    result = run_lua("print(1")
    assert result.status == "error"
    assert result.stdout == ""
    assert "expected" in result.error


def test_steps_count_vm_instructions_exactly_for_small_programs():
    # `local s = 0; for i = 1, n do s = s + i end` is 2 instructions per iteration plus a fixed prologue.
    small = run_lua("local s = 0 for i = 1, 100 do s = s + i end").steps
    large = run_lua("local s = 0 for i = 1, 200 do s = s + i end").steps
    assert large - small == 200


def test_invalid_limits_are_rejected():
    with pytest.raises(ValueError, match="max_steps"):
        run_lua("print(1)", max_steps=0)
    with pytest.raises(ValueError, match="timeout"):
        run_lua("print(1)", timeout=-1)
    with pytest.raises(TypeError):
        run_lua(b"print(1)")


@pytest.mark.skipif(shutil.which("lua5.4") is None, reason="lua5.4 binary not installed")
@pytest.mark.parametrize("level", LEVELS)
def test_generated_programs_match_reference_interpreter(level):
    generator = ProgramGenerator(1234 + level)
    for _ in range(15):
        source, result = generator.sample_verified(level)
        reference = subprocess.run(["lua5.4", "-"], input=source.encode(), capture_output=True, timeout=10)
        assert reference.returncode == 0, reference.stderr
        assert result.stdout == reference.stdout.decode(), source
