"""TEX's TinyPy levels (appendix A of the TEX paper), written in Lua.

4: initialisations, assignments with arithmetic, prints of a variable and of an expression.
5: if / elseif / else on comparisons with optional not, and/or.
6: a numeric for loop (step 1-3, 2-3 iterations as TinyPy; `max_iterations` lets it grow) printing.
7: a while loop counting up or down by a step, printing each iteration.
Variables are globals (TinyPy has no `local`): single letters as TEX (`names="letters"`, the default) or
generated identifiers (`names="words"`, eight per program); literals are min_number..max_number (0..9 by
default). With the defaults, levels 4-7 are TEX's setting and a seed gives generator version 1's programs.
"""
from __future__ import annotations

import random

from jaxlua.lua import words

NAME_STYLES = ("letters", "words")
_WORD_NAMES_PER_PROGRAM = 8
_VARIABLES = "abcdefghijklmnopqrstuvwxyz"
_ARITH = ("+", "-", "*", "/")
_RELATIONS = ("<", ">", "<=", ">=", "~=", "==")


class _TinyPy:
    def __init__(self, rng: random.Random, max_number: int, max_iterations: int, min_number: int = 0,
                 names: str = "letters", max_identifier_length: int = 10) -> None:
        self.rng, self.max_number, self.max_iterations = rng, max_number, max_iterations
        self.min_number = min_number
        self.lines: list[str] = []
        self.names: list[str] = []
        self.pool: str | list[str] = _VARIABLES
        if names == "words":
            self.pool = list(dict.fromkeys(words.identifier(rng, max_identifier_length)
                                           for _ in range(_WORD_NAMES_PER_PROGRAM)))

    def variable(self) -> str:
        return self.rng.choice(self.pool)

    def digit(self, low: int | None = None) -> str:
        low = self.min_number if low is None else max(low, self.min_number)
        return str(self.rng.randint(low, max(low, self.max_number)))

    def term(self) -> str:
        return self.rng.choice(self.names) if self.names and self.rng.random() < 0.6 else self.digit()

    def expression(self) -> str:
        """term op term; a divisor is always a non-zero literal so / never divides by zero."""
        op = self.rng.choice(_ARITH)
        right = self.digit(1) if op == "/" else self.term()
        return f"{self.term()} {op} {right}"

    def initialise(self, count: int) -> None:
        for _ in range(count):
            name = self.variable()
            self.lines.append(f"{name} = {self.digit()}")
            if name not in self.names:
                self.names.append(name)

    def display(self, indent: str = "") -> None:
        if self.rng.random() < 0.5:
            self.lines.append(f"{indent}print({self.rng.choice(self.names)})")
        else:
            self.lines.append(f"{indent}print({self.expression()})")

    def condition(self, allow_logic: bool) -> str:
        def relation() -> str:
            return f"{self.rng.choice(self.names)} {self.rng.choice(_RELATIONS)} {self.term()}"

        cond = relation()
        if allow_logic and self.rng.random() < 0.5:
            cond = f"{cond} {self.rng.choice(('and', 'or'))} {relation()}"
        if self.rng.random() < 0.3:
            cond = f"not ({cond})"
        return cond

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


def _level_assign(t: _TinyPy) -> None:
    rng = t.rng
    t.initialise(rng.randint(1, 3))
    for _ in range(rng.randint(0, 2)):
        name = t.variable()
        t.lines.append(f"{name} = {t.expression()}")
        if name not in t.names:
            t.names.append(name)
    t.lines.append(f"print({rng.choice(t.names)})")
    if rng.random() < 0.7:
        t.lines.append(f"print({t.expression()})")


def _level_if(t: _TinyPy) -> None:
    rng = t.rng
    t.initialise(rng.randint(1, 3))
    t.lines.append(f"if {t.condition(True)} then")
    t.display("    ")
    for _ in range(rng.choice((0, 0, 1, 2))):
        t.lines.append(f"elseif {t.condition(True)} then")
        t.display("    ")
    has_else = rng.random() < 0.6
    if has_else:
        t.lines.append("else")
        t.display("    ")
    t.lines.append("end")
    if not has_else or rng.random() < 0.3:  # without else, no branch may run: keep output non-empty
        t.display()


def _level_for(t: _TinyPy) -> None:
    rng = t.rng
    t.initialise(rng.randint(1, 2))
    var = t.variable()
    step = rng.randint(1, 3)
    high = max(1, min(3, t.max_iterations))  # TinyPy's execution_count is 2 or 3
    count = rng.randint(min(2, high), high)
    start = int(t.digit())
    stop = start + step * (count - 1)
    t.lines.append(f"for {var} = {start}, {stop}{'' if step == 1 else f', {step}'} do")
    if var not in t.names:
        t.names.append(var)
    t.display("    ")
    t.lines.append("end")


def _level_while(t: _TinyPy) -> None:
    rng = t.rng
    t.initialise(rng.randint(0, 2))
    var = t.variable()
    step = rng.randint(1, 3)
    high = max(1, t.max_iterations)
    count = rng.randint(min(2, high), high)
    start = int(t.digit())
    t.lines.append(f"{var} = {start}")
    if var not in t.names:
        t.names.append(var)
    if rng.random() < 0.5:  # counting up: while v < bound
        relation = rng.choice(("<", "<="))
        bound = start + step * count - (1 if relation == "<" else step)
        t.lines.append(f"while {var} {relation} {bound} do")
        t.display("    ")
        t.lines.append(f"    {var} = {var} + {step}")
    else:  # counting down: while v > bound
        relation = rng.choice((">", ">="))
        bound = start - step * count + (1 if relation == ">" else step)
        t.lines.append(f"while {var} {relation} {bound} do")
        t.display("    ")
        t.lines.append(f"    {var} = {var} - {step}")
    t.lines.append("end")


_LEVELS = {4: _level_assign, 5: _level_if, 6: _level_for, 7: _level_while}


def sample(rng: random.Random, level: int, max_number: int, max_iterations: int, min_number: int = 0,
           names: str = "letters", max_identifier_length: int = 10) -> str:
    """One TinyPy-style Lua program of level 4 (assign), 5 (if), 6 (for) or 7 (while)."""
    t = _TinyPy(rng, max_number, max_iterations, min_number, names, max_identifier_length)
    _LEVELS[level](t)
    return t.source()
