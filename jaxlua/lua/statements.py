"""Statement builders for the dissertation levels: assignments, prints, conditionals, loops, functions.

Each builder appends indented lines to a `Program` and returns the number of branch points it used
(if/elseif, loops, and/or, function definitions), so a level can spend an exact branch budget. Table
statements live in tables.py, string and math library showcases in library.py.
"""
from __future__ import annotations

import random
from typing import Protocol

from jaxlua.lua import tables
from jaxlua.lua.expressions import (ARR, BOOL, BOOL_NAMES, FUNC_NAMES, INT, NUM, NUM_NAMES, REC, STR, STR_NAMES,
                                    ExprBuilder, Func, Scope, Var, wrap)

_NAME_POOL = {INT: NUM_NAMES, NUM: NUM_NAMES, STR: STR_NAMES, BOOL: BOOL_NAMES}


class Knobs(Protocol):
    """The GeneratorConfig fields a Program reads."""

    max_number: int
    min_number: int
    max_loop_iterations: int
    max_depth: int
    max_string_length: int
    max_identifier_length: int


class Program:
    """Source lines under construction plus the scope, expression builder and knobs they share."""

    def __init__(self, rng: random.Random, knobs: Knobs) -> None:
        self.rng = rng
        self.scope = Scope()
        self.expr = ExprBuilder(rng, self.scope, knobs.max_number, knobs.min_number, knobs.max_string_length)
        self.max_iterations = knobs.max_loop_iterations
        self.max_depth = knobs.max_depth
        self.max_identifier_length = knobs.max_identifier_length
        self.lines: list[str] = []
        self.indent = 0
        self.loop_depth = 0
        self.accumulator: str | None = None  # if set, the next loop body updates it (a state change)

    def fresh(self, pool: tuple[str, ...]) -> str:
        """A new identifier for a role whose conventional names are `pool`."""
        return self.scope.fresh(self.rng, pool, self.max_identifier_length)

    def nested(self, budget: int) -> int:
        """An if statement inside the current block when the depth knob allows it (branch points used)."""
        return if_stmt(self, budget) if budget >= 1 and self.indent < self.max_depth else 0

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"

    def open_block(self, header: str) -> None:
        self.emit(header)
        self.indent += 1
        self.scope.push()

    def close_branch(self, header: str) -> None:
        """Start the next branch of an if (elseif/else); the caller popped the previous branch's scope."""
        self.indent -= 1
        self.emit(header)
        self.indent += 1
        self.scope.push()

    def close_block(self, footer: str = "end") -> None:
        self.scope.pop()
        self.indent -= 1
        self.emit(footer)


# --- straight-line statements (no branch points) -------------------------------------------------------


def assign_new(p: Program, typ: str | None = None) -> int:
    """Declare a new local (or, at top level, sometimes global) scalar variable."""
    rng = p.rng
    typ = typ or rng.choice((INT, INT, INT, NUM, STR, STR, BOOL))
    name = p.fresh(_NAME_POOL[typ])
    value = p.expr.value(typ, depth=rng.randint(0, 2))
    is_local = p.indent > 0 or rng.random() < 0.7
    p.emit(f"{'local ' if is_local else ''}{name} = {value}")
    p.scope.declare(name, Var(INT if typ == INT else typ))
    return 0


def multi_assign(p: Program) -> int:
    """local a, b = 1, 2 (several names at once), or a swap a, b = b, a of two writable ints."""
    rng = p.rng
    ints = p.scope.names(INT, writable=True)
    ints = [n for n in ints if p.scope.lookup(n).type == INT]
    if len(ints) >= 2 and rng.random() < 0.4:
        a, b = rng.sample(ints, 2)
        p.emit(f"{a}, {b} = {b}, {a}")
        return 0
    types = [rng.choice((INT, INT, STR)) for _ in range(rng.randint(2, 3))]
    names = list(dict.fromkeys(p.fresh(_NAME_POOL[t]) for t in types))
    types = types[:len(names)]
    p.emit(f"local {', '.join(names)} = {', '.join(p.expr.value(t, 1) for t in types)}")
    for name, typ in zip(names, types):
        p.scope.declare(name, Var(typ))
    return 0


def update(p: Program) -> int:
    """Change the state of an existing variable (x = x + 1, s = s .. "!", flag = not flag, t[#t+1] = v)."""
    rng = p.rng
    for typ in rng.sample((INT, STR, BOOL, ARR, REC), 5):
        names = p.scope.names(typ, writable=True)
        names = [n for n in names if p.scope.lookup(n).type == typ
                 and (typ != ARR or p.scope.lookup(n).elem != "row")]
        if not names:
            continue
        name = rng.choice(names)
        if typ == INT:
            op = rng.choice(("+", "-", "*", "+"))
            p.emit(f"{name} = {name} {op} {wrap(p.expr.int_expr(1))}")
        elif typ == STR:
            p.emit(f"{name} = {name} .. {wrap(p.expr.str_expr(1))}")
        elif typ == BOOL:
            p.emit(f"{name} = not {name}")
        elif typ == ARR:
            tables.append_to_array(p, name)
        else:
            tables.update_record(p, name)
        return 0
    return assign_new(p)


