"""`ProgramGenerator(seed).sample(level)`: random Lua programs for the curriculum levels.

Levels 1-3 follow the dissertation's curriculum, measured in branch points (if/elseif, loops, and/or,
function definitions): 1 easy (0-2), 2 medium (3-4, at least one loop), 3 hard (5+, with a function, a
table, a loop and state changes). Levels 4-7 are TEX's TinyPy levels written in Lua (see tinypy.py).
All randomness comes from one `random.Random(seed)`, so a seed gives the same programs on any machine.
"""
from __future__ import annotations

import dataclasses

from jaxlua.lua import statements as st
from jaxlua.lua import tinypy
from jaxlua.lua.expressions import LABELS, WORDS, FastRandom, wrap
from jaxlua.lua.lexer import count_branches
from jaxlua.lua.sandbox import LuaResult, LuaSandbox

GENERATOR_VERSION = "1"
LEVELS = (1, 2, 3, 4, 5, 6, 7)
LEVEL_NAMES = {1: "easy", 2: "medium", 3: "hard", 4: "tinypy-assign", 5: "tinypy-if", 6: "tinypy-for",
               7: "tinypy-while"}
# Measured branch points allowed per dissertation level (inclusive).
BRANCH_RANGES = {1: (0, 2), 2: (3, 4), 3: (5, 10)}


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """Knobs of the generator. `max_number` bounds integer literals (9 = digits as TEX; 255 = 8-bit)."""

    max_number: int = 9
    max_statements: int = 4  # extra straight-line statements (assignments, updates, prints) per program
    max_loop_iterations: int = 5
    max_output_lines: int = 12
    max_output_chars: int = 400
    max_steps: int = 100_000  # instruction budget when verifying a generated program

    def __post_init__(self) -> None:
        for name in ("max_number", "max_statements", "max_loop_iterations", "max_output_lines",
                     "max_output_chars", "max_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"GeneratorConfig.{name} must be a positive int, got {getattr(self, name)!r}")


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
        """One program of the given level (1-7) whose measured branch count fits the level."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        if level >= 4:
            return tinypy.sample(self.rng, level, self.config.max_number, self.config.max_loop_iterations)
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
                and len(stdout) <= self.config.max_output_chars and "nan" not in stdout)

    # --- dissertation levels ---------------------------------------------------------------------------

    def _program(self) -> st.Program:
        return st.Program(self.rng, self.config.max_number, self.config.max_loop_iterations)

    def _simple(self, p: st.Program, count: int) -> None:
        for _ in range(count):
            self.rng.choice((st.assign_new, st.update, st.print_stmt, st.update))(p)

    def _logic_print(self, p: st.Program, budget: int) -> int:
        """print(cond and "yes" or "no") (2 branch points + the condition's) or print(a and b) (1+)."""
        rng = self.rng
        if budget >= 2 and rng.random() < 0.6:
            extra = 1 if budget >= 3 and rng.random() < 0.3 else 0
            yes, no = rng.sample(WORDS, 2)
            p.emit(f'print({wrap(p.expr.bool_expr(extra))} and "{yes}" or "{no}")')
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
            p.emit(f"print({name})" if rng.random() < 0.5 else f'print("{rng.choice(LABELS)}" .. {name})')
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
                st.make_array(p)
            used = rng.choice((st.for_loop, st.for_loop, st.while_loop, st.repeat_loop))(p, budget)
            self._simple(p, rng.randint(0, cfg.max_statements // 2))
            self._spend(p, budget - used, (st.if_stmt, st.for_loop, st.while_loop, self._logic_print))
        else:
            budget = rng.randint(low, high - 2)
            rng.choice((st.make_array, st.make_record))(p)
            used = rng.choice((st.function_def, st.function_def, self._recursive))(p, budget)
            acc = p.scope.fresh(rng, ("total", "acc", "count", "state"))
            p.emit(f"local {acc} = {p.expr.literal()}")
            p.scope.declare(acc, st.Var("int"))
            p.accumulator = acc
            used += rng.choice((st.for_loop, st.while_loop, st.ipairs_loop, st.repeat_loop))(p, budget - used)
            self._simple(p, rng.randint(0, cfg.max_statements // 2))
            if rng.random() < 0.5:
                st.table_output(p)
            if rng.random() < 0.3:
                st.make_record(p) if rng.random() < 0.5 else st.make_array(p)
            self._spend(p, max(0, budget - used),
                        (st.if_stmt, st.for_loop, st.while_loop, st.ipairs_loop, self._logic_print))
            p.emit(f"print({acc})")
        if rng.random() < 0.05:
            st.print_nil(p)
        self._finish(p)
        return p.source()

    def _recursive(self, p: st.Program, budget: int) -> int:
        return st.recursive_function(p)
