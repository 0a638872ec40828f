"""The ladder below level 1: one- and two-statement programs of the kinds people write first.

Level 0 (the first rung) prints a literal or a variable: `print("All in")`, `print(7)`, `x = 7 print(x)`,
`local s = "Be still" print(s)`. Level 8 (the second rung) does one operation on a value it has just made:
a concatenation, `#s`, a string method (`s:upper()`, `string.lower(s)`), a small table access (`t[2]`, `t.name`,
`#t`) or one arithmetic operation on a variable. Strings and names come from `words`, like levels 1-3, and
integer literals from the generator's number range. Level 8 is numbered after TinyPy's levels only because
level numbers are part of every saved dataset; the curriculum orders levels by its own list
(`jaxlua.config.LEVEL_ORDER`), not by number.
"""
from __future__ import annotations

import random

from jaxlua.lua import words

FIRST_RUNG, SECOND_RUNG = 0, 8
_ARITH = ("+", "-", "*", "//", "%")


class _Rung:
    def __init__(self, rng: random.Random, max_number: int, min_number: int, max_string_length: int,
                 max_identifier_length: int) -> None:
        self.rng, self.max_number, self.min_number = rng, max_number, min_number
        self.max_string_length, self.max_identifier_length = max_string_length, max_identifier_length

    def number(self, low: int | None = None) -> str:
        low = self.min_number if low is None else max(low, self.min_number)
        return str(self.rng.randint(low, max(low, self.max_number)))

    def string(self) -> str:
        return f'"{words.string_content(self.rng, self.max_string_length)[0]}"'

    def name(self) -> str:
        return words.identifier(self.rng, self.max_identifier_length, common=("s", "x", "n", "name", "msg", "t"))

    def declare(self, name: str, value: str) -> str:
        return f"local {name} = {value}" if self.rng.random() < 0.5 else f"{name} = {value}"

    def literal(self) -> str:
        roll = self.rng.random()
        if roll < 0.5:
            return self.string()
        if roll < 0.8:
            return self.number()
        if roll < 0.9:
            return self.rng.choice(("true", "false"))
        return f"{self.number()}.{self.rng.choice(('5', '25', '75'))}"


def first_rung(r: _Rung) -> list[str]:
    """Print a literal, or a variable just assigned a literal."""
    if r.rng.random() < 0.45:
        return [f"print({r.literal()})"]
    name = r.name()
    return [r.declare(name, r.literal()), f"print({name})"]


def _string_operation(r: _Rung, name: str) -> str:
    rng = r.rng
    roll = rng.random()
    if roll < 0.3:
        return f"{name} .. {r.string()}" if rng.random() < 0.5 else f"{r.string()} .. {name}"
    if roll < 0.5:
        return f"#{name}"
    method = rng.choice(("upper", "lower", "len", "reverse"))
    return f"{name}:{method}()" if rng.random() < 0.6 else f"string.{method}({name})"


def second_rung(r: _Rung) -> list[str]:
    """One operation on one value: concatenation, length, a string method, a table access or arithmetic."""
    rng = r.rng
    roll = rng.random()
    if roll < 0.15:  # one statement: the operation on literals
        left = r.string()
        return [f"print({left} .. {r.string() if rng.random() < 0.6 else r.number()})"]
    name = r.name()
    if roll < 0.55:
        return [r.declare(name, r.string()), f"print({_string_operation(r, name)})"]
    if roll < 0.8:
        if rng.random() < 0.5:
            items = [r.number() if rng.random() < 0.7 else r.string() for _ in range(rng.randint(1, 4))]
            index = str(rng.randint(1, len(items))) if rng.random() < 0.8 else None
            access = f"{name}[{index}]" if index else f"#{name}"
            return [r.declare(name, "{" + ", ".join(items) + "}"), f"print({access})"]
        keys = list(dict.fromkeys(k for k in (words.word(rng, 2) for _ in range(rng.randint(1, 3)))
                                  if k not in words.RESERVED)) or ["name"]
        values = [r.number() if rng.random() < 0.6 else r.string() for _ in keys]
        fields = ", ".join(f"{k} = {v}" for k, v in zip(keys, values))
        return [r.declare(name, "{" + fields + "}"), f"print({name}.{rng.choice(keys)})"]
    op = rng.choice(_ARITH)
    right = r.number(1) if op in ("//", "%") else r.number()
    expr = f"{name} {op} {right}" if rng.random() < 0.7 else f"{right} {op} {name}"
    if op in ("//", "%") and not expr.startswith(name):
        expr = f"{name} {op} {right}"  # the divisor stays a non-zero literal
    return [r.declare(name, r.number()), f"print({expr})"]


def sample(rng: random.Random, level: int, max_number: int, min_number: int = 0, max_string_length: int = 16,
           max_identifier_length: int = 10) -> str:
    """One program of ladder level 0 (first rung) or 8 (second rung)."""
    rung = _Rung(rng, max_number, min_number, max_string_length, max_identifier_length)
    lines = first_rung(rung) if level == FIRST_RUNG else second_rung(rung)
    return "\n".join(lines) + "\n"
