"""Which Lua constructs a program uses, read from its tokens: for coverage reports and per-construct scores.

`constructs(source)` returns names from `CONSTRUCTS` (e.g. "for_generic", "string.gsub", "recursion",
"multiple_returns"). Detection is lexical (jaxlua.lua.lexer), so it works on any source, generated or not,
without running it; method calls count as their library function (`s:upper()` is "string.upper" and
"method_call"). `string_literals` and `identifiers` give the strings and names a program contains.
"""
from __future__ import annotations

import re

from jaxlua.lua.lexer import tokenize_lua
from jaxlua.lua.words import LUA_KEYWORDS, RESERVED

STRING_FUNCTIONS = ("upper", "lower", "len", "sub", "rep", "reverse", "format", "find", "gsub")
MATH_FUNCTIONS = ("max", "min", "floor", "ceil", "abs", "sqrt", "fmod")
TABLE_FUNCTIONS = ("insert", "remove", "concat", "sort")

CONSTRUCTS = (
    "print", "io.write", "string_literal", "string_escape", "concat", "tostring", "tonumber",
    "local", "multiple_assignment", "if", "elseif", "else", "and", "or", "not", "comparison",
    "for_numeric", "for_generic", "while", "repeat", "break",
    "function", "return", "multiple_returns", "recursion",
    "table_array", "table_record", "nested_table", "length", "indexing", "field_access", "ipairs", "pairs",
    *(f"table.{name}" for name in TABLE_FUNCTIONS),
    *(f"string.{name}" for name in STRING_FUNCTIONS), "method_call",
    *(f"math.{name}" for name in MATH_FUNCTIONS),
    "arithmetic", "float_division", "floor_division", "modulo", "power", "negative_number", "float_literal",
    "boolean", "nil",
)

_SIMPLE_KEYWORDS = {"if", "elseif", "else", "and", "or", "not", "while", "repeat", "break", "return", "local",
                    "nil"}
