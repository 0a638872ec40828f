"""A light Lua 5.4 lexer: enough to count branch points and to normalise source for de-duplication.

It separates names/keywords, numbers, string literals (short and long brackets), comments and symbols.
It is not a validator: malformed input still yields tokens (run_lua reports real syntax errors).
"""
from __future__ import annotations

import re

# Branch points of the dissertation's difficulty measure: conditionals, loops, short-circuit operators
# and function definitions.
BRANCH_KEYWORDS = frozenset({"if", "elseif", "for", "while", "repeat", "and", "or", "function"})

# Comments and string literals (short or long-bracket; unterminated ones run to the end of line / input).
_LITERAL = re.compile(
    r"""--\[(=*)\[.*?(?:\]\1\]|\Z)|--[^\n]*|\[(=*)\[.*?(?:\]\2\]|\Z)"""
    r"""|"(?:[^"\\\n]|\\.|\\\n)*(?:"|$)|'(?:[^'\\\n]|\\.|\\\n)*(?:'|$)""",
    re.DOTALL | re.MULTILINE,
)
# Everything else: names, numbers, multi-character symbols, then any other non-space character.
_CODE = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*|0[xX][0-9a-fA-F]*\.?[0-9a-fA-F]*(?:[pP][+-]?\d+)?"
    r"|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|\.\.\.|\.\.|==|~=|<=|>=|<<|>>|//|::|\S"
)


# One-pass pattern for sources without long brackets (the common case, and every generated program).
_SIMPLE = re.compile(
    r"""--[^\n]*|"(?:[^"\\\n]|\\.)*(?:"|$)|'(?:[^'\\\n]|\\.)*(?:'|$)|""" + _CODE.pattern,
    re.DOTALL | re.MULTILINE,
)


def tokenize_lua(source: str) -> list[str]:
    """Split Lua source into token strings, dropping whitespace and comments (strings kept verbatim).

    Unknown characters become one-character tokens so normalisation stays faithful to the input.
    """
    if "[[" not in source and "[=" not in source:
        return [t for t in _SIMPLE.findall(source) if not t.startswith("--")]
    tokens: list[str] = []
    position = 0
    for match in _LITERAL.finditer(source):
        tokens.extend(_CODE.findall(source, position, match.start()))
        text = match.group()
        if not text.startswith("--"):
            tokens.append(text)
        position = match.end()
    tokens.extend(_CODE.findall(source, position))
    return tokens


_BRANCH = re.compile(r"\b(?:%s)\b" % "|".join(sorted(BRANCH_KEYWORDS)))


def count_branches(source: str) -> int:
    """Number of branch points: if, elseif, for, while, repeat, and, or and function definitions."""
    return len(_BRANCH.findall(_LITERAL.sub(" ", source)))


def normalise_source(source: str) -> str:
    """Tokens joined by single spaces: equal for programs that differ only in layout or comments."""
    return " ".join(tokenize_lua(source))
