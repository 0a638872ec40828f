"""Statement builders for the dissertation levels: assignments, prints, conditionals, loops, tables, functions.

Each builder appends indented lines to a `Program` and returns the number of branch points it used
(if/elseif, loops, and/or, function definitions), so a level can spend an exact branch budget.
"""
from __future__ import annotations

import random

from jaxlua.lua.expressions import (ARR, ARR_NAMES, BOOL, BOOL_NAMES, FIELD_NUM, FIELD_STR, FUNC_NAMES, INT,
                                    LABELS, NUM, NUM_NAMES, REC, REC_NAMES, STR, STR_NAMES, WORDS, ExprBuilder,
                                    Func, Scope, Var, wrap)

_NAME_POOL = {INT: NUM_NAMES, NUM: NUM_NAMES, STR: STR_NAMES, BOOL: BOOL_NAMES}


class Program:
    """Source lines under construction plus the scope and expression builder they share."""

    def __init__(self, rng: random.Random, max_number: int, max_iterations: int) -> None:
        self.rng = rng
        self.scope = Scope()
        self.expr = ExprBuilder(rng, self.scope, max_number)
        self.max_iterations = max_iterations
        self.lines: list[str] = []
        self.indent = 0
        self.loop_depth = 0
        self.accumulator: str | None = None  # if set, the next loop body updates it (a state change)

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
    name = p.scope.fresh(rng, _NAME_POOL[typ])
    value = p.expr.value(typ, depth=rng.randint(0, 2))
    is_local = p.indent > 0 or rng.random() < 0.7
    p.emit(f"{'local ' if is_local else ''}{name} = {value}")
    p.scope.declare(name, Var(INT if typ == INT else typ))
    return 0


def update(p: Program) -> int:
    """Change the state of an existing variable (x = x + 1, s = s .. "!", flag = not flag)."""
    rng = p.rng
    for typ in rng.sample((INT, STR, BOOL, ARR, REC), 5):
        names = p.scope.names(typ, writable=True)
        names = [n for n in names if p.scope.lookup(n).type == typ]
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
            append_to_array(p, name)
        else:
            var = p.scope.lookup(name)
            field, ftype = rng.choice(list(var.fields.items()))
            if ftype == INT:
                p.emit(f"{name}.{field} = {name}.{field} + {p.expr.literal(1)}")
            else:
                p.emit(f'{name}["{field}"] = {p.expr.str_expr(1)}')
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
        name = p.scope.fresh(rng, NUM_NAMES)
        p.emit(f"local {name}")
        p.emit(f"print({name})")
    return 0


# --- tables ----------------------------------------------------------------------------------------------


def make_array(p: Program) -> int:
    rng = p.rng
    name = p.scope.fresh(rng, ARR_NAMES)
    n = rng.randint(2, 5)
    p.emit(f"local {name} = {{{', '.join(p.expr.literal() for _ in range(n))}}}")
    p.scope.declare(name, Var(ARR, min_len=n))
    return 0


def append_to_array(p: Program, name: str) -> None:
    rng = p.rng
    value = p.expr.int_expr(1)
    form = rng.random()
    if form < 0.5:
        p.emit(f"table.insert({name}, {value})")
    elif form < 0.75:
        p.emit(f"{name}[#{name} + 1] = {value}")
    else:
        p.emit(f"table.insert({name}, 1, {value})")
    if p.indent == 0:  # inside a branch or loop the append may not run
        p.scope.lookup(name).min_len += 1


def make_record(p: Program) -> int:
    rng = p.rng
    name = p.scope.fresh(rng, REC_NAMES)
    fields: dict[str, str] = {}
    for field in rng.sample(FIELD_NUM, rng.randint(1, 2)):
        fields[field] = INT
    if rng.random() < 0.7:
        fields[rng.choice(FIELD_STR)] = STR
    parts = [f"{f} = {p.expr.literal() if t == INT else p.expr.string_literal()}" for f, t in fields.items()]
    p.emit(f"local {name} = {{{', '.join(parts)}}}")
    p.scope.declare(name, Var(REC, fields=fields))
    return 0


