"""constructs(): lexical construct detection on hand-written programs, and the generator covering them all."""
import collections

import pytest

from jaxlua.lua.coverage import CONSTRUCTS, constructs, identifiers, string_literals
from jaxlua.lua.generator import ProgramGenerator

# The dissertation's Figure 5.5, as people write it.
MIN_MAX = '''function getMinMax(numbers)
    local min = numbers[1]
    local max = numbers[1]
    for i = 2, #numbers do
        if numbers[i] < min then
            min = numbers[i]
        end
    end
    return min, max
end
local values = {7, 2, 9, 4, 5}
local minimum, maximum = getMinMax(values)
print("In the given set, the minimum is " .. minimum .. " and the maximum is " .. maximum)
'''


def test_figure_program_constructs():
    assert constructs(MIN_MAX) == {
        "function", "local", "indexing", "for_numeric", "length", "if", "comparison", "return",
        "multiple_returns", "table_array", "multiple_assignment", "print", "string_literal", "concat"}


@pytest.mark.parametrize("source, expected, absent", [
    ('message = "Hello World"\nprint(string.upper(message))', {"print", "string.upper", "string_literal"},
     {"method_call", "local"}),
    ("local s = 'abc'\nprint(s:upper(), s:sub(2, 3))", {"method_call", "string.upper", "string.sub"},
     {"string.lower"}),
    ("local function fact(n)\n  if n <= 1 then return 1 end\n  return n * fact(n - 1)\nend\nprint(fact(5))",
     {"recursion", "function", "arithmetic"}, {"multiple_returns", "negative_number"}),
    ("local function f(n) return n end\nlocal function g(n) return f(n) end\nprint(g(2))",
     {"function"}, {"recursion"}),
    ("for k, v in pairs({3, 4}) do print(k, v) end\nfor i, v in ipairs({1}) do break end",
     {"for_generic", "pairs", "ipairs", "break", "table_array"}, {"for_numeric"}),
    ("local p = {pos = {x = 1}, name = \"a\\tb\"}\nprint(p.pos.x, -p.pos.x, 7 / 2, 7 // 2, 2^3, 7 % 2, 1.5)",
     {"table_record", "nested_table", "field_access", "negative_number", "float_division", "floor_division",
      "power", "modulo", "float_literal", "string_escape"}, {"table_array"}),
    ("local t = {}\ntable.insert(t, 1)\ntable.sort(t)\nprint(table.concat(t, ','), table.remove(t), #t)",
     {"table.insert", "table.sort", "table.concat", "table.remove", "length"}, {"table_array", "table_record"}),
    ("print(math.max(1, 2), math.floor(2.5), math.sqrt(4), math.fmod(7, 3), tostring(1), tonumber('2'))",
     {"math.max", "math.floor", "math.sqrt", "math.fmod", "tostring", "tonumber"}, {"math.min"}),
    ("local i = 0\nwhile i < 3 do i = i + 1 end\nrepeat i = i - 1 until i == 0\nio.write(i, '\\n')",
     {"while", "repeat", "io.write", "arithmetic", "comparison"}, {"for_numeric", "negative_number"}),
    ('print(string.find("a.b", ".", 1, true), string.gsub("aXa", "a", "b"), string.format("%d", 3))',
     {"string.find", "string.gsub", "string.format"}, {"string.rep"}),
    ("-- print(string.rep('x', 2)) if while\nprint(\"if x then return a, b end\")", {"print", "string_literal"},
     {"string.rep", "if", "return", "multiple_returns"}),
])
def test_hand_written_snippets(source, expected, absent):
    found = constructs(source)
    assert expected <= found, expected - found
    assert not found & absent, found & absent
    assert found <= set(CONSTRUCTS)


def test_strings_and_identifiers():
    assert string_literals(MIN_MAX) == ['"In the given set, the minimum is "', '" and the maximum is "']
    names = identifiers(MIN_MAX)
    assert {"getMinMax", "numbers", "min", "max", "values", "minimum", "maximum", "i"} == set(names)
    assert identifiers("local p = {x = 1}\nprint(p.x, string.upper('a'))") == ["p", "x", "p"]


def test_dissertation_levels_cover_every_construct():
    generator = ProgramGenerator(31)
    counts = collections.Counter()
    for i in range(600):
        counts.update(constructs(generator.sample(1 + i % 3)))
    missing = [name for name in CONSTRUCTS if counts[name] == 0]
    assert not missing, missing
