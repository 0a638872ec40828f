"""Semantic-mode program tokens -> Lua source that prints exactly what the original printed.

Tokens follow the source's own token order (source parentheses included), so mapping each token to its
Lua spelling and joining with spaces reproduces the same syntax tree: precedence needs no extra brackets.
Literal markers (NUMBER, STRING, RAW, NAME, METHOD_CALL) take the run of single-character tokens that follows them.
"""
from __future__ import annotations

from jaxlua.tokenize import token_names as tn
from jaxlua.tokenize.lua_strings import quote_lua_string

_KIND_TEMPLATES = {
    "IDENTIFIER": "{}",
    "FUNCTION_CALL": "{}(",
    "METHOD_CALL": ":{}(",
    "ATTRIBUTE": "<{}>",
}
# Cosmetic line breaks (Lua's grammar ignores newlines between tokens, so they never change the meaning).
_LINE_BREAK_AFTER = frozenset({"THEN", "DO", "ELSE", "END", "SEMICOLON", "REPEAT"})
_LINE_BREAK_BEFORE = frozenset({"LOCAL", "IF", "FOR", "WHILE", "REPEAT", "RETURN", "BREAK", "GOTO", "END", "ELSE",
                                "ELSEIF", "UNTIL"})


def _kind_value(token: str) -> tuple[str, str] | None:
    open_at = token.find("(")
    if open_at <= 0 or not token.endswith(")"):
        return None
    return token[:open_at], token[open_at + 1:-1]


def render_program(tokens: list[str]) -> str:
    """Lua source for semantic-mode `tokens`; ValueError naming the first token it cannot render."""
    pieces: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        token = tokens[i]
        i += 1
        if token in tn.LITERAL_MARKERS:
            start = i
            while i < n and len(tokens[i]) == 1:
                i += 1
            text = "".join(tokens[start:i])
            if token == tn.STRING:
                text = quote_lua_string(text)
            elif token == tn.METHOD_CALL:
                text = f":{text}("
            pieces.append(text)
            continue
        spelled = tn.RENDER.get(token)
        if spelled is None:
            kind_value = _kind_value(token)
            if kind_value is None or kind_value[0] not in _KIND_TEMPLATES:
                raise ValueError(f"cannot render token {token!r} at position {i - 1} as Lua")
            spelled = _KIND_TEMPLATES[kind_value[0]].format(kind_value[1])
        if token in _LINE_BREAK_BEFORE:
            pieces.append("\n")
        pieces.append(spelled)
        if token in _LINE_BREAK_AFTER:
            pieces.append("\n")
    text = " ".join(pieces)
    while " \n \n " in text:
        text = text.replace(" \n \n ", " \n ")
    return text.replace(" \n ", "\n").strip() + "\n"