def table_output(p: Program) -> int:
    """Print something about an array: its length, a concat, or a sorted concat."""
    rng = p.rng
    arrays = p.scope.names(ARR)
    if not arrays:
        make_array(p)
        arrays = p.scope.names(ARR)
    name = rng.choice(arrays)
    roll = rng.random()
    if roll < 0.3:
        p.emit(f'print("size", #{name})')
    elif roll < 0.7:
        p.emit(f'print(table.concat({name}, "{rng.choice((", ", " ", "-"))}"))')
    else:
        p.emit(f"table.sort({name})")
        p.emit(f'print(table.concat({name}, " "))')
    return 0


# --- control flow (branch points) ---------------------------------------------------------------------


def body(p: Program, budget: int, statements: int) -> int:
    """A block body: `statements` simple statements plus nested constructs spending up to `budget`."""
    used = 0
    for _ in range(statements):
        if budget - used >= 1 and p.rng.random() < 0.3:
            used += if_stmt(p, budget - used)
        else:
            p.rng.choice((print_stmt, update, update, assign_new))(p)
    return used


def if_stmt(p: Program, budget: int) -> int:
    """if [elseif ...] [else] end; every branch prints or updates. Uses 1..budget branch points."""
    rng = p.rng
    logic = rng.randint(0, 1) if budget >= 2 and rng.random() < 0.3 else 0
    used = 1 + logic
    p.open_block(f"if {p.expr.bool_expr(logic)} then")
    body(p, 0, rng.randint(1, 2))
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


def for_loop(p: Program, budget: int) -> int:
    """Numeric for with a positive or negative step; the loop variable is read-only in the body."""
    rng = p.rng
    iterations = rng.randint(1, p.max_iterations)
    step = rng.choice((1, 1, 1, 2, 3))
    start = rng.randint(0, max(1, min(p.expr.max_number, 10)))
    stop = start + (iterations - 1) * step
    var = p.scope.fresh(rng, ("i", "j", "k", "idx", "step_i"))
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
    counter = p.scope.fresh(rng, ("i", "n", "k", "left", "tick"))
    iterations, step = rng.randint(1, p.max_iterations), rng.randint(1, 3)
    start = rng.randint(0, max(1, min(p.expr.max_number, 10)))
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
    counter = p.scope.fresh(rng, ("r", "tries", "round", "pass"))
    iterations = rng.randint(1, p.max_iterations)
    p.emit(f"local {counter} = 0")
    p.open_block("repeat")
    p.scope.declare(counter, Var(INT, readonly=True))
    used = 1 + _loop_body(p, budget - 1)
    p.emit(f"{counter} = {counter} + 1")
    p.close_block(f"until {counter} >= {iterations}")
    p.scope.declare(counter, Var(INT))
    return used


def ipairs_loop(p: Program, budget: int) -> int:
    """for i, v in ipairs(array), accumulating into a fresh variable printed afterwards."""
    rng = p.rng
    arrays = [n for n in p.scope.names(ARR) if 0 < p.scope.lookup(n).min_len <= p.max_iterations]
    if not arrays:
        make_array(p)
        arrays = p.scope.names(ARR)
    name = rng.choice(arrays)
    acc = p.scope.fresh(rng, ("total", "acc", "sum", "best"))
    p.emit(f"local {acc} = 0")
    p.scope.declare(acc, Var(INT))
    index, value = p.scope.fresh(rng, ("i", "idx", "pos")), p.scope.fresh(rng, ("v", "val", "item"))
    array = p.scope.lookup(name)
    was_readonly, array.readonly = array.readonly, True  # growing the array while iterating never ends
    p.scope.invalidate()
    p.open_block(f"for {index}, {value} in ipairs({name}) do")
    p.scope.declare(index, Var(INT, readonly=True))
    p.scope.declare(value, Var(INT, readonly=True))
    op = rng.choice((f"{acc} + {value}", f"{acc} + {value} * {index}", f"math.max({acc}, {value})"))
    p.emit(f"{acc} = {op}")
    used = 1
    if budget >= 2 and rng.random() < 0.5:
        used += if_stmt(p, 1)
    p.close_block()
    array.readonly = was_readonly
    p.scope.invalidate()
    p.emit(f"print({rng.choice(LABELS)!r} .. {acc})".replace("'", '"'))
    return used


