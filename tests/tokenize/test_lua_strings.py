"""String literal values agree with Lua 5.4 byte for byte; quoting is their exact inverse."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lupa import lua54

from jaxlua.tokenize.lua_strings import StringLiteralError, decode_lua_string, quote_lua_string

LUA = lua54.LuaRuntime(encoding=None)
LITERALS = [
    '""', "''", '"plain"', '"a\\nb\\tc\\\\d\\"e\\\'f"', "'\\a\\b\\f\\v\\r'", '"\\65\\066\\0677"', '"\\x41\\xff\\x00"',
    '"\\u{48}\\u{263A}\\u{10FFFF}\\u{7FFFFFFF}"', '"a\\z   \n\t  b"', '"line\\\ncontinued"', '"line\\\r\ncrlf"',
    "[[]]", "[[\nskip first newline]]", "[[\r\nskip crlf]]", "[==[a]]b]=]c]==]", "[[a\r\nb\rc\n\rd]]",
    '"é中"', '"\\195\\169"',
]


def lua_value(literal: str) -> bytes:
    return LUA.execute(b"return " + literal.encode("utf-8"))


@pytest.mark.parametrize("literal", LITERALS)
def test_decode_matches_lua(literal):
    expected = lua_value(literal)
    value = decode_lua_string(literal.encode("utf-8"))
    assert value.encode("utf-8", "surrogateescape") == expected


@pytest.mark.parametrize("literal", LITERALS)
def test_quote_round_trips_through_lua(literal):
    value = decode_lua_string(literal.encode("utf-8"))
    assert lua_value(quote_lua_string(value)) == value.encode("utf-8", "surrogateescape")


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text())
def test_quote_then_decode_is_identity(value):
    quoted = quote_lua_string(value)
    assert decode_lua_string(quoted.encode("utf-8")) == value
    assert "\n" not in quoted  # a quoted literal never spans lines


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.binary(max_size=40))
def test_raw_bytes_survive(data):
    value = data.decode("utf-8", "surrogateescape")
    quoted = quote_lua_string(value)
    assert lua_value(quoted) == data


@pytest.mark.parametrize("literal", ['"\\q"', '"\\300"', '"\\x4"', '"\\u{}"', '"\\u{80000000}"', '"a\nb"', '"open'])
def test_malformed_literals_raise(literal):
    with pytest.raises(StringLiteralError):
        decode_lua_string(literal.encode())
