"""Lua string literals: source spelling -> value, and value -> a Lua literal that denotes it.

Lua strings are byte strings. A value is held as a Python `str` decoded from its bytes with UTF-8 and
`surrogateescape`, so valid UTF-8 text reads naturally and any other byte survives as a lone surrogate
U+DC80..U+DCFF; `quote_lua_string` turns those back into `\\xHH` escapes, so the round trip is exact.
"""
from __future__ import annotations

_SIMPLE_ESCAPES = {
    ord("a"): 7, ord("b"): 8, ord("f"): 12, ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("v"): 11,
    ord("\\"): 92, ord('"'): 34, ord("'"): 39,
}
_HEX = b"0123456789abcdefABCDEF"
_SPACE = b" \t\n\r\f\v"


class StringLiteralError(ValueError):
    """A malformed literal; `offset` is the byte offset of the problem inside the literal."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def _utf8_extended(code: int) -> bytes:
    """Lua's `\\u{XXX}` encoding: UTF-8 extended to 31 bits (up to six bytes)."""
    if code < 0x80:
        return bytes([code])
    out = []
    limit = 0x3F  # largest value that fits in the first byte's free bits
    while code > limit:
        out.append(0x80 | (code & 0x3F))
        code >>= 6
        limit >>= 1
    out.append(((~limit << 1) & 0xFF) | code)
    return bytes(reversed(out))


def _skip_newline(raw: bytes, i: int) -> int:
    """Index after one Lua newline sequence at `i` (\\n, \\r, \\r\\n or \\n\\r)."""
    first = raw[i]
    i += 1
    if i < len(raw) and raw[i] in b"\r\n" and raw[i] != first:
        i += 1
    return i


def _decode_quoted(body: bytes, base: int) -> bytes:
    """Resolve the escapes of a quoted literal's body (`base` = body's offset in the literal)."""
    if b"\\" not in body and b"\n" not in body and b"\r" not in body:
        return body
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c in (10, 13):
            raise StringLiteralError("unfinished string (newline inside quotes)", base + i)
        if c != 92:
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise StringLiteralError("unfinished escape sequence", base + i)
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in (10, 13):
            out.append(10)
            i = _skip_newline(body, i + 1)
        elif e == ord("x"):
            digits = body[i + 2:i + 4]
            if len(digits) != 2 or any(d not in _HEX for d in digits):
                raise StringLiteralError("hexadecimal digit expected in \\x escape", base + i)
            out.append(int(digits, 16))
            i += 4
        elif e == ord("z"):
            i += 2
            while i < n and body[i] in _SPACE:
                i += 1
        elif 48 <= e <= 57:
            j = i + 1
            while j < n and j < i + 4 and 48 <= body[j] <= 57:
                j += 1
            value = int(body[i + 1:j])
            if value > 255:
                raise StringLiteralError("decimal escape too large", base + i)
            out.append(value)
            i = j
        elif e == ord("u"):
            close = body.find(b"}", i)
            digits = body[i + 3:close] if close > 0 else b""
            if body[i + 2:i + 3] != b"{" or not digits or any(d not in _HEX for d in digits):
                raise StringLiteralError("malformed \\u{XXX} escape", base + i)
            code = int(digits, 16)
            if code >= 2 ** 31:
                raise StringLiteralError("UTF-8 value too large", base + i)
            out += _utf8_extended(code)
            i = close + 1
        else:
            raise StringLiteralError(f"invalid escape sequence \\{chr(e)}", base + i)
    return bytes(out)


def _decode_long(raw: bytes) -> bytes:
    """Content of a `[==[ ... ]==]` literal: first newline skipped, newline sequences read as \\n."""
    level = raw.index(b"[", 1) - 1  # raw = b"[" + b"=" * level + b"[" ...
    body = raw[level + 2:len(raw) - level - 2]
    if body[:1] in (b"\n", b"\r"):
        body = body[_skip_newline(body, 0):]
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n").replace(b"\n\r", b"\n").replace(b"\r", b"\n")
    return body


def decode_lua_string(raw: bytes) -> str:
    """Value of the Lua string literal `raw` (its full source bytes, delimiters included)."""
    if len(raw) < 2:
        raise StringLiteralError("string literal too short", 0)
    if raw[0] in (34, 39):  # " or '
        if raw[-1] != raw[0]:
            raise StringLiteralError("unfinished string", len(raw))
        value = _decode_quoted(raw[1:-1], 1)
    elif raw[0] == 91:  # [
        value = _decode_long(raw)
    else:
        raise StringLiteralError("not a string literal", 0)
    return value.decode("utf-8", "surrogateescape")


def quote_lua_string(value: str) -> str:
    """A double-quoted Lua literal denoting exactly `value` (inverse of `decode_lua_string`)."""
    parts = []
    for ch in value:
        o = ord(ch)
        if ch == "\\":
            parts.append("\\\\")
        elif ch == '"':
            parts.append('\\"')
        elif ch == "\n":
            parts.append("\\n")
        elif ch == "\t":
            parts.append("\\t")
        elif o < 32 or o == 127:
            parts.append(f"\\{o:03d}")
        elif 0xDC80 <= o <= 0xDCFF:  # a raw byte kept by surrogateescape
            parts.append(f"\\x{o - 0xDC00:02X}")
        elif 0xD800 <= o <= 0xDFFF:  # any other lone surrogate: its UTF-8-style bytes
            parts.append("".join(f"\\x{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
        else:
            parts.append(ch)
    return '"' + "".join(parts) + '"'
