"""The fast path of the training default (semantic mode, canonical identifiers): tokens read off the lexemes.

The tree walk (`syntax.walk`) makes a Python object for every node of the syntax tree, and that costs more than
tree-sitter's parse itself. Every token of this mode is a function of the lexemes and a little context (which
bracket is open, whether the previous lexeme ends an expression, whether a name is followed by call arguments),
so once tree-sitter has parsed the program (which still decides whether it is valid Lua), `lexical_tokens` reads
the tokens from one regular-expression pass over the source. On every program Lua 5.4 compiles it gives the
walk's tokens exactly, through the same style object (the same renaming, in the same order);
tests/tokenize/test_lexical.py checks that on every level, the hand-written set and fuzzed and mutated programs.
(Tree-sitter's grammar also accepts some text Lua rejects, such as a keyword read as a name; there the two may
write different tokens of the invalid program.)

Anything outside what it knows, it does not guess: it returns None and the caller walks the tree. That covers
comments in long brackets, long strings, labels and `goto`, attributes (`<const>`), a shebang line, text
outside ASCII between tokens, a line that starts with `(` (Lua's call-or-statement ambiguity), calls on a call's
string or table argument (`f"a""b"`), and any lexeme it cannot place.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from jaxlua.tokenize import token_names as tn
from jaxlua.tokenize.lua_strings import StringLiteralError, decode_lua_string

if TYPE_CHECKING:
    from jaxlua.tokenize.identifiers import CanonicalStyle

_LEXEME = re.compile(
    r"\s*("  # whitespace is skipped inside the match: cheaper than failing every alternative on it
    r"--[^\n]*"  # a comment to the end of the line (one in long brackets falls back)
    r"|[A-Za-z_][A-Za-z0-9_]*"
    r"|0[xX][0-9a-fA-F]*(?:\.[0-9a-fA-F]*)?(?:[pP][-+]?[0-9]+)?"
    r"|[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?"
    r"|\"(?:[^\"\\\n]|\\[\s\S])*\"|'(?:[^'\\\n]|\\[\s\S])*'"
    r"|\.\.\.|\.\.|==|~=|<=|>=|<<|>>|//|::"
    r"|\S)")
_END = "\0"  # after the last lexeme (never one itself)
_LINE_OPENS_PAREN = re.compile(r"\n[ \t]*\(")  # `a = b\n(f)(x)`: Lua reads one call, a reader two statements
_ATTRIBUTE = re.compile(r"<\s*[A-Za-z_][A-Za-z0-9_]*\s*>")  # `local x <const>` (the grammar takes any name)


def _unsupported(source: str) -> bool:
    """Whether `source` holds what the lexemes cannot stand for: text outside ASCII, long brackets, an
    attribute, a shebang or a line that opens with `(` (substring tests first: they cost almost nothing)."""
    return (not source.isascii() or "[[" in source or "[=" in source or source[:1] == "#"
            or ("<" in source and ">" in source and _ATTRIBUTE.search(source) is not None)
            or _LINE_OPENS_PAREN.search(source) is not None)


_LEAF = tn.LEAF_TOKENS
# Lexemes whose token never depends on context.
_FIXED: dict[str, str] = {word: _LEAF[word] for word in (
    "and", "do", "else", "elseif", "end", "false", "for", "if", "in", "local", "nil", "not", "or", "repeat",
    "return", "then", "true", "until", "while",
    "+", "*", "/", "//", "%", "^", "..", "==", "~=", "<", "<=", ">", ">=", "#", "&", "|", "<<", ">>", "=", ",",
    ";")}
_FIXED["break"] = _LEAF["break_statement"]
_FIXED["..."] = _LEAF["vararg_expression"]
# Lexemes read with their context, by what they do.
_FUNCTION, _OPEN_PAREN, _CLOSE, _OPEN_BRACE, _OPEN_BRACKET, _CLOSE_BRACKET, _SIGN, _DOT, _COLON, _UNKNOWN = range(10)
_SPECIAL: dict[str, int] = {"function": _FUNCTION, "(": _OPEN_PAREN, ")": _CLOSE, "}": _CLOSE, "{": _OPEN_BRACE,
                            "[": _OPEN_BRACKET, "]": _CLOSE_BRACKET, "-": _SIGN, "~": _SIGN, ".": _DOT,
                            ":": _COLON, "goto": _UNKNOWN, "global": _UNKNOWN, "::": _UNKNOWN}
_KEYWORDS = frozenset(word for word in [*_FIXED, *_SPECIAL] if word[0].isalpha())
_TABLE: dict[str, str | int] = {**_FIXED, **_SPECIAL}  # a token, or how to read the lexeme
# What a lexeme is by its first character, for the lexemes of neither table.
_NAME, _NUMBER, _STRING = "name", "number", "string"  # compared by identity in the loop
_FIRST: dict[str, str] = {**dict.fromkeys("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", _NAME),
                          **dict.fromkeys("0123456789.", _NUMBER), '"': _STRING, "'": _STRING}
# How the lexeme before one ends: 2 a prefix expression (a name, `)`, `]`: call arguments may follow),
# 1 another expression (`-` after it is binary), 0 not an expression.
_ENDS: dict[str, int] = {")": 2, "]": 2, "}": 1, "...": 1, "nil": 1, "true": 1, "false": 1, "end": 1,
                         _END: 0}
_ENDS_BY_FIRST: dict[str | None, int] = {_NAME: 2, _NUMBER: 1, _STRING: 1}
_CALL_STARTS = frozenset("({\"'")  # first characters of call arguments
_KEY_BEFORE = frozenset({"{", ",", ";"})  # what comes before a `{name = value}` key
# Bracket kinds on the stack.
_PAREN, _CALL_PAREN, _BRACE, _CALL_BRACE, _BRACKET = range(5)


def _ends(lexeme: str) -> int:
    """How `lexeme`, the one before, ends (see `_ENDS`)."""
    kind = _ENDS.get(lexeme)
    if kind is None:
        kind = 0 if lexeme in _FIXED or lexeme in _SPECIAL else _ENDS_BY_FIRST.get(_FIRST.get(lexeme[0]), 0)
    return kind


def lexical_tokens(source: str, style: "CanonicalStyle") -> list[str] | None:
    """Tokens of a valid program `source` under the canonical `style` (its per-program state set by the caller),
    or None where the tree walk must decide."""
    if _unsupported(source):
        return None
    lexemes = _LEXEME.findall(source)
    if "--" in source:
        lexemes = [lexeme for lexeme in lexemes if lexeme[:2] != "--"]
    lexemes.append(_END)  # lexemes[i] past the last is the end, lexemes[-1] before the first too
    out: list[str] = []
    append, extend = out.append, out.extend
    written, variable, field = style.written_tokens, style.variable_tokens, style.field_tokens
    lexeme_table, first_kind, chars, call_starts = _TABLE, _FIRST, style.string_chars, _CALL_STARTS
    number, string, name_kind = tn.NUMBER, tn.STRING, _NAME
    stack: list[int] = []
    declaring = False  # between `function` and its parameters: the name `a.b.c:d`
    count = len(lexemes) - 1
    i = 0
    while i < count:
        lexeme = lexemes[i]
        i += 1
        code = lexeme_table.get(lexeme)
        if code.__class__ is str:
            append(code)
            continue
        if code is None:
            kind = first_kind.get(lexeme[0])
            if kind is name_kind:
                if declaring:
                    extend(field(lexeme) if lexemes[i - 2] in (".", ":") else variable(lexeme))
                    continue
                following = lexemes[i]
                if following[0] in call_starts or following == ".":
                    j = i  # a chain `a.b.c` followed by call arguments is a call by name
                    while lexemes[j] == "." and _is_name(lexemes[j + 1]):
                        j += 2
                    if lexemes[j][0] in call_starts:
                        head = style.call_head_name(lexemes[i - 1:j:2])
                        if head is not None:
                            append(head)
                            i = _open_call(lexemes, j, out, stack, chars)
                            if i < 0:
                                return None
                            continue
                elif (following == "=" and stack and (stack[-1] == _BRACE or stack[-1] == _CALL_BRACE)
                      and lexemes[i - 2] in _KEY_BEFORE):
                    extend(field(lexeme))  # `{name = value}`: the key is a field name
                    continue
                tokens = written.get(lexeme)
                extend(variable(lexeme) if tokens is None else tokens)
            elif kind == _NUMBER:
                if lexeme[-1] == "." or lexeme[:2] in ("0x", "0X") and "." in lexeme:
                    return None  # `3.` next to `..`, hexadecimal fractions: the walk decides
                append(number)
                extend(lexeme)
            elif kind == _STRING:
                if len(lexeme) == 1:
                    return None  # a quote the string pattern could not close: the walk raises the error
                before = _ends(lexemes[i - 2])
                if before == 2:  # `t[1] "x"`: a call (a call by name was read with its callee)
                    append(tn.CALL)
                    i = _open_call(lexemes, i - 1, out, stack, chars)
                    if i < 0:
                        return None
                    continue
                if "\\" in lexeme:
                    try:
                        lexeme = chars(decode_lua_string(lexeme.encode()))
                    except StringLiteralError:
                        return None  # the walk raises the error, with its place
                else:  # no escapes: the characters between the quotes (ASCII, checked above)
                    lexeme = lexeme[1:-1]
                append(string)
                extend(lexeme)
            else:
                return None
        elif code == _OPEN_PAREN:
            if declaring:
                declaring = False
                stack.append(_PAREN)
                append(_LEAF["("])
            elif _ends(lexemes[i - 2]) == 2:
                stack.append(_CALL_PAREN)
                append(tn.CALL)
            else:
                stack.append(_PAREN)
                append(_LEAF["("])
        elif code == _CLOSE:
            if not stack:
                return None
            kind = stack.pop()
            if kind == _CALL_PAREN and lexeme == ")":
                append(tn.CALL_END)
            elif kind == _PAREN and lexeme == ")":
                append(_LEAF[")"])
            elif kind == _BRACE and lexeme == "}":
                append(_LEAF["}"])
            elif kind == _CALL_BRACE and lexeme == "}":
                append(_LEAF["}"])
                append(tn.CALL_END)
            else:
                return None
            if lexeme == "}" and lexemes[i][0] in _CALL_STARTS:
                return None  # `f{...}(x)`, `f{...}"y"`: a call of the call's result
        elif code == _SIGN:
            append(_LEAF[lexeme] if _ends(lexemes[i - 2]) else tn.UNARY_TOKENS[lexeme])
        elif code == _DOT:
            if declaring:
                append(_LEAF["."])
                continue
            name = lexemes[i]
            if not _is_name(name):
                return None
            append(_LEAF["."])
            extend(field(name))
            i += 1
        elif code == _OPEN_BRACKET:
            stack.append(_BRACKET)
            append(_LEAF["["])
        elif code == _CLOSE_BRACKET:
            if not stack or stack.pop() != _BRACKET:
                return None
            append(_LEAF["]"])
        elif code == _OPEN_BRACE:
            if _ends(lexemes[i - 2]) == 2:
                append(tn.CALL)
                stack.append(_CALL_BRACE)
            else:
                stack.append(_BRACE)
            append(_LEAF["{"])
        elif code == _FUNCTION:
            append(_LEAF["function"])
            declaring = first_kind.get(lexemes[i][0]) == _NAME
        elif code == _COLON:
            name = lexemes[i]
            if not _is_name(name):
                return None
            if declaring:
                append(_LEAF[":"])
                continue
            if lexemes[i + 1][0] not in _CALL_STARTS:
                return None
            extend(style.method_tokens(name))
            i = _open_call(lexemes, i + 1, out, stack, chars)
            if i < 0:
                return None
        else:
            return None
    if stack or declaring:
        return None
    return out


def _is_name(lexeme: str) -> bool:
    return _FIRST.get(lexeme[0]) == _NAME and lexeme not in _KEYWORDS


def _open_call(lexemes: list[str], i: int, out: list[str], stack: list[int], chars: Callable[[str], str]) -> int:
    """Writes the start of the call arguments at `lexemes[i]` (a string: all of it and CALL_END; `(`: nothing;
    `{`: the brace) and returns the index after what it consumed, or -1 where the walk must decide."""
    lexeme = lexemes[i]
    first = lexeme[0]
    if len(lexeme) == 1 and first in "\"'":
        return -1  # an unclosed quote
    if first == "(":
        stack.append(_CALL_PAREN)
        return i + 1
    if first == "{":
        stack.append(_CALL_BRACE)
        out.append(_LEAF["{"])
        return i + 1
    if "\\" in lexeme:
        try:
            value = chars(decode_lua_string(lexeme.encode()))
        except StringLiteralError:
            return -1
    else:
        value = lexeme[1:-1]
    out.append(tn.STRING)
    out.extend(value)
    out.append(tn.CALL_END)
    if lexemes[i + 1][0] in _CALL_STARTS:
        return -1  # `f "a" "b"`, `f "a" (b)`: a call of the call's result
    return i + 1
