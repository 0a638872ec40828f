"""Exact match broken down by what a program does: loops, functions, tables, library calls, floats printed.

NumPy side (no JAX). The fine constructs come from `jaxlua.lua.coverage.constructs` (lexical, one set per
program); `CONSTRUCT_GROUPS` maps them onto a dozen readable groups, and `float_output` / `integer_output` (numbers
printed, all of them integers) are read off the true stdout (a program whose output holds a float is harder than
its source alone says). A program counts in every
group it touches, so the groups overlap and their sizes do not add up to the number of programs.
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

import numpy as np

from jaxlua.lua.coverage import CONSTRUCTS, MATH_FUNCTIONS, STRING_FUNCTIONS, TABLE_FUNCTIONS, constructs

FLOAT_OUTPUT = "float_output"
INTEGER_OUTPUT = "integer_output"  # prints numbers, every one an integer (the other side of FLOAT_OUTPUT)

# Group -> the fine constructs that put a program in it (group order is the order of every report).
CONSTRUCT_GROUPS: dict[str, tuple[str, ...]] = {
    "loops": ("for_numeric", "for_generic", "while", "repeat", "break"),
    "conditionals": ("if", "elseif", "else"),
    "logic": ("and", "or", "not", "comparison", "boolean"),
    "functions": ("function", "return", "multiple_returns", "method_call"),
    "recursion": ("recursion",),
    "tables": ("table_array", "table_record", "nested_table", "length", "indexing", "field_access", "ipairs",
               "pairs", *(f"table.{name}" for name in TABLE_FUNCTIONS)),
    "string_library": tuple(f"string.{name}" for name in STRING_FUNCTIONS),
    "math_library": tuple(f"math.{name}" for name in MATH_FUNCTIONS),
    "strings": ("string_escape", "concat", "tostring", "tonumber"),
    "arithmetic": ("arithmetic", "float_division", "floor_division", "modulo", "power", "negative_number",
                   "float_literal"),
}
# Constructs nearly every program uses, which would make a group of (almost) all programs.
UNGROUPED: tuple[str, ...] = ("print", "io.write", "string_literal", "local", "multiple_assignment", "nil")
GROUP_NAMES: tuple[str, ...] = (*CONSTRUCT_GROUPS, INTEGER_OUTPUT, FLOAT_OUTPUT)

_GROUP_OF: dict[str, str] = {fine: group for group, fines in CONSTRUCT_GROUPS.items() for fine in fines}
# A number with a fraction or an exponent as Lua prints it (2.0, 0.5, 1e+20), or inf/nan.
_FLOAT = re.compile(r"\d\.\d|\d[eE][+-]?\d|(?<![A-Za-z0-9_])-?(?:inf|nan)(?![A-Za-z0-9_])")
_NUMBER = re.compile(r"(?<![A-Za-z_])\d")


def prints_float(stdout: str) -> bool:
    """Whether the output holds a float (a fraction, an exponent, inf or nan)."""
    return bool(_FLOAT.search(stdout))


def program_constructs(source: str) -> list[str]:
    """The fine constructs `source` uses, in CONSTRUCTS order."""
    found = constructs(source)
    return [name for name in CONSTRUCTS if name in found]


def construct_groups(fine: Iterable[str], stdout: str) -> list[str]:
    """The groups a program belongs to (GROUP_NAMES order), from its fine constructs and its true stdout."""
    groups = {_GROUP_OF[name] for name in fine if name in _GROUP_OF}
    if prints_float(stdout):
        groups.add(FLOAT_OUTPUT)
    elif _NUMBER.search(stdout):
        groups.add(INTEGER_OUTPUT)
    return [group for group in GROUP_NAMES if group in groups]


def per_construct(exact_matches: Sequence[float], groups: Sequence[Iterable[str]]) -> dict[str, dict]:
    """{group: {"n": programs in it, "exact_match": their mean exact match (None when n is 0)}}, every group.

    exact_matches[i] is program i's exact match (0/1); groups[i] its groups (construct_groups).
    """
    if len(exact_matches) != len(groups):
        raise ValueError(f"per_construct needs one group list per program; got {len(exact_matches)} exact "
                         f"matches and {len(groups)} group lists")
    scores: dict[str, list[float]] = {group: [] for group in GROUP_NAMES}
    for score, program_groups in zip(exact_matches, groups):
        for group in program_groups:
            if group not in scores:
                raise ValueError(f"unknown construct group {group!r}; known: {', '.join(GROUP_NAMES)}")
            scores[group].append(float(score))
    return {group: {"n": len(values), "exact_match": float(np.mean(values)) if values else None}
            for group, values in scores.items()}


def format_construct_table(breakdown: Mapping[str, Mapping[str, float | int | None]]) -> str:
    """Markdown table of the groups that hold any program: group, N, EM."""
    lines = ["| construct | N | EM |", "|---|---|---|"]
    lines += [f"| {group} | {s['n']} | {s['exact_match']:.4f} |" for group, s in breakdown.items() if s["n"]]
    return "\n".join(lines)
