"""Lua source and stdout -> token lists, in three modes (see README "Token format").

- `semantic` (default): structural tokens from the tree-sitter-lua syntax tree (IF, LOCAL, CONCAT,
  FUNCTION_CALL(print), IDENTIFIER(x), ...) with literal values spelled as single characters
  (`NUMBER 4 2`, `STRING H i`), so any number or string is representable; outputs are stdout's characters.
  Lossless: `render_program` turns the tokens back into Lua that prints the same.
- `paper`: the dissertation's format (IDENTIFIER(x) NUMBER(5) STRING(word) FUNCTION_CALL(print), outputs as
  STRING(word) / NUMBER(n)), but walking into every argument and keeping the operators, brackets and line
  breaks the original dropped.
- `chars`: the raw source's characters (the TEX baseline).
"""
from __future__ import annotations

import re

import tree_sitter_lua
from tree_sitter import Language, Node, Parser

from jaxlua.tokenize import token_names as tn
from jaxlua.tokenize.errors import LuaSyntaxError
from jaxlua.tokenize.lua_strings import StringLiteralError, decode_lua_string

MODES = ("semantic", "paper", "chars")
LANGUAGE = Language(tree_sitter_lua.language())
_NAME_FIELD = LANGUAGE.field_id_for_name("name")
_ARGUMENTS_FIELD = LANGUAGE.field_id_for_name("arguments")
_TABLE_FIELD = LANGUAGE.field_id_for_name("table")
_FIELD_FIELD = LANGUAGE.field_id_for_name("field")
_METHOD_FIELD = LANGUAGE.field_id_for_name("method")


def _kind_ids(name: str, named: bool) -> frozenset[int]:
    """All kind ids the grammar gives `name` (aliases share a name under several ids)."""
    return frozenset(i for i in range(1, LANGUAGE.node_kind_count)
                     if LANGUAGE.node_kind_for_id(i) == name and LANGUAGE.node_kind_is_named(i) == named)


_NAMED_LEAVES = frozenset({"break_statement", "vararg_expression", "nil", "true", "false"})
_LEAF_BY_ID: dict[int, str] = {i: token for leaf, token in tn.LEAF_TOKENS.items()
                               for i in _kind_ids(leaf, leaf in _NAMED_LEAVES)}
# Walker actions per kind id: a token string for keyword/operator leaves, else one of these codes.
_IDENTIFIER, _NUMBER, _STRING, _FUNCTION_CALL, _UNARY, _ATTRIBUTE, _PARAMETERS, _SKIP = range(8)
_ACTIONS: dict[int, str | int] = dict(_LEAF_BY_ID)
for _name, _action in (("identifier", _IDENTIFIER), ("number", _NUMBER), ("string", _STRING),
                       ("function_call", _FUNCTION_CALL), ("unary_expression", _UNARY),
                       ("attribute", _ATTRIBUTE), ("parameters", _PARAMETERS), ("comment", _SKIP),
                       ("hash_bang_line", _SKIP)):
    _ACTIONS.update(dict.fromkeys(_kind_ids(_name, True), _action))
_PARENS = _kind_ids("(", False) | _kind_ids(")", False)
_METHOD_INDEX = _kind_ids("method_index_expression", True)
(_IDENTIFIER_ID,) = _kind_ids("identifier", True)
_PAPER_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?0[xX][0-9a-fA-F]+")
_PAPER_WORD = re.compile(r"(?:STRING|NUMBER)\((.*)\)", re.DOTALL)


def _encode_source(source: str | bytes) -> bytes:
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


def _text(node: Node) -> str:
    return node.text.decode("utf-8", "surrogateescape")


def _dotted_name(node: Node) -> str | None:
    """`a.b.c` for a dot-index chain of plain identifiers, else None."""
    parts = []
    while node.type == "dot_index_expression":
        field = node.child_by_field_id(_FIELD_FIELD)
        if field is None or field.type != "identifier":
            return None
        parts.append(_text(field))
        node = node.child_by_field_id(_TABLE_FIELD)
        if node is None:
            return None
    if node.type != "identifier":
        return None
    parts.append(_text(node))
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


