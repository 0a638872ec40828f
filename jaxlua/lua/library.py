"""Straight-line prints that exercise the string and math libraries and number/string conversions.

People's small programs print `string.upper(message)`, `7 / 2`, `math.sqrt(16)`, `"n = " .. n`: these builders
write such lines (no branch points) over literals and the variables in scope. Patterns given to find and gsub
are letters only, and find is called with plain=true, so no pattern can fail or run away.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from jaxlua.lua import words
from jaxlua.lua.expressions import INT, STR, wrap

if TYPE_CHECKING:
    from jaxlua.lua.statements import Program


def _subject(p: Program) -> tuple[str, str]:
    """(expression, text it is known to contain) for a string: a variable in scope or a fresh literal."""
    names = p.scope.names(STR)
    if names and p.rng.random() < 0.5:
        return p.rng.choice(names), ""
    body, text = words.string_content(p.rng, p.expr.max_string_length)
    return f'"{body}"', text


def string_show(p: Program) -> int:
    """print a string library call: len, upper/lower (often as methods), sub, rep, reverse, find, gsub, format."""
    rng = p.rng
    subject, text = _subject(p)
    method = rng.random() < 0.4 and not subject.startswith('"')
    roll = rng.random()
    if roll < 0.12:
        call = rng.choice((f"#{subject}", f"string.len({subject})", f"{wrap(subject)}:len()"))
    elif roll < 0.34:
        fn = rng.choice(("upper", "lower", "reverse"))
        call = f"{subject}:{fn}()" if method else f"string.{fn}({subject})"
    elif roll < 0.46:
        i = rng.randint(1, 4)
        args = rng.choice((f"{i}, {i + rng.randint(0, 4)}", str(i), str(-rng.randint(1, 4))))
        call = f"{subject}:sub({args})" if method else f"string.sub({subject}, {args})"
    elif roll < 0.54:
        sep = f', "{rng.choice((" ", ", ", "-", ""))}"' if rng.random() < 0.4 else ""
        call = f"string.rep({subject}, {rng.randint(1, 3)}{sep})"
    elif roll < 0.68:
        pattern = words.plain_pattern(rng, text)
        call = f'string.find({subject}, "{pattern}", 1, true)' if not method \
            else f'{subject}:find("{pattern}", 1, true)'
    elif roll < 0.82:
        pattern = words.plain_pattern(rng, text)
        replacement = words.word(rng) if rng.random() < 0.6 else rng.choice(("", "_", "*", "."))
        call = f'string.gsub({subject}, "{pattern}", "{replacement}")'  # prints the string and the count
    else:
        spec = rng.choice(("%s", "%d", "%5.2f", "%.1f", "%-6s|", "%03d"))
        if spec in ("%d", "%03d"):
            arg = p.expr.int_expr(1)
        elif spec.endswith(("f",)):
            arg = p.expr.num_expr(1)
        else:
            arg = subject
        call = f'string.format("{p.expr.label()}{spec}", {arg})'
    p.emit(f"print({call})")
    return 0


def number_show(p: Program) -> int:
    """print arithmetic whose result type matters (7 / 2 is 3.5, 2^3 is 8.0, 7 // 2 is 3), a math library
    call, or a conversion (tostring, tonumber, `..` with a number)."""
    rng = p.rng
    expr = p.expr

    def operand() -> str:
        return expr.int_expr(0) if rng.random() < 0.6 else str(rng.randint(-9, 20))

    roll = rng.random()
    if roll < 0.2:
        op = rng.choice(("/", "//", "%", "/"))
        line = f"{wrap(operand())} {op} {expr.small(1)}"
    elif roll < 0.3:
        line = f"{wrap(expr.int_expr(0))} ^ {rng.randint(0, 3)}"
    elif roll < 0.55:
        fn = rng.choice(("math.max", "math.min", "math.floor", "math.ceil", "math.abs", "math.sqrt",
                         "math.fmod"))
        if fn in ("math.max", "math.min"):
            line = f"{fn}({', '.join(operand() for _ in range(rng.randint(2, 4)))})"
        elif fn in ("math.floor", "math.ceil"):
            line = f"{fn}({rng.choice((expr.float_literal(), f'{wrap(operand())} / {expr.small()}'))})"
        elif fn == "math.sqrt":
            line = f"math.sqrt({rng.choice((rng.randint(0, 12) ** 2, rng.randint(0, 50)))})"
        elif fn == "math.fmod":
            line = f"math.fmod({operand()}, {expr.small()})"
        else:
            line = f"math.abs({operand()})"
    elif roll < 0.7:
        value = rng.choice((str(rng.randint(0, 999)), expr.float_literal(), f" {rng.randint(1, 99)} "))
        line = f'tonumber("{value}") {rng.choice(("+", "*", "-"))} {expr.literal()}'
    elif roll < 0.85:
        line = f'tostring({expr.num_expr(1)}) .. "{rng.choice(("", "!", " ", "?"))}"'
    else:
        line = f'"{expr.label()}" .. {wrap(expr.num_expr(1))}'
    p.emit(f"print({line})")
    return 0


def show_value(p: Program) -> int:
    """print a number or string variable on its own or labelled: the way people check state."""
    rng = p.rng
    names = p.scope.names(INT) + p.scope.names(STR)
    if not names:
        return number_show(p)
    name = rng.choice(names)
    if rng.random() < 0.5:
        p.emit(f"print({name})")
    else:
        p.emit(f'print("{p.expr.label()}" .. {name})')
    return 0
