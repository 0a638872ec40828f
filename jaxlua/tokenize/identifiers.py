"""How identifiers become tokens (`Tokenizer(identifiers=...)`): whole names, spelled, or canonical.

A style contributes the walker's identifier actions, the head token of calls by name, the tokens of method
names and of variable names in traces, and the tokens every vocabulary of that style reserves.

- `names`: one `IDENTIFIER(name)` token per name (short sequences; a name unseen in training is `<UNK>`).
- `spelled`: `NAME` and the name's characters; calls are `callee CALL args CALL_END` (never `<UNK>`).
- `canonical`: variables renamed `v1`, `v2`, ... in order of first appearance, where renaming cannot change
  what the program prints. Kept: library names (`print`, `string.upper`, `self`), field and method names
  (`t.name`, `{name = 1}`, `obj:get()`: keys a program can observe through `pairs` or `t["name"]`), strings,
  and every name of a program that can read names as data (`_G`, `load`, `pcall`: `lua_library.REFLECTIVE`).
  Kept library names and the first `CANONICAL_NAMES` canonical names are one token each and reserved in the
  vocabulary; any other name is spelled, so no identifier is ever `<UNK>`.

The closed styles (`spelled`, `canonical`) also reserve what else a valid program can hold: Lua 5.4's two
attributes and every ASCII control character and byte above 127 of a string literal (`CLOSED_LITERALS`): they
write text outside ASCII in a string as its UTF-8 bytes (`byte_chars`), so no string is ever `<UNK>` either.
Canonical reserves, per library name, each token it can be written as: `IDENTIFIER(name)` (a variable or a
field), `METHOD_CALL(name)` (any library name used as a method, `t:insert(x)`), and `FUNCTION_CALL(name)`
for globals and `lib.member`; and `IDENTIFIER(vN)` / `FUNCTION_CALL(vN)` for N <= `CANONICAL_NAMES`. Past
that cap a name is `NAME v 6 5` and its call `NAME v 6 5 CALL ... CALL_END`, both made of reserved tokens.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from tree_sitter import Node

from jaxlua.tokenize import lua_library as lib
from jaxlua.tokenize import syntax
from jaxlua.tokenize import token_names as tn

CANONICAL_NAMES = 64  # canonical names v1..v64 are single reserved tokens; later ones are spelled
_CANONICAL_PREFIX = "v"


class NamesStyle:
    """`IDENTIFIER(name)` per identifier; `FUNCTION_CALL(a.b)` heads for calls by (dotted) name."""

    name = "names"
    lexical = False  # whether `lexical.lexical_tokens` can read this style's tokens off the lexemes

    def __init__(self) -> None:
        self._cache: dict[bytes, str] = {}

    def actions(self) -> dict[int, syntax.Handler]:
        return {syntax.IDENTIFIER_ID: self._identifier}

    def _identifier(self, node: Node, out: list, stack: list) -> None:
        raw = node.text
        token = self._cache.get(raw)
        if token is None:
            if len(self._cache) > 50_000:  # bound the cache on large corpora of user files
                self._cache.clear()
            token = self._cache[raw] = tn.IDENTIFIER_FMT.format(raw.decode("utf-8", "surrogateescape"))
        out.append(token)

    @property
    def renaming(self) -> dict[str, str]:
        """Original -> canonical name of every variable renamed in the last program (none in this style)."""
        return {}

    def walk(self, root: Node, actions: dict) -> list[str]:
        """Tokens of the program under `root` (a style with per-program state resets it here)."""
        return syntax.walk(root, actions)

    def call_head(self, callee: Node) -> str | None:
        """`FUNCTION_CALL(...)` for a callee that is a (dotted) name, else None (the callee is walked)."""
        if callee.kind_id == syntax.IDENTIFIER_ID:  # the common case, print(...)
            return tn.FUNCTION_CALL_FMT.format(callee.text.decode("utf-8", "surrogateescape"))
        name = syntax.dotted_name(callee)
        return None if name is None else tn.FUNCTION_CALL_FMT.format(name)

    def method_tokens(self, name: str) -> list[str]:
        """Tokens of the method name in `obj:name(...)`."""
        return [tn.METHOD_CALL_FMT.format(name)]

    def name_tokens(self, name: str) -> list[str]:
        """Tokens of a variable name outside the program (trace steps), consistent with its last program."""
        return [tn.IDENTIFIER_FMT.format(name)]

    def reserved_tokens(self) -> tuple[str, ...]:
        """Tokens a vocabulary for this style holds beyond the default reserved set."""
        return ()

    def string_chars(self, value: str) -> str:
        """The characters a string literal's value is written as (one token each): the value itself."""
        return value