def print_stmt(p: Program) -> int:
    """print with one or more arguments (tab separated), or io.write ending in a newline."""
    rng = p.rng
    roll = rng.random()
    if roll < 0.7:
        p.emit(f"print({p.expr.printable()})")
    elif roll < 0.88:
        args = ", ".join(p.expr.printable(1) for _ in range(rng.randint(2, 3)))
        p.emit(f"print({args})")
    else:
        a, b = p.expr.num_expr(1), p.expr.str_expr(1)
        p.emit(f'io.write({a}, " ", {b}, "\\n")')
    return 0


def print_nil(p: Program) -> int:
    """Printing nil: an unassigned local or a missing table slot."""
    rng = p.rng
    arrays = p.scope.names(ARR)
    if arrays and rng.random() < 0.5:
        name = rng.choice(arrays)
        p.emit(f"print({name}[#{name} + 1])")
    else:
        name = p.fresh(NUM_NAMES)
        p.emit(f"local {name}")
        p.emit(f"print({name})")
    return 0


# --- control flow (branch points) ---------------------------------------------------------------------


def body(p: Program, budget: int, statements: int) -> int:
    """A block body: `statements` simple statements plus nested constructs spending up to `budget`."""
    used = 0
    for _ in range(statements):
        if budget - used >= 1 and p.rng.random() < 0.3 and p.indent < p.max_depth:
            used += p.rng.choice((if_stmt, if_stmt, for_loop))(p, budget - used)
        else:
            p.rng.choice((print_stmt, update, update, assign_new))(p)
    return used


def if_stmt(p: Program, budget: int) -> int:
    """if [elseif ...] [else] end; every branch prints or updates. Uses 1..budget branch points."""
    rng = p.rng
    logic = rng.randint(0, 1) if budget >= 2 and rng.random() < 0.3 else 0
    used = 1 + logic
    p.open_block(f"if {p.expr.bool_expr(logic)} then")
    used += body(p, budget - used, rng.randint(1, 2))
    while budget - used >= 1 and rng.random() < 0.4:
        p.scope.pop()  # the condition must not see the previous branch's locals
        p.close_branch(f"elseif {p.expr.bool_expr(0)} then")
        body(p, 0, 1)
        used += 1
    if rng.random() < 0.6:
        p.scope.pop()
        p.close_branch("else")
        body(p, 0, 1)
    p.close_block()
    return used


def _loop_body(p: Program, budget: int) -> int:
    p.loop_depth += 1
    used = 0
    if p.accumulator is not None:
        acc, p.accumulator = p.accumulator, None
        p.emit(f"{acc} = {acc} {p.rng.choice(('+', '+', '-', '*'))} {wrap(p.expr.int_expr(1))}")
    if budget >= 1 and p.rng.random() < 0.25:  # early exit: if <cond> then break end
        p.emit(f"if {p.expr.compare(0)} then break end")
        used += 1
    used += body(p, budget - used, p.rng.randint(1, 2))
    p.loop_depth -= 1
    return used


def _start(p: Program) -> int:
    return p.rng.randint(min(0, p.expr.min_number), max(1, min(p.expr.max_number, 10)))


def for_loop(p: Program, budget: int) -> int:
    """Numeric for with a positive or negative step; the loop variable is read-only in the body."""
    rng = p.rng
    iterations = rng.randint(1, p.max_iterations)
    step = rng.choice((1, 1, 1, 2, 3))
    start = _start(p)
    stop = start + (iterations - 1) * step
    var = p.fresh(("i", "j", "k", "idx", "n"))
    if rng.random() < 0.3:
        header = f"for {var} = {stop}, {start}, -{step} do"
    elif step == 1 and rng.random() < 0.7:
        header = f"for {var} = {start}, {stop} do"
    else:
        header = f"for {var} = {start}, {stop}, {step} do"
    p.open_block(header)
    p.scope.declare(var, Var(INT, readonly=True))
    used = 1 + _loop_body(p, budget - 1)
    p.close_block()
    return used


def while_loop(p: Program, budget: int) -> int:
    """while over a dedicated counter that only the loop's last statement changes."""
    rng = p.rng
    counter = p.fresh(("i", "n", "k", "left", "tick"))
    iterations, step = rng.randint(1, p.max_iterations), rng.randint(1, 3)
    start = _start(p)
    p.emit(f"local {counter} = {start}")
    if rng.random() < 0.5:
        p.open_block(f"while {counter} < {start + iterations * step - rng.randint(0, step - 1)} do")
        update_line = f"{counter} = {counter} + {step}"
    else:
        p.open_block(f"while {counter} > {start - iterations * step + rng.randint(0, step - 1)} do")
        update_line = f"{counter} = {counter} - {step}"
    p.scope.declare(counter, Var(INT, readonly=True))
    used = 1 + _loop_body(p, budget - 1)
    p.emit(update_line)
    p.close_block()
    p.scope.declare(counter, Var(INT))
    return used