def function_def(p: Program, budget: int) -> int:
    """A (local) function with parameters and return values, then a call whose result is printed."""
    rng = p.rng
    name = p.scope.fresh(rng, FUNC_NAMES)
    params = [p.scope.fresh(rng, ("a", "b", "c", "x", "y", "n")) for _ in range(rng.randint(1, 2))]
    params = list(dict.fromkeys(params))
    ptypes = [INT if rng.random() < 0.8 else STR for _ in params]
    keyword = "local function" if rng.random() < 0.6 else "function"
    p.open_block(f"{keyword} {name}({', '.join(params)})")
    saved = p.scope.blocks
    p.scope.blocks = [{}, {}]  # the body sees only its parameters (no captured loop state)
    for param, ptype in zip(params, ptypes):
        p.scope.declare(param, Var(ptype))
    used = 1
    returns = [INT if rng.random() < 0.7 else STR]
    if rng.random() < 0.25:
        returns.append(INT)
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
        names = [p.scope.fresh(rng, _NAME_POOL[t]) for t in func.returns]
        names = list(dict.fromkeys(names))
        if len(names) == len(func.returns):
            p.emit(f"local {', '.join(names)} = {name}({args})")
            for var, typ in zip(names, func.returns):
                p.scope.declare(var, Var(typ))
            p.emit(f"print({', '.join(names)})")
            return
    if rng.random() < 0.5:
        p.emit(f"print({name}({args}))")
    else:
        var = p.scope.fresh(rng, _NAME_POOL[func.returns[0]])
        p.emit(f"local {var} = {name}({args})")
        p.scope.declare(var, Var(func.returns[0]))
        p.emit(f'print("{rng.choice(WORDS)}", {var})')


def recursive_function(p: Program) -> int:
    """A shallow recursive function (factorial, sum to n, power, fibonacci, countdown) and a call."""
    rng = p.rng
    kind = rng.choice(("fact", "sum", "pow", "fib", "countdown"))
    name = p.scope.fresh(rng, {"fact": ("fact", "factorial"), "sum": ("sum_to", "total_to"),
                               "pow": ("power", "pow2"), "fib": ("fib", "fibonacci"),
                               "countdown": ("countdown", "launch")}[kind])
    local = "local " if rng.random() < 0.6 else ""
    arg = rng.randint(1, {"fact": 7, "sum": 9, "pow": 8, "fib": 9, "countdown": min(5, p.max_iterations)}[kind])
    lines = {
        "fact": [f"{local}function {name}(n)", "    if n <= 1 then", "        return 1", "    end",
                 f"    return n * {name}(n - 1)", "end", f"print({name}({arg}))"],
        "sum": [f"{local}function {name}(n)", "    if n == 0 then", "        return 0", "    end",
                f"    return n + {name}(n - 1)", "end", f"print({name}({arg}))"],
        "pow": [f"{local}function {name}(n)", "    if n == 0 then", "        return 1", "    end",
                f"    return 2 * {name}(n - 1)", "end", f"print({name}({arg}))"],
        "fib": [f"{local}function {name}(n)", "    if n < 2 then", "        return n", "    end",
                f"    return {name}(n - 1) + {name}(n - 2)", "end", f"print({name}({arg}))"],
        "countdown": [f"{local}function {name}(n)", "    if n > 0 then", "        print(n)",
                      f"        {name}(n - 1)", "    else", '        print("go")', "    end", "end",
                      f"{name}({arg})"],
    }[kind]
    for line in lines:
        p.emit(line)
    p.scope.funcs[name] = Func(params=[INT], returns=[INT])
    return 2
