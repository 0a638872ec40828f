"""`ProgramGenerator(seed).sample(level)`: random Lua programs for the curriculum levels.

Levels 1-3 follow the dissertation's curriculum, measured in branch points (if/elseif, loops, and/or,
function definitions): 1 easy (0-2), 2 medium (3-4, at least one loop), 3 hard (5+, with a function, a
table, a loop and state changes). Levels 4-7 are TEX's TinyPy levels written in Lua (see tinypy.py). Levels 0
and 8 are the ladder below level 1 (ladder.py): print a literal or a variable, then one operation on a value.

Levels 1-3 draw from the whole construct set (string and math libraries, conversions, arrays, records and
nested tables, generic and numeric loops, functions with several returns, recursion) with procedurally
generated strings and names; levels 4-7 keep TinyPy's shape, and their knobs default to TEX's setting.
All randomness comes from one `random.Random(seed)`, so a seed gives the same programs on any machine.
"""
from __future__ import annotations

import dataclasses
import re

from jaxlua.lua import ladder
from jaxlua.lua import library as lib
from jaxlua.lua import statements as st
from jaxlua.lua import tables as tb
from jaxlua.lua import tinypy
from jaxlua.lua.expressions import FastRandom, wrap
from jaxlua.lua.lexer import count_branches
from jaxlua.lua.sandbox import LuaResult, LuaSandbox

GENERATOR_VERSION = "2"
LEVELS = (0, 1, 2, 3, 4, 5, 6, 7, 8)
LEVEL_NAMES = {0: "first-print", 1: "easy", 2: "medium", 3: "hard", 4: "tinypy-assign", 5: "tinypy-if",
               6: "tinypy-for", 7: "tinypy-while", 8: "first-operation"}