class SpelledStyle(NamesStyle):
    """`NAME` plus characters for every identifier; `METHOD_CALL` plus characters for methods."""

    name = "spelled"

    def _identifier(self, node: Node, out: list, stack: list) -> None:
        out.append(tn.NAME)
        out.extend(node.text.decode("utf-8", "surrogateescape"))

    def call_head(self, callee: Node) -> str | None:
        return None

    def method_tokens(self, name: str) -> list[str]:
        return [tn.METHOD_CALL, *name]

    def name_tokens(self, name: str) -> list[str]:
        return [tn.NAME, *name]

    def reserved_tokens(self) -> tuple[str, ...]:
        return CLOSED_LITERALS

    def string_chars(self, value: str) -> str:
        return byte_chars(value)


class CanonicalStyle(NamesStyle):
    """Variables renamed by first appearance; library, field and method names kept (see module doc)."""

    name = "canonical"
    lexical = True

    def __init__(self) -> None:
        super().__init__()
        self._names: dict[str, str] = {}
        self._rename = True
        # Per program: a variable's name -> its tokens, and a callee's name -> its call head (an entry is made
        # where `_variable` first sees the name, so numbering follows the order names are read in).
        self._written: dict[str, list[str]] = {}
        self._heads: dict[str, str | None] = {}

    def actions(self) -> dict[int, syntax.Handler]:
        actions: dict[int, syntax.Handler] = {syntax.IDENTIFIER_ID: self._identifier}
        for kind, handler in (("dot_index_expression", self._dot_index),
                              ("method_index_expression", self._method_index), ("field", self._table_field)):
            actions.update(dict.fromkeys(syntax.kind_ids(kind), handler))
        return actions

    @property
    def renaming(self) -> dict[str, str]:
        return dict(self._names)

    def start(self, source: bytes) -> None:
        """Begins a program: no names numbered yet; a reflective name anywhere in the text (even in a string)
        keeps every name, which is cheap and conservative."""
        self._names, self._written, self._heads = {}, {}, {}
        self._rename = not is_reflective(source)

    def walk(self, root: Node, actions: dict) -> list[str]:
        self.start(root.text)
        return syntax.walk(root, actions)

    # ----------------------------------------------------------------------------------- variables
    def _variable(self, name: str) -> tuple[str, bool]:
        """(name to write, whether it is one token) for a variable; a new name gets the next canonical one."""
        if name in lib.KEPT_VARIABLES:
            return name, True
        if not self._rename:
            return name, False
        canonical = self._names.get(name)
        if canonical is None:
            canonical = self._names[name] = f"{_CANONICAL_PREFIX}{len(self._names) + 1}"
        return canonical, canonical in _RESERVED_CANONICAL

    @property
    def written_tokens(self) -> dict[str, list[str]]:
        """The tokens of each variable written so far in the current program (`variable_tokens`' cache)."""
        return self._written

    def variable_tokens(self, name: str) -> list[str]:
        """Tokens of the variable `name` in the current program (callers read the list, never change it)."""
        tokens = self._written.get(name)
        if tokens is None:
            tokens = self._written[name] = self.name_tokens(name)
        return tokens

    def _identifier(self, node: Node, out: list, stack: list) -> None:
        out += self.variable_tokens(syntax.text(node))

    def name_tokens(self, name: str) -> list[str]:
        written, single = self._variable(name)
        return [tn.IDENTIFIER_FMT.format(written)] if single else [tn.NAME, *written]

    def call_head_name(self, names: Sequence[str]) -> str | None:
        """The call head of a callee written `names[0].names[1]...`: FUNCTION_CALL(v1) for a variable that is one
        token, FUNCTION_CALL(string.upper) for a library function, else None (the callee is written out)."""
        if len(names) == 1:
            name = names[0]
            try:
                return self._heads[name]
            except KeyError:
                written, single = self._variable(name)
                head = self._heads[name] = tn.FUNCTION_CALL_FMT.format(written) if single else None
                return head
        dotted = ".".join(names)
        return tn.FUNCTION_CALL_FMT.format(dotted) if dotted in lib.DOTTED_FUNCTIONS else None

    def call_head(self, callee: Node) -> str | None:
        if callee.kind_id == syntax.IDENTIFIER_ID:
            return self.call_head_name((syntax.text(callee),))
        dotted = syntax.dotted_name(callee)
        return None if dotted is None else self.call_head_name(dotted.split("."))

    # -------------------------------------------------------------------------------------- fields
    @staticmethod
    def field_tokens(name: str) -> list[str]:
        """Tokens of a field or table key `name`: a library name is one token, any other is spelled."""
        tokens = _FIELD_TOKENS.get(name)
        return [tn.NAME, *name] if tokens is None else tokens

    def method_tokens(self, name: str) -> list[str]:
        return [tn.METHOD_CALL_FMT.format(name)] if name in lib.LIBRARY_NAMES else [tn.METHOD_CALL, *name]

    def _indexed(self, node: Node, stack: list, key_field: int, separator: str) -> bool:
        """Schedules `table separator key` with the key kept as a field name; False if not that shape."""
        table = node.child_by_field_id(syntax.TABLE_FIELD)
        key = node.child_by_field_id(key_field)
        if table is None or key is None or key.kind_id != syntax.IDENTIFIER_ID:
            return False
        stack += reversed(self.field_tokens(syntax.text(key)))
        stack.append(separator)
        stack.append(table)
        return True

    def _dot_index(self, node: Node, out: list, stack: list) -> None:
        if not self._indexed(node, stack, syntax.FIELD_FIELD, tn.LEAF_TOKENS["."]):
            _visit_children(node, stack)

    def _method_index(self, node: Node, out: list, stack: list) -> None:
        if not self._indexed(node, stack, syntax.METHOD_FIELD, tn.LEAF_TOKENS[":"]):
            _visit_children(node, stack)

    def _table_field(self, node: Node, out: list, stack: list) -> None:
        children = node.children
        key = node.child_by_field_id(syntax.NAME_FIELD)
        if key is not None and key.kind_id == syntax.IDENTIFIER_ID and children and children[0] == key:
            out.extend(self.field_tokens(syntax.text(key)))  # `{name = value}`: the key is written first
            children = children[1:]
        children.reverse()
        stack += children

    def reserved_tokens(self) -> tuple[str, ...]:
        return _CANONICAL_RESERVED

    def string_chars(self, value: str) -> str:
        return byte_chars(value)


