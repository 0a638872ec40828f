"""tree-sitter-lua plumbing shared by every tokenizer mode: parsing, kind ids, and the one tree walker.

The walker knows nothing about modes: a mode hands it an action table, kind id -> a token string (keyword and
operator leaves) or a handler `(node, out, stack)` that appends tokens to `out` and may push nodes or token
strings onto `stack`. Nodes without an action are structural and their children are visited in order.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Union

import tree_sitter_lua
from tree_sitter import Language, Node, Parser

from jaxlua.tokenize import token_names as tn
from jaxlua.tokenize.errors import LuaSyntaxError

LANGUAGE = Language(tree_sitter_lua.language())
NAME_FIELD = LANGUAGE.field_id_for_name("name")
ARGUMENTS_FIELD = LANGUAGE.field_id_for_name("arguments")
TABLE_FIELD = LANGUAGE.field_id_for_name("table")
FIELD_FIELD = LANGUAGE.field_id_for_name("field")
METHOD_FIELD = LANGUAGE.field_id_for_name("method")

Handler = Callable[[Node, list, list], None]
Action = Union[str, Handler]


def kind_ids(name: str, named: bool = True) -> frozenset[int]:
    """All kind ids the grammar gives `name` (aliases share a name under several ids)."""
    return frozenset(i for i in range(1, LANGUAGE.node_kind_count)
                     if LANGUAGE.node_kind_for_id(i) == name and LANGUAGE.node_kind_is_named(i) == named)


_NAMED_LEAVES = frozenset({"break_statement", "vararg_expression", "nil", "true", "false"})
# Keyword and operator leaves -> their token; every mode's action table starts from this.
LEAF_ACTIONS: dict[int, str] = {i: token for leaf, token in tn.LEAF_TOKENS.items()
                                for i in kind_ids(leaf, leaf in _NAMED_LEAVES)}
PARENS = kind_ids("(", False) | kind_ids(")", False)
METHOD_INDEX = kind_ids("method_index_expression")
(IDENTIFIER_ID,) = kind_ids("identifier")


def encode_source(source: str | bytes) -> bytes:
    """Source text as the bytes tree-sitter parses; lone surrogates are kept, never an encoding error."""
    if isinstance(source, bytes):
        return source
    if not isinstance(source, str):
        raise TypeError(f"source must be str or bytes, got {type(source).__name__}")
    try:
        return source.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return source.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return source.encode("utf-8", "surrogatepass")


def text(node: Node) -> str:
    """The node's source text (bytes that are not UTF-8 survive as lone surrogates)."""
    return node.text.decode("utf-8", "surrogateescape")


def dotted_name(node: Node) -> str | None:
    """`a.b.c` for a dot-index chain of plain identifiers, else None."""
    parts = []
    while node.type == "dot_index_expression":
        field = node.child_by_field_id(FIELD_FIELD)
        if field is None or field.type != "identifier":
            return None
        parts.append(text(field))
        node = node.child_by_field_id(TABLE_FIELD)
        if node is None:
            return None
    if node.type != "identifier":
        return None
    parts.append(text(node))
    return ".".join(reversed(parts))


def _first_error(root: Node) -> Node:
    """The first ERROR or MISSING node below `root` (which has_error), found without recursion."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            return node
        stack.extend(reversed([c for c in node.children if c.has_error or c.is_missing]))
    return root


def parse(parser: Parser, source: str | bytes) -> Node:
    """Root node of `source`'s syntax tree; LuaSyntaxError (line, column) if it has ERROR/MISSING nodes."""
    data = encode_source(source)
    root = parser.parse(data).root_node
    if root.has_error:
        bad = _first_error(root)
        row, col = bad.start_point
        what = "missing " + repr(bad.type) if bad.is_missing else "unexpected " + repr(
            data[bad.start_byte:bad.start_byte + 20].decode("utf-8", "replace"))
        raise LuaSyntaxError(f"syntax error: {what}", row + 1, col + 1)
    return root


def new_parser() -> Parser:
    return Parser(LANGUAGE)


def walk(root: Node, actions: dict[int, Action]) -> list[str]:
    """Depth-first, left-to-right walk with an explicit stack (no recursion limit on deep nesting).

    Hot path: dispatch on integer kind ids, leaves through one dict lookup. A token string pushed by a
    handler is emitted when it is popped, so handlers can interleave tokens with child nodes.
    """
    out: list[str] = []
    append, extend = out.append, out.extend
    stack: list = [root]
    pop = stack.pop
    get = actions.get
    str_ = str
    while stack:
        node = pop()
        if node.__class__ is str_:  # a token string scheduled by a handler
            append(node)
            continue
        action = get(node.kind_id)
        if action is None:  # structural node: visit its children in order
            children = node.children
            if children:
                children.reverse()
                stack += children
            elif node.end_byte > node.start_byte:  # a leaf the tables do not know: keep its text
                append(tn.RAW)
                extend(text(node))
        elif action.__class__ is str_:  # keyword / operator leaf
            append(action)
        else:
            action(node, out, stack)
    return out