def repeat_loop(p: Program, budget: int) -> int:
    """repeat ... until over a dedicated counter."""
    rng = p.rng
    counter = p.fresh(("r", "tries", "round", "pass"))
    iterations = rng.randint(1, p.max_iterations)
    p.emit(f"local {counter} = 0")
    p.open_block("repeat")
    p.scope.declare(counter, Var(INT, readonly=True))
    used = 1 + _loop_body(p, budget - 1)
    p.emit(f"{counter} = {counter} + 1")
    p.close_block(f"until {counter} >= {iterations}")
    p.scope.declare(counter, Var(INT))
    return used


def function_def(p: Program, budget: int) -> int:
    """A (local) function with parameters and return values, then a call whose result is printed."""
    rng = p.rng
    name = p.fresh(FUNC_NAMES)
    params = [p.fresh(("a", "b", "c", "x", "y", "n")) for _ in range(rng.randint(1, 3))]
    params = list(dict.fromkeys(params))
    ptypes = [INT if rng.random() < 0.75 else STR for _ in params]
    keyword = "local function" if rng.random() < 0.6 else "function"
    p.open_block(f"{keyword} {name}({', '.join(params)})")
    saved = p.scope.blocks
    p.scope.blocks = [{}, {}]  # the body sees only its parameters (no captured loop state)
    for param, ptype in zip(params, ptypes):
        p.scope.declare(param, Var(ptype))
    used = 1
    returns = [INT if rng.random() < 0.7 else STR]
    if rng.random() < 0.3:
        returns.append(rng.choice((INT, INT, STR)))
    if rng.random() < 0.4:
        assign_new(p)
    if budget >= 2 and rng.random() < 0.5:  # early return with the same number and types of values
        p.open_block(f"if {p.expr.compare(0)} then")
        p.emit(f"return {', '.join(p.expr.value(t, 1) for t in returns)}")
        p.close_block()
        used += 1
    p.emit(f"return {', '.join(p.expr.value(t, 1) for t in returns)}")
    p.scope.blocks = saved
    p.close_block()
    p.scope.funcs[name] = func = Func(params=ptypes, returns=returns)
    call_function(p, name, func)
    return used


def call_function(p: Program, name: str, func: Func) -> None:
    """Call a known function: print its result(s) or store them in new locals."""
    rng = p.rng
    args = ", ".join(p.expr.value(t, 1) for t in func.params)
    if len(func.returns) > 1 and rng.random() < 0.6:
        names = list(dict.fromkeys(p.fresh(_NAME_POOL[t]) for t in func.returns))
        if len(names) == len(func.returns):
            p.emit(f"local {', '.join(names)} = {name}({args})")
            for var, typ in zip(names, func.returns):
                p.scope.declare(var, Var(typ))
            p.emit(f"print({', '.join(names)})")
            return
    if rng.random() < 0.5:
        p.emit(f"print({name}({args}))")
    else:
        var = p.fresh(_NAME_POOL[func.returns[0]])
        p.emit(f"local {var} = {name}({args})")
        p.scope.declare(var, Var(func.returns[0]))
        p.emit(f'print("{p.expr.label()}", {var})')


_RECURSIVE = {  # kind: (conventional names, largest argument, base case, recursive step)
    "fact": (("fact", "factorial"), 7, ("if n <= 1 then", "return 1"), "return n * {f}(n - 1)"),
    "sum": (("sum_to", "total_to"), 9, ("if n == 0 then", "return 0"), "return n + {f}(n - 1)"),
    "pow": (("power", "pow2"), 8, ("if n == 0 then", "return 1"), "return 2 * {f}(n - 1)"),
    "fib": (("fib", "fibonacci"), 9, ("if n < 2 then", "return n"), "return {f}(n - 1) + {f}(n - 2)"),
    "digits": (("digits", "count_digits"), 99999, ("if n < 10 then", "return 1"), "return 1 + {f}(n // 10)"),
}


def recursive_function(p: Program) -> int:
    """A shallow recursive function (factorial, sum to n, power, fibonacci, digits, countdown) and a call."""
    rng = p.rng
    kind = rng.choice(("fact", "sum", "pow", "fib", "digits", "countdown"))
    local = "local " if rng.random() < 0.6 else ""
    if kind == "countdown":
        name = p.fresh(("countdown", "launch"))
        arg = rng.randint(1, min(5, p.max_iterations))
        lines = [f"{local}function {name}(n)", "    if n > 0 then", "        print(n)", f"        {name}(n - 1)",
                 "    else", f'        print("{p.expr.label().strip()}")', "    end", "end", f"{name}({arg})"]
    else:
        pool, largest, (test, base), step = _RECURSIVE[kind]
        name = p.fresh(pool)
        lines = [f"{local}function {name}(n)", f"    {test}", f"        {base}", "    end",
                 "    " + step.format(f=name), "end", f"print({name}({rng.randint(1, largest)}))"]
    for line in lines:
        p.emit(line)
    p.scope.funcs[name] = Func(params=[INT], returns=[INT])
    return 2