class Tokenizer:
    """Turns Lua programs and their stdout into token lists; one tree-sitter parser per instance."""

    def __init__(self, mode: str = "semantic", spell_identifiers: bool = False) -> None:
        """`spell_identifiers` (semantic mode): names as `NAME` + characters instead of IDENTIFIER(name), so
        names never seen in training (user files) stay distinct without <UNK>, at ~4 extra tokens a name."""
        if mode not in MODES:
            raise ValueError(f"unknown tokenizer mode {mode!r}; expected one of {MODES}")
        if spell_identifiers and mode != "semantic":
            raise ValueError("spell_identifiers applies to the semantic mode only")
        self.mode = mode
        self.spell_identifiers = spell_identifiers
        self._paper = mode == "paper"
        self._parser = Parser(LANGUAGE)
        self._identifier_cache: dict[bytes, str] = {}

    def __repr__(self) -> str:
        spelled = ", spell_identifiers=True" if self.spell_identifiers else ""
        return f"Tokenizer(mode={self.mode!r}{spelled})"

    @property
    def config(self) -> dict:
        """Everything that determines the token stream (part of cache keys)."""
        return {"mode": self.mode, "spell_identifiers": self.spell_identifiers}

    # ----------------------------------------------------------------------------------------- programs
    def parse(self, source: str | bytes) -> Node:
        """Root node of `source`'s syntax tree; LuaSyntaxError (line, column) if it has ERROR/MISSING nodes."""
        data = _encode_source(source)
        root = self._parser.parse(data).root_node
        if root.has_error:
            bad = _first_error(root)
            row, col = bad.start_point
            what = "missing " + repr(bad.type) if bad.is_missing else "unexpected " + repr(
                data[bad.start_byte:bad.start_byte + 20].decode("utf-8", "replace"))
            raise LuaSyntaxError(f"syntax error: {what}", row + 1, col + 1)
        return root

    def program_tokens(self, source: str | bytes) -> list[str]:
        """Tokens of a Lua program (semantic/paper drop comments). Raises LuaSyntaxError if it does not parse,
        in every mode, so all modes keep the same records of a dataset."""
        root = self.parse(source)
        if self.mode == "chars":
            return list(source.decode("utf-8", "surrogateescape") if isinstance(source, bytes) else source)
        return self._walk(root)

    def _walk(self, root: Node) -> list[str]:
        """Depth-first, left-to-right walk with an explicit stack (no recursion limit on deep nesting).

        Hot path: dispatch on integer kind ids, leaves through one dict lookup, identifier tokens cached.
        """
        paper = self._paper
        spell = self.spell_identifiers
        actions = _ACTIONS
        identifiers = self._identifier_cache
        if len(identifiers) > 50_000:  # bound the cache on large corpora of user files
            identifiers.clear()
        out: list[str] = []
        append, extend = out.append, out.extend
        stack: list = [root]
        pop, push = stack.pop, stack.append
        while stack:
            node = pop()
            try:
                action = actions.get(node.kind_id)
            except AttributeError:  # a token string scheduled by _push_call
                append(node)
                continue
            if action is None:  # structural node: visit its children in order
                children = node.children
                if children:
                    children.reverse()
                    stack += children
                elif node.end_byte > node.start_byte:  # a leaf the tables do not know: keep its text
                    append(tn.RAW)
                    extend(_text(node))
            elif action.__class__ is str:  # keyword / operator leaf
                append(action)
            elif action == _IDENTIFIER:
                raw = node.text
                if spell:
                    append(tn.NAME)
                    extend(raw.decode("utf-8", "surrogateescape"))
                    continue
                token = identifiers.get(raw)
                if token is None:
                    token = identifiers[raw] = tn.IDENTIFIER_FMT.format(raw.decode("utf-8", "surrogateescape"))
                append(token)
            elif action == _NUMBER:
                if paper:
                    append(f"NUMBER({_text(node)})")
                else:
                    append("NUMBER")
                    extend(node.text.decode("utf-8", "surrogateescape"))
            elif action == _FUNCTION_CALL:
                self._push_call(node, push, append)
            elif action == _STRING:
                value = self._string_value(node)
                if paper:
                    words = value.split()
                    extend([f"STRING({w})" for w in words] if words else ["STRING()"])
                else:
                    append("STRING")
                    extend(value)
            elif action == _UNARY:
                children = node.children
                op = children[0]
                append(tn.UNARY_TOKENS.get(op.type) or tn.LEAF_TOKENS.get(op.type) or op.type.upper())
                children.reverse()
                children.pop()
                stack += children
            elif action == _ATTRIBUTE:
                name = node.named_children[0] if node.named_child_count else None
                append(tn.ATTRIBUTE_FMT.format(_text(name) if name is not None else ""))
            elif action == _PARAMETERS:
                children = node.children
                if paper:
                    children = [c for c in children if c.kind_id not in _PARENS]
                children.reverse()
                stack += children
            # else: _SKIP (comments, shebang line)
        return out

    def _push_call(self, node: Node, push, append) -> None:
        """Emit or schedule a call: [callee tokens] FUNCTION_CALL(name)|METHOD_CALL(m)|CALL, arguments, CALL_END."""
        callee = node.child_by_field_id(_NAME_FIELD)
        arguments = node.child_by_field_id(_ARGUMENTS_FIELD)
        if not self._paper:
            push(tn.CALL_END)
        if arguments is not None:
            for child in reversed(arguments.children):
                if child.kind_id not in _PARENS:
                    push(child)
        if callee is None or self.spell_identifiers:
            name = None
        elif callee.kind_id == _IDENTIFIER_ID:  # the common case, print(...)
            name = callee.text.decode("utf-8", "surrogateescape")
        else:
            name = _dotted_name(callee)
        if name is not None:  # nothing of the callee is walked: the head goes out now
            append(tn.FUNCTION_CALL_FMT.format(name))
        elif callee is not None and callee.kind_id in _METHOD_INDEX:
            method = callee.child_by_field_id(_METHOD_FIELD)
            method_name = _text(method) if method is not None else ""
            if self.spell_identifiers:
                for char in reversed(method_name):
                    push(char)
                push(tn.METHOD_CALL)
            else:
                push(tn.METHOD_CALL_FMT.format(method_name))
            table = callee.child_by_field_id(_TABLE_FIELD)
            if table is not None:
                push(table)
        else:
            push(tn.CALL)
            if callee is not None:
                push(callee)

    @staticmethod
    def _string_value(node: Node) -> str:
        try:
            return decode_lua_string(node.text)
        except StringLiteralError as exc:
            # Column of the problem: the literal's start plus the offset, when on the literal's first line.
            row, col = node.start_point
            raw = node.text[:exc.offset]
            if b"\n" in raw:
                row += raw.count(b"\n")
                col = len(raw) - raw.rfind(b"\n") - 1
            else:
                col += exc.offset
            raise LuaSyntaxError(str(exc), row + 1, col + 1) from None

    # ------------------------------------------------------------------------------------------ outputs
    def output_tokens(self, stdout: str) -> list[str]:
        """Tokens of a program's stdout: its characters (semantic, chars) or words and NEWLINE (paper)."""
        if not isinstance(stdout, str):
            raise TypeError(f"stdout must be str, got {type(stdout).__name__}")
        if not self._paper:
            return list(stdout)
        tokens: list[str] = []
        lines = stdout.split("\n")
        for i, line in enumerate(lines):
            for word in line.split():
                tokens.append(f"NUMBER({word})" if _PAPER_NUMBER.fullmatch(word) else f"STRING({word})")
            if i < len(lines) - 1:
                tokens.append(tn.NEWLINE)
        return tokens

    def decode_output(self, tokens: list[str]) -> str:
        """Inverse of `output_tokens` (exact for semantic/chars; paper joins words with one space)."""
        if not self._paper:
            return "".join(tokens)
        lines: list[str] = []
        words: list[str] = []
        for token in tokens:
            if token == tn.NEWLINE:
                lines.append(" ".join(words))
                words = []
                continue
            match = _PAPER_WORD.fullmatch(token)
            words.append(match.group(1) if match else token)
        lines.append(" ".join(words))
        return "\n".join(lines)
