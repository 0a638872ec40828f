"""Procedural words, identifiers and string literals for the program generator.

Words are built from syllables (onset + vowel + coda), so the source holds tens of thousands of distinct
pronounceable words instead of a short fixed list; a model that sees them must learn to copy characters.
Identifiers combine words in the styles people use (`total`, `max_value`, `getMinMax`, `item2`, `x`) and
never collide with Lua keywords or the globals generated programs call. String literals range over single
words, phrases with spaces and punctuation, digits and escapes (\\n \\t \\" \\\\), with a length bound.
Everything is drawn from the caller's `random.Random`, so it is the same on any machine for a seed.
"""
from __future__ import annotations

import random

_ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br",
           "ch", "cl", "cr", "dr", "fl", "gl", "gr", "pl", "pr", "sh", "sl", "sn", "sp", "st", "th", "tr", "qu",
           "", "")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "ee", "oo", "ou", "y", "ie")
_CODAS = ("", "", "", "n", "r", "s", "t", "l", "m", "ck", "nd", "st", "ng", "x", "p", "rt", "sh")

LUA_KEYWORDS = frozenset({
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in", "local",
    "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"})
# Globals a generated program may call: an identifier must never shadow one of them.
LUA_GLOBALS = frozenset({
    "print", "tostring", "tonumber", "type", "pairs", "ipairs", "next", "select", "string", "table", "math",
    "io", "os", "utf8", "load", "error", "assert", "pcall", "rawget", "rawset", "rawlen", "rawequal",
    "setmetatable", "getmetatable", "collectgarbage", "coroutine", "debug", "package", "require", "dofile",
    "xpcall", "arg", "self", "_G", "_ENV", "_VERSION"})
RESERVED = LUA_KEYWORDS | LUA_GLOBALS

# Punctuation that may appear in generated strings. No "%" (format and gsub patterns read it), no quotes
# or backslashes except through the escapes below.
_PUNCTUATION = (",", "!", "?", ".", ":", ";", "-", "'", "#", "&", "+", "=", "*", "/", "@", "(", ")")
# Lua escape as written in source -> character it prints.
ESCAPES = {"\\n": "\n", "\\t": "\t", '\\"': '"', "\\\\": "\\"}
_ESCAPE_KEYS = tuple(ESCAPES)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def word(rng: random.Random, max_syllables: int = 3) -> str:
    """A lower-case pronounceable word of 1..max_syllables syllables (at least two letters)."""
    while True:
        count = 1 + int(rng.random() * rng.random() * max_syllables)  # short words are the most common
        text = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(count))
        if len(text) >= 2:
            return text


def identifier(rng: random.Random, max_length: int, common: tuple[str, ...] = ()) -> str:
    """A Lua identifier of at most `max_length` characters, not a keyword or a called global.

    `common` names (the conventional ones for the role: i, count, total) are drawn a third of the time.
    """
    max_length = max(1, max_length)
    if common and rng.random() < 0.33:
        fits = [name for name in common if len(name) <= max_length]
        if fits:
            return rng.choice(fits)
    for _ in range(100):
        roll = rng.random()
        if roll < 0.12:
            name = rng.choice(_LETTERS)
        elif roll < 0.45:
            name = word(rng)
        elif roll < 0.7:
            name = f"{word(rng, 2)}_{word(rng, 2)}"
        elif roll < 0.88:
            first, second = word(rng, 2), word(rng, 2)
            name = first + second[0].upper() + second[1:]
        else:
            name = f"{word(rng, 2)}{rng.randint(1, 99)}"
        if len(name) <= max_length and name not in RESERVED:
            return name
    return rng.choice(_LETTERS)  # a one-letter name always fits and is never reserved


def _decorate(rng: random.Random, text: str) -> str:
    roll = rng.random()
    if roll < 0.25:
        return text.capitalize()
    if roll < 0.32:
        return text.upper()
    return text


def string_content(rng: random.Random, max_length: int) -> tuple[str, str]:
    """(Lua source body, printed text) of a random string of at most `max_length` printed characters.

    Kinds: a word, a phrase with spaces and punctuation, words with digits, random letters, an escape.
    """
    max_length = max(1, max_length)
    roll = rng.random()
    if roll < 0.3:
        pieces = [_decorate(rng, word(rng))]
    elif roll < 0.62:
        pieces = [_decorate(rng, word(rng))]
        for _ in range(rng.randint(1, 5)):
            pieces.append(rng.choice((" ", " ", " ", ", ", " - ", ": ", "; ")) + word(rng))
        if rng.random() < 0.5:
            pieces.append(rng.choice(_PUNCTUATION))
    elif roll < 0.77:
        number = str(rng.randint(0, 10 ** rng.randint(1, 4) - 1))
        parts = [word(rng), number] if rng.random() < 0.5 else [number, word(rng)]
        pieces = [rng.choice((" ", "", "-", "#", ": ")).join(parts)]
    elif roll < 0.87:
        pieces = ["".join(rng.choice(_LETTERS) for _ in range(rng.randint(1, 8)))]
    else:
        escape = rng.choice(_ESCAPE_KEYS)
        left, right = word(rng), word(rng)
        pieces = [left, escape, right] if rng.random() < 0.7 else [escape, left]
    # Trim to the length bound piece by piece; printed length counts an escape as one character.
    body, printed = "", ""
    for piece in pieces:
        shown = ESCAPES.get(piece, piece)
        if len(printed) + len(shown) > max_length:
            if not printed and piece not in ESCAPES:
                body = printed = piece[:max_length]
            break
        body, printed = body + piece, printed + shown
    if not printed:
        body = printed = rng.choice(_LETTERS)
    return body, printed


def plain_pattern(rng: random.Random, text: str) -> str:
    """A letters-only piece of `text` (or a random letter): safe as a Lua pattern without escaping."""
    letters = [c for c in text.lower() if c in _LETTERS]
    if letters and rng.random() < 0.8:
        start = rng.randint(0, len(letters) - 1)
        return "".join(letters[start:start + rng.randint(1, 2)])
    return rng.choice(_LETTERS)
