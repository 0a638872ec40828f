"""The fixed structural tokens: names for Lua's keywords and operators, and how each renders back.

Structural tokens are upper-case words of two or more characters; literal characters (of numbers, strings
and outputs) are single-character tokens, so the two can never collide.
"""
from __future__ import annotations

import string

# tree-sitter leaf type -> token. Unary '-' and '~' are renamed by the walker (NEGATE, BIT_NOT).
LEAF_TOKENS: dict[str, str] = {
    "and": "AND", "break_statement": "BREAK", "do": "DO", "else": "ELSE", "elseif": "ELSEIF", "end": "END",
    "false": "FALSE", "for": "FOR", "function": "FUNCTION", "goto": "GOTO", "if": "IF", "in": "IN",
    "local": "LOCAL", "global": "GLOBAL", "nil": "NIL", "not": "NOT", "or": "OR", "repeat": "REPEAT",
    "return": "RETURN", "then": "THEN", "true": "TRUE", "until": "UNTIL", "while": "WHILE",
    "+": "PLUS", "-": "MINUS", "*": "MULTIPLY", "/": "DIVIDE", "//": "FLOOR_DIVIDE", "%": "MODULUS",
    "^": "POWER", "..": "CONCAT", "==": "EQUALITY", "~=": "NOT_EQUAL", "<": "LESS_THAN",
    "<=": "LESS_THAN_EQUAL", ">": "GREATER_THAN", ">=": "GREATER_THAN_EQUAL", "#": "LENGTH",
    "&": "BIT_AND", "|": "BIT_OR", "~": "BIT_XOR", "<<": "SHIFT_LEFT", ">>": "SHIFT_RIGHT",
    "=": "EQUALS", ",": "COMMA", ";": "SEMICOLON", "::": "LABEL", "(": "LEFT_PAREN", ")": "RIGHT_PAREN",
    "[": "LEFT_BRACKET", "]": "RIGHT_BRACKET", "{": "LEFT_BRACE", "}": "RIGHT_BRACE", ".": "DOT",
    ":": "COLON", "vararg_expression": "VARARG",
}
UNARY_TOKENS: dict[str, str] = {"-": "NEGATE", "~": "BIT_NOT", "not": "NOT", "#": "LENGTH"}

# Markers followed by a run of single-character tokens (the literal spelled out), semantic mode.
NUMBER = "NUMBER"
STRING = "STRING"
RAW = "RAW"  # fallback for a leaf the tables do not know: its source text, verbatim
NAME = "NAME"  # spelled identifier (Tokenizer(spell_identifiers=True))
METHOD_CALL = "METHOD_CALL"  # spelled method name of `obj:name(...)` (spell_identifiers=True)
CALL = "CALL"  # call of an expression that is not a (dotted) name: `f(x)(y)`, `t[1](x)`
CALL_END = "CALL_END"
NEWLINE = "NEWLINE"  # paper-mode outputs: a line break
LITERAL_MARKERS = frozenset({NUMBER, STRING, RAW, NAME, METHOD_CALL})

# Parameterised tokens KIND(value): IDENTIFIER(x), FUNCTION_CALL(string.upper), METHOD_CALL(upper),
# ATTRIBUTE(const); paper mode adds NUMBER(5) and STRING(word).
IDENTIFIER_FMT = "IDENTIFIER({})"
FUNCTION_CALL_FMT = "FUNCTION_CALL({})"
METHOD_CALL_FMT = "METHOD_CALL({})"
ATTRIBUTE_FMT = "ATTRIBUTE({})"

RENDER: dict[str, str] = {token: ("..." if leaf == "vararg_expression" else "break" if leaf == "break_statement"
                                  else leaf) for leaf, token in LEAF_TOKENS.items()}
RENDER.update({"NEGATE": "-", "BIT_NOT": "~", CALL: "(", CALL_END: ")"})

# Single characters every semantic vocabulary holds, so unseen literals never become <UNK>.
PRINTABLE_CHARS: tuple[str, ...] = tuple(string.printable)  # ASCII letters, digits, punctuation, whitespace
# The other characters a Lua string or stdout can hold as one token: ASCII control characters (`"\0"`,
# `"\a"`, `string.char(1)`) and the bytes that are not UTF-8 (U+DC80..U+DCFF, how `lua_strings` keeps them).
# The styles that promise no <UNK> reserve them, and write a string's text beyond ASCII as its UTF-8 bytes
# (identifiers.byte_chars); the names style keeps one token per code point, an open set.
CONTROL_CHARS: tuple[str, ...] = tuple(chr(c) for c in [*range(32), 127] if chr(c) not in string.printable)
RAW_BYTE_CHARS: tuple[str, ...] = tuple(chr(0xDC00 + b) for b in range(0x80, 0x100))
# The attributes Lua 5.4 accepts after a local name (`local x <const>`, `local f <close>`); no other compiles.
ATTRIBUTES: tuple[str, ...] = ("const", "close")
STRUCTURAL_TOKENS: tuple[str, ...] = tuple(sorted(set(LEAF_TOKENS.values()) | set(UNARY_TOKENS.values())
                                                  | {NUMBER, STRING, RAW, NAME, METHOD_CALL, CALL, CALL_END,
                                                     NEWLINE}))
