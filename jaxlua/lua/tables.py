"""Table statements for the dissertation levels: arrays (of ints, strings or rows), records (possibly nested),
insert/remove/concat/sort, and the loops over arrays (ipairs, and pairs, which visits an array in order).

Builders append lines to a `Program` (statements.py) and return the branch points they used. Arrays track a
lower bound on their length so indexing never reads nil; only top-level code changes that bound.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from jaxlua.lua import words
from jaxlua.lua.expressions import ARR, ARR_NAMES, FIELD_NUM, FIELD_STR, INT, REC, REC_NAMES, ROW, STR, Var, wrap

if TYPE_CHECKING:
    from jaxlua.lua.statements import Program

_SEPARATORS = (", ", " ", "-", ",", " | ", "")


def make_array(p: Program, elem: str | None = None) -> int:
    """local name = {...} of ints (most often), strings, or rows of ints (a nested table)."""
    rng = p.rng
    if elem is None:
        roll = rng.random()
        elem = INT if roll < 0.65 else STR if roll < 0.88 else ROW
    name = p.fresh(ARR_NAMES)
    n = rng.randint(2, 5)
    if elem == INT:
        items = [p.expr.literal() for _ in range(n)]
    elif elem == STR:
        items = [p.expr.string_literal() for _ in range(n)]
    else:
        n = min(n, 3)
        width = rng.randint(2, 3)
        items = ["{" + ", ".join(p.expr.literal() for _ in range(width)) + "}" for _ in range(n)]
    p.emit(f"local {name} = {{{', '.join(items)}}}")
    p.scope.declare(name, Var(ARR, min_len=n, elem=elem, row_len=width if elem == ROW else 0))
    return 0


def append_to_array(p: Program, name: str) -> None:
    """table.insert (at the end or the front) or t[#t + 1] = v, with a value of the array's type."""
    rng = p.rng
    array = p.scope.lookup(name)
    value = p.expr.int_expr(1) if array.elem == INT else p.expr.str_expr(1)
    form = rng.random()
    if form < 0.5:
        p.emit(f"table.insert({name}, {value})")
    elif form < 0.75:
        p.emit(f"{name}[#{name} + 1] = {value}")
    else:
        p.emit(f"table.insert({name}, 1, {value})")
    if p.indent == 0:  # inside a branch or loop the append may not run
        array.min_len += 1


def remove_from_array(p: Program, name: str) -> None:
    """table.remove at the end or at position 1, its result printed (top level only: it shrinks the array)."""
    array = p.scope.lookup(name)
    where = "" if p.rng.random() < 0.6 else ", 1"
    p.emit(f"print(table.remove({name}{where}))")
    array.min_len -= 1


def make_record(p: Program) -> int:
    """local name = {field = value, ...}, sometimes with a nested record ({pos = {x = 1, y = 2}})."""
    rng = p.rng
    name = p.fresh(REC_NAMES)
    fields: dict[str, str] = {}
    parts = []
    for _ in range(rng.randint(1, 2)):
        field = new_field(p, FIELD_NUM, fields)
        fields[field] = INT
        parts.append(f"{field} = {p.expr.literal()}")
    if rng.random() < 0.7:
        field = new_field(p, FIELD_STR, fields)
        fields[field] = STR
        parts.append(f"{field} = {p.expr.string_literal()}")
    if rng.random() < 0.3:
        inner = new_field(p, ("pos", "size", "stats"), fields)
        inner_fields = list(dict.fromkeys(new_field(p, FIELD_NUM, {}) for _ in range(2)))
        for field in inner_fields:
            fields[f"{inner}.{field}"] = INT
        parts.append(f"{inner} = {{{', '.join(f'{f} = {p.expr.literal()}' for f in inner_fields)}}}")
    p.emit(f"local {name} = {{{', '.join(parts)}}}")
    p.scope.declare(name, Var(REC, fields=fields))
    return 0


def update_record(p: Program, name: str) -> None:
    rng = p.rng
    field, ftype = rng.choice(list(p.scope.lookup(name).fields.items()))
    if ftype == INT:
        p.emit(f"{name}.{field} = {name}.{field} {rng.choice(('+', '-', '*'))} {p.expr.literal(1)}")
    elif rng.random() < 0.5:
        p.emit(f'{name}["{field}"] = {p.expr.str_expr(1)}')
    else:
        p.emit(f"{name}.{field} = {name}.{field} .. {wrap(p.expr.str_expr(1))}")


def table_output(p: Program) -> int:
    """Print something about an array: its length, a concat, a sorted concat, a removed element, a row."""
    rng = p.rng
    arrays = p.scope.arrays()
    if not arrays:
        make_array(p)
        arrays = p.scope.arrays()
    name = rng.choice(arrays)
    array = p.scope.lookup(name)
    roll = rng.random()
    if roll < 0.2:
        p.emit(f'print("{p.expr.label()}", #{name})')
    elif array.elem == ROW:
        row = rng.randint(1, array.min_len) if array.min_len else 1
        if array.min_len:
            p.emit(f'print(table.concat({name}[{row}], "{rng.choice(_SEPARATORS)}"))')
        else:
            p.emit(f"print(#{name})")
    elif roll < 0.5:
        p.emit(f'print(table.concat({name}, "{rng.choice(_SEPARATORS)}"))')
    elif roll < 0.75:
        p.emit(f"table.sort({name})")
        p.emit(f'print(table.concat({name}, "{rng.choice(_SEPARATORS)}"))')
    elif p.indent == 0 and array.min_len >= 2 and not array.readonly:
        remove_from_array(p, name)
    else:
        p.emit(f"print(#{name}, {name}[1])")
    return 0


def array_loop(p: Program, budget: int) -> int:
    """for i, v in ipairs(t) / pairs(t) over an array, accumulating into a fresh variable printed afterwards."""
    rng = p.rng
    arrays = [n for n in p.scope.arrays(min_len=1) if p.scope.lookup(n).elem != ROW
              and p.scope.lookup(n).min_len <= p.max_iterations]
    if not arrays:
        make_array(p, rng.choice((INT, INT, STR)))
        arrays = [p.scope.arrays()[-1]]
    name = rng.choice(arrays)
    array = p.scope.lookup(name)
    acc = p.fresh(("total", "acc", "sum", "best", "out"))
    index, value = p.fresh(("i", "idx", "pos", "k")), p.fresh(("v", "val", "item", "x"))
    if array.elem == INT:
        p.emit(f"local {acc} = 0")
        op = rng.choice((f"{acc} + {value}", f"{acc} + {value} * {index}", f"math.max({acc}, {value})"))
    else:
        p.emit(f'local {acc} = ""')
        op = rng.choice((f"{acc} .. {value}", f'{acc} .. {index} .. "{rng.choice(_SEPARATORS)}" .. {value}',
                         f"{acc} .. string.upper(string.sub({value}, 1, 1))"))
    p.scope.declare(acc, Var(array.elem))
    was_readonly, array.readonly = array.readonly, True  # growing the array while iterating never ends
    p.scope.invalidate()
    iterator = "ipairs" if rng.random() < 0.7 else "pairs"  # pairs visits an array's slots in order
    p.open_block(f"for {index}, {value} in {iterator}({name}) do")
    p.scope.declare(index, Var(INT, readonly=True))
    p.scope.declare(value, Var(array.elem, readonly=True))
    p.emit(f"{acc} = {op}")
    used = 1
    if budget >= 2 and rng.random() < 0.5:
        used += p.nested(1)
    p.close_block()
    array.readonly = was_readonly
    p.scope.invalidate()
    p.emit(f'print("{p.expr.label()}" .. {acc})')
    return used


def new_field(p: Program, pool: tuple[str, ...], taken: dict[str, str]) -> str:
    """A record field name not in `taken`: conventional or generated, never reserved."""
    for _ in range(20):
        field = words.identifier(p.rng, p.max_identifier_length, pool)
        if field not in taken:
            return field
    return f"f{len(taken)}"