_COMPARISONS = {"==", "~=", "<", ">", "<=", ">="}
_LIBRARIES = {"string": STRING_FUNCTIONS, "math": MATH_FUNCTIONS, "table": TABLE_FUNCTIONS}
_BLOCK_OPEN = {"function", "if", "do", "repeat"}  # for/while open their block with `do`
_BLOCK_CLOSE = {"end", "until"}
_RETURN_STOP = {"end", "else", "elseif", "until", ";"}
# After these a "-" is unary: operators, separators and keywords that precede an expression.
_UNARY_BEFORE = {"=", "(", ",", "{", "[", "return", "and", "or", "not", "..", "+", "-", "*", "/", "//", "%", "^",
                 "==", "~=", "<", ">", "<=", ">=", "then", "do", "else", "in", "until"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NUMBER = re.compile(r"\d|\.\d")


def _is_string(token: str) -> bool:
    return token[:1] in ('"', "'") or token.startswith("[[") or token.startswith("[=")


def _is_name(token: str) -> bool:
    return bool(_NAME.match(token)) and token not in LUA_KEYWORDS


def _return_has_list(tokens: list[str], start: int) -> bool:
    """Whether the expression list after the `return` at `start` has a top-level comma."""
    depth = 0
    for token in tokens[start + 1:]:
        if depth == 0 and token in _RETURN_STOP:
            return False
        if token in ("(", "{", "["):
            depth += 1
        elif token in (")", "}", "]"):
            depth -= 1
        elif token == "," and depth == 0:
            return True
    return False


def _multiple_assignment(tokens: list[str], start: int) -> bool:
    """`a, b = ...` or `local a, b = ...` starting at a name at `start`."""
    i, names = start, 0
    while i < len(tokens) and _is_name(tokens[i]):
        names += 1
        if i + 1 < len(tokens) and tokens[i + 1] == ",":
            i += 2
            continue
        return names >= 2 and i + 1 < len(tokens) and tokens[i + 1] == "="
    return False


def constructs(source: str) -> set[str]:
    """The names from CONSTRUCTS that `source` uses (lexically; malformed source gives a best effort)."""
    tokens = tokenize_lua(source)
    found: set[str] = set()
    table_depth = 0
    open_functions: list[tuple[str, int]] = []  # (name, block depth of its body)
    depth = 0
    for i, token in enumerate(tokens):
        prev = tokens[i - 1] if i else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if _is_string(token):
            found.add("string_literal")
            if "\\" in token:
                found.add("string_escape")
            continue
        if token in _SIMPLE_KEYWORDS:
            found.add(token)
        if token in _COMPARISONS:
            found.add("comparison")
        elif token == "..":
            found.add("concat")
        elif token in ("+", "*"):
            found.add("arithmetic")
        elif token == "-":
            found.add("negative_number" if (i == 0 or prev in _UNARY_BEFORE) and nxt != "-" else "arithmetic")
        elif token == "/":
            found.add("float_division")
        elif token == "//":
            found.add("floor_division")
        elif token == "%":
            found.add("modulo")
        elif token == "^":
            found.add("power")
        elif token == "#":
            found.add("length")
        elif token in ("true", "false"):
            found.add("boolean")
        elif token == "print" and nxt == "(" and prev not in (".", ":"):
            found.add("print")
        elif token in ("tostring", "tonumber", "ipairs", "pairs") and nxt == "(" and prev not in (".", ":"):
            found.add(token)
        elif token == "write" and prev == "." and i >= 2 and tokens[i - 2] == "io":
            found.add("io.write")
        elif token in _LIBRARIES and nxt == "." and i + 2 < len(tokens) and tokens[i + 2] in _LIBRARIES[token]:
            found.add(f"{token}.{tokens[i + 2]}")
        elif token == ":" and nxt in STRING_FUNCTIONS:
            found.update(("method_call", f"string.{nxt}"))
        elif token == ":" and _is_name(nxt):
            found.add("method_call")
        elif token == "." and _is_name(nxt) and prev not in _LIBRARIES and prev != "io":
            found.add("field_access")
        elif token == "[" and (prev == "]" or prev == ")" or _is_name(prev)):
            found.add("indexing")
        elif _NUMBER.match(token) and not token.lower().startswith("0x") and ("." in token or "e" in token.lower()):
            found.add("float_literal")
        elif token == "for":
            j = i + 1
            while j < len(tokens) and tokens[j] not in ("=", "in", "do"):
                j += 1
            found.add("for_numeric" if j < len(tokens) and tokens[j] == "=" else "for_generic")
        elif token == "{":
            table_depth += 1
            if table_depth > 1:
                found.add("nested_table")
            if nxt == "[" or (_is_name(nxt) and i + 2 < len(tokens) and tokens[i + 2] == "="):
                found.add("table_record")
            elif nxt != "}":
                found.add("table_array")
        elif token == "}":
            table_depth = max(0, table_depth - 1)
        # statements and blocks
        if _is_name(token) and prev not in (".", ":", ",", "(", "{", "function") \
                and _multiple_assignment(tokens, i):
            found.add("multiple_assignment")
        if token == "return" and _return_has_list(tokens, i):
            found.add("multiple_returns")
        if token == "function":
            found.add("function")
            if _is_name(nxt):
                open_functions.append((nxt, depth + 1))
        elif _is_name(token) and nxt == "(" and prev != "function" \
                and any(name == token for name, _ in open_functions):
            found.add("recursion")
        if token in _BLOCK_OPEN:
            depth += 1
        elif token in _BLOCK_CLOSE:
            while open_functions and open_functions[-1][1] == depth:
                open_functions.pop()
            depth -= 1
    return found


def string_literals(source: str) -> list[str]:
    """The quoted string literals of `source`, as written (quotes and escapes included)."""
    return [token for token in tokenize_lua(source) if _is_string(token)]


def identifiers(source: str) -> list[str]:
    """Names the program itself declares or uses: no keywords, library globals, fields or methods."""
    tokens = tokenize_lua(source)
    return [token for i, token in enumerate(tokens) if _NAME.match(token) and token not in RESERVED
            and (i == 0 or tokens[i - 1] not in (".", ":"))]


def summarise(sources: list[str]) -> dict:
    """Share of `sources` using each construct, and distinct string literals and identifiers per 1,000
    programs (counted over the first 1,000, scaled when there are fewer)."""
    if not sources:
        raise ValueError("summarise needs at least one program")
    counts: dict[str, int] = dict.fromkeys(CONSTRUCTS, 0)
    for source in sources:
        for name in constructs(source):
            counts[name] += 1
    head = sources[:1000]
    scale = 1000 / len(head)
    strings = {s for source in head for s in string_literals(source)}
    names = {n for source in head for n in identifiers(source)}
    return {
        "programs": len(sources),
        "construct_share": {name: round(count / len(sources), 4) for name, count in counts.items()},
        "distinct_strings_per_1000": round(len(strings) * scale, 1),
        "distinct_identifiers_per_1000": round(len(names) * scale, 1),
    }
