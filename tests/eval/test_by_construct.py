"""Construct groups and exact match per group (jaxlua.eval.by_construct is NumPy only)."""
import subprocess
import sys

import pytest

from jaxlua.eval import by_construct as C
from jaxlua.lua.coverage import CONSTRUCTS


def test_by_construct_imports_no_jax():
    code = "import sys, jaxlua.eval.by_construct; assert 'jax' not in sys.modules, 'jax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_fine_construct_is_in_exactly_one_group_or_ungrouped():
    placed = [name for fines in C.CONSTRUCT_GROUPS.values() for name in fines] + list(C.UNGROUPED)
    assert sorted(placed) == sorted(CONSTRUCTS)  # no construct forgotten, none twice, no unknown name
    assert C.GROUP_NAMES[-1] == C.FLOAT_OUTPUT and len(set(C.GROUP_NAMES)) == len(C.GROUP_NAMES)


@pytest.mark.parametrize("stdout,expected", [
    ("0.5\n", True), ("x = 2.0\n", True), ("1e+20\n", True), ("inf\n", True), ("-nan\n", True),
    ("-inf\t3\n", True), ("12\n", False), ("1.\n", False), ("banana info\n", False), ("v 3 . 4\n", False),
    ("", False),
])
def test_prints_float(stdout, expected):
    assert C.prints_float(stdout) is expected


def test_groups_of_real_programs():
    recursive = ("local function f(n)\n  if n == 0 then return 0 end\n  return n + f(n - 1)\nend\n"
                 "print(f(3))\n")
    fine = C.program_constructs(recursive)
    assert {"function", "recursion", "if", "comparison", "return", "print", "local"} <= set(fine)
    assert fine == [name for name in CONSTRUCTS if name in fine]  # CONSTRUCTS order
    assert C.construct_groups(fine, "6\n") == ["conditionals", "logic", "functions", "recursion", "arithmetic",
                                                "integer_output"]
    assert C.construct_groups([], "ab\nv2\n") == [] and C.construct_groups([], "-3\n") == ["integer_output"]
    assert C.construct_groups([], "1\n0.5\n") == ["float_output"]

    loop = 'local t = {}\nfor i = 1, 3 do t[#t + 1] = string.rep("a", i) end\nprint(#t / 2)\n'
    assert C.construct_groups(C.program_constructs(loop), "1.5\n") == [
        "loops", "tables", "string_library", "arithmetic", "float_output"]  # integers too: a float was printed
    assert C.construct_groups(C.program_constructs('print("hi")\n'), "hi\n") == []  # only ungrouped ones
    assert C.construct_groups(["print", "math.max"], "2\n") == ["math_library", "integer_output"]


def test_per_construct_by_hand():
    breakdown = C.per_construct([1.0, 0.0, 1.0, 0.0],
                                [["loops"], ["loops", "tables"], [], ["tables", "float_output"]])
    assert list(breakdown) == list(C.GROUP_NAMES)  # every group, in order, even empty ones
    assert breakdown["loops"] == {"n": 2, "exact_match": 0.5}
    assert breakdown["tables"] == {"n": 2, "exact_match": 0.0}
    assert breakdown["float_output"] == {"n": 1, "exact_match": 0.0}
    assert breakdown["recursion"] == {"n": 0, "exact_match": None}
    table = C.format_construct_table(breakdown).splitlines()
    assert table[:2] == ["| construct | N | EM |", "|---|---|---|"]
    assert table[2:] == ["| loops | 2 | 0.5000 |", "| tables | 2 | 0.0000 |", "| float_output | 1 | 0.0000 |"]


def test_per_construct_rejects_bad_input():
    with pytest.raises(ValueError, match="one group list per program"):
        C.per_construct([1.0], [])
    with pytest.raises(ValueError, match="unknown construct group 'loop'"):
        C.per_construct([1.0], [["loop"]])