# Measured branch points allowed per dissertation level (inclusive).
BRANCH_RANGES = {1: (0, 2), 2: (3, 4), 3: (5, 10)}
_NAN = re.compile(r"(?<![A-Za-z])-?nan(?![A-Za-z])")  # a printed NaN, not the letters inside a word


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """Knobs of the generator, so a curriculum can move difficulty within a level.

    Integer literals lie in [min_number, max_number] (9 = digits as TEX, 255 = 8-bit; a negative min_number
    gives negative literals). `max_statements`, `max_depth` (block nesting), `max_string_length` (printed
    characters of a string literal) and `max_identifier_length` shape levels 1-3; `tinypy_names` picks
    levels 4-7's variables ("letters" as TEX, or generated "words").
    """

    max_number: int = 9
    min_number: int = 0
    max_statements: int = 4  # extra straight-line statements (assignments, updates, prints) per program
    max_depth: int = 2
    max_loop_iterations: int = 5
    max_string_length: int = 16
    max_identifier_length: int = 10
    tinypy_names: str = "letters"
    max_output_lines: int = 12
    max_output_chars: int = 400
    max_steps: int = 100_000  # instruction budget when verifying a generated program

    def __post_init__(self) -> None:
        for name in ("max_number", "max_statements", "max_depth", "max_loop_iterations", "max_string_length",
                     "max_identifier_length", "max_output_lines", "max_output_chars", "max_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"GeneratorConfig.{name} must be a positive int, got {getattr(self, name)!r}")
        if not isinstance(self.min_number, int) or self.min_number > self.max_number:
            raise ValueError(f"GeneratorConfig.min_number must be an int <= max_number, got {self.min_number!r}")
        if self.tinypy_names not in tinypy.NAME_STYLES:
            raise ValueError(f"GeneratorConfig.tinypy_names must be one of {tinypy.NAME_STYLES}, "
                             f"got {self.tinypy_names!r}")


class ProgramGenerator:
    """Grammar-based random Lua 5.4 programs; `sample(level)` returns source text."""

    def __init__(self, seed: int, config: GeneratorConfig | None = None) -> None:
        if not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        self.seed = seed
        self.config = config or GeneratorConfig()
        self.rng = FastRandom(seed)
        self._sandbox: LuaSandbox | None = None

    def sample(self, level: int) -> str:
        """One program of the given level (see LEVEL_NAMES); levels 1-3 have a measured branch count that fits."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        if level in (ladder.FIRST_RUNG, ladder.SECOND_RUNG):
            cfg = self.config
            return ladder.sample(self.rng, level, cfg.max_number, cfg.min_number, cfg.max_string_length,
                                 cfg.max_identifier_length)
        if level >= 4:
            cfg = self.config
            return tinypy.sample(self.rng, level, cfg.max_number, cfg.max_loop_iterations, cfg.min_number,
                                 cfg.tinypy_names, cfg.max_identifier_length)
        low, high = BRANCH_RANGES[level]
        while True:
            source = self._dissertation_level(level)
            if low <= count_branches(source) <= high:
                return source

    def sample_verified(self, level: int, sandbox: LuaSandbox | None = None,
                        max_attempts: int = 1000) -> tuple[str, LuaResult]:
        """A program that runs with status "ok" within the output knobs, with its LuaResult."""
        if sandbox is None:
            sandbox = self._sandbox = self._sandbox or LuaSandbox()
        for _ in range(max_attempts):
            source = self.sample(level)
            result = sandbox.run(source, max_steps=self.config.max_steps)
            if result.status == "ok" and self.acceptable_output(result.stdout):
                return source, result
        raise RuntimeError(f"no acceptable level-{level} program in {max_attempts} attempts; loosen the config")

    def acceptable_output(self, stdout: str) -> bool:
        """Within the output knobs, and free of nan (whose sign Lua prints differently per platform)."""
        return (stdout.count("\n") <= self.config.max_output_lines
                and len(stdout) <= self.config.max_output_chars and not _NAN.search(stdout))

    # --- dissertation levels ---------------------------------------------------------------------------

    # Straight-line statements of levels 1-3 (repeats weight the draw).
    _SIMPLE = (st.assign_new, st.update, st.update, st.print_stmt, lib.string_show, lib.number_show,
               lib.show_value, st.multi_assign, tb.table_output, tb.make_record, tb.make_array)

    def _program(self) -> st.Program:
        return st.Program(self.rng, self.config)

    def _simple(self, p: st.Program, count: int) -> None:
        for _ in range(count):
            self.rng.choice(self._SIMPLE)(p)

    def _logic_print(self, p: st.Program, budget: int) -> int:
        """print(cond and "yes" or "no") (2 branch points + the condition's) or print(a and b) (1+)."""
        rng = self.rng
        if budget >= 2 and rng.random() < 0.6:
            extra = 1 if budget >= 3 and rng.random() < 0.3 else 0
            yes, no = p.expr.string_literal(), p.expr.string_literal()
            p.emit(f'print({wrap(p.expr.bool_expr(extra))} and {yes} or {no})')
            return 2 + extra
        logic = rng.randint(1, min(budget, 2))
        p.emit(f"print({p.expr.bool_expr(logic)})")
        return logic

    def _spend(self, p: st.Program, budget: int, constructs: tuple) -> int:
        """Add constructs until the branch budget is spent exactly."""
        used = 0
        while used < budget:
            construct = self.rng.choice(constructs)
            used += construct(p, budget - used)
            if self.rng.random() < 0.5:
                self._simple(p, 1)
        return used

    def _finish(self, p: st.Program) -> None:
        """End with a top-level print so every program has output."""
        rng = self.rng
        names = p.scope.names("num") + p.scope.names("str")
        if names and rng.random() < 0.6:
            name = rng.choice(names)
            p.emit(f"print({name})" if rng.random() < 0.5 else f'print("{p.expr.label()}" .. {name})')
        else:
            st.print_stmt(p)

    def _dissertation_level(self, level: int) -> str:
        rng, cfg = self.rng, self.config
        p = self._program()
        for _ in range(rng.randint(1, 3)):
            st.assign_new(p)
        low, high = BRANCH_RANGES[level]
        if level == 1:
            budget = rng.choice((0, 1, 1, 2, 2))
            self._simple(p, rng.randint(0, cfg.max_statements))
            self._spend(p, budget, (st.if_stmt, st.if_stmt, self._logic_print))
        elif level == 2:
            budget = rng.randint(low, high)
            if rng.random() < 0.3:
                tb.make_array(p)
            used = rng.choice((st.for_loop, st.for_loop, st.while_loop, st.repeat_loop, tb.array_loop))(p, budget)
            self._simple(p, rng.randint(0, cfg.max_statements // 2))
            self._spend(p, budget - used, (st.if_stmt, st.for_loop, st.while_loop, self._logic_print))
        else:
            budget = rng.randint(low, high - 2)
            rng.choice((tb.make_array, tb.make_record))(p)
            used = rng.choice((st.function_def, st.function_def, self._recursive))(p, budget)
            acc = p.fresh(("total", "acc", "count", "state"))
            p.emit(f"local {acc} = {p.expr.literal()}")
            p.scope.declare(acc, st.Var("int"))
            p.accumulator = acc
            used += rng.choice((st.for_loop, st.while_loop, tb.array_loop, st.repeat_loop))(p, budget - used)
            self._simple(p, rng.randint(0, cfg.max_statements // 2))
            if rng.random() < 0.5:
                tb.table_output(p)
            if rng.random() < 0.3:
                tb.make_record(p) if rng.random() < 0.5 else tb.make_array(p)
            self._spend(p, max(0, budget - used),
                        (st.if_stmt, st.for_loop, st.while_loop, tb.array_loop, self._logic_print))
            p.emit(f"print({acc})")
        if rng.random() < 0.05:
            st.print_nil(p)
        self._finish(p)
        return p.source()

    def _recursive(self, p: st.Program, budget: int) -> int:
        return st.recursive_function(p)