_REFLECTIVE_WORD = re.compile(rb"\b(?:" + b"|".join(n.encode() for n in sorted(lib.REFLECTIVE)) + rb")\b")
_REFLECTIVE_BYTES = tuple(n.encode() for n in sorted(lib.REFLECTIVE))


def is_reflective(source: bytes) -> bool:
    """Whether a reflective name (`lua_library.REFLECTIVE`) occurs as a word in `source`. Substring tests
    first: the regex alone costs more than the rest of a short program's identifiers."""
    for word in _REFLECTIVE_BYTES:
        if word in source:
            return _REFLECTIVE_WORD.search(source) is not None
    return False


def byte_chars(value: str) -> str:
    """`value` with each character outside ASCII written as its UTF-8 bytes, each byte the character
    U+DC80..U+DCFF that `lua_strings` keeps a byte as (reserved by the closed styles): any text, a closed set of
    tokens. Lua strings are bytes, so rendering writes the same string back."""
    return value if value.isascii() else value.encode("utf-8", "surrogateescape").decode("ascii", "surrogateescape")


def _visit_children(node: Node, stack: list) -> None:
    children = node.children
    children.reverse()
    stack += children


# Library field names -> their one token, made once (callers read these lists, never change them).
_FIELD_TOKENS: dict[str, list[str]] = {name: [tn.IDENTIFIER_FMT.format(name)] for name in lib.LIBRARY_NAMES}
# What a closed style reserves beyond names: Lua 5.4's attributes and the characters outside string.printable.
CLOSED_LITERALS: tuple[str, ...] = (tuple(tn.ATTRIBUTE_FMT.format(a) for a in tn.ATTRIBUTES)
                                    + tn.CONTROL_CHARS + tn.RAW_BYTE_CHARS)
_RESERVED_CANONICAL = frozenset(f"{_CANONICAL_PREFIX}{i}" for i in range(1, CANONICAL_NAMES + 1))
_CANONICAL_RESERVED: tuple[str, ...] = tuple(
    [tn.IDENTIFIER_FMT.format(f"{_CANONICAL_PREFIX}{i}") for i in range(1, CANONICAL_NAMES + 1)]
    + [tn.FUNCTION_CALL_FMT.format(f"{_CANONICAL_PREFIX}{i}") for i in range(1, CANONICAL_NAMES + 1)]
    + [tn.IDENTIFIER_FMT.format(name) for name in sorted(lib.LIBRARY_NAMES)]
    + [tn.FUNCTION_CALL_FMT.format(name) for name in sorted(lib.KEPT_VARIABLES | lib.DOTTED_FUNCTIONS)]
    + [tn.METHOD_CALL_FMT.format(name) for name in sorted(set(lib.METHODS))]
    # Added later (after the first reservations, so those keep their order): every library name as a method
    # (`t:insert(x)` is METHOD_CALL(insert)), then the closed literal set.
    + [tn.METHOD_CALL_FMT.format(name) for name in sorted(lib.LIBRARY_NAMES - set(lib.METHODS))]
    + list(CLOSED_LITERALS))
