"""Tokenizer modes: each is one class, registered by name in `jaxlua.config.TOKENIZER_MODES`.

A mode turns a parsed program into tokens (an action table for the shared walker, `syntax.walk`) and stdout
into tokens and back. It is built with an identifier style (`identifiers.py`) and a digit order
(`digits.py`) and says which of those it supports.

- `semantic` (default): structural tokens from the syntax tree (IF, LOCAL, CONCAT, FUNCTION_CALL(print),
  IDENTIFIER(x), ...) with literal values spelled as single characters (`NUMBER 4 2`, `STRING H i`), so any
  number or string is representable; outputs are stdout's characters. Lossless: `render_program` turns the
  tokens back into Lua that prints the same.
- `paper`: the dissertation's format (IDENTIFIER(x) NUMBER(5) STRING(word) FUNCTION_CALL(print), outputs as
  STRING(word) / NUMBER(n)), but walking into every argument and keeping the operators, brackets and line
  breaks the original dropped.
- `chars`: the raw source's characters (the TEX baseline).
"""
from __future__ import annotations

import re

from tree_sitter import Node

from jaxlua.tokenize import syntax
from jaxlua.tokenize import token_names as tn
from jaxlua.tokenize.digits import DigitOrder
from jaxlua.tokenize.errors import LuaSyntaxError
from jaxlua.tokenize.identifiers import NamesStyle
from jaxlua.tokenize.lexical import lexical_tokens
from jaxlua.tokenize.lua_strings import StringLiteralError, decode_lua_string

_PAPER_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?0[xX][0-9a-fA-F]+")
_PAPER_WORD = re.compile(r"(?:STRING|NUMBER)\((.*)\)", re.DOTALL)


def string_value(node: Node) -> str:
    """Value of a string literal node; LuaSyntaxError at the offending character if it is malformed."""
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


def _skip(node: Node, out: list, stack: list) -> None:
    """Comments and the shebang line carry no tokens."""


def _unary(node: Node, out: list, stack: list) -> None:
    children = node.children
    op = children[0]
    out.append(tn.UNARY_TOKENS.get(op.type) or tn.LEAF_TOKENS.get(op.type) or op.type.upper())
    children.reverse()
    children.pop()
    stack += children


def _attribute(node: Node, out: list, stack: list) -> None:
    name = node.named_children[0] if node.named_child_count else None
    out.append(tn.ATTRIBUTE_FMT.format(syntax.text(name) if name is not None else ""))


def _call_handler(style: NamesStyle, close: str | None) -> syntax.Handler:
    """Emit or schedule a call: [callee tokens] FUNCTION_CALL(name)|METHOD_CALL(m)|CALL, arguments, `close`."""
    call_head, method_tokens, parens = style.call_head, style.method_tokens, syntax.PARENS

    def call(node: Node, out: list, stack: list) -> None:
        callee = node.child_by_field_id(syntax.NAME_FIELD)
        arguments = node.child_by_field_id(syntax.ARGUMENTS_FIELD)
        if close is not None:
            stack.append(close)
        if arguments is not None:
            children = arguments.children
            if children and children[0].kind_id in parens:  # `(a, b)`: the brackets are first and last
                children = children[1:-1]
            children.reverse()
            stack += children
        head = call_head(callee) if callee is not None else None
        if head is not None:  # nothing of the callee is walked: the head goes out now
            out.append(head)
        elif callee is not None and callee.kind_id in syntax.METHOD_INDEX:
            method = callee.child_by_field_id(syntax.METHOD_FIELD)
            stack += reversed(method_tokens(syntax.text(method) if method is not None else ""))
            table = callee.child_by_field_id(syntax.TABLE_FIELD)
            if table is not None:
                stack.append(table)
        else:
            stack.append(tn.CALL)
            if callee is not None:
                stack.append(callee)

    return call


class Mode:
    """Base of the modes: program tokens by walking the tree with `actions()`, outputs as characters."""

    # Identifier styles and digit orders the mode supports (None: all registered ones).
    identifier_styles: tuple[str, ...] | None = None
    digit_orders: tuple[str, ...] | None = None

    def __init__(self, identifiers: NamesStyle, digits: DigitOrder, lexical: bool = True) -> None:
        self.identifiers = identifiers
        self.digits = digits
        self.lexical = lexical  # read tokens off the lexemes where the mode and style can (same tokens, faster)
        self._actions = self.actions()

    def actions(self) -> dict[int, syntax.Action]:
        """Kind id -> action for the walker."""
        actions: dict[int, syntax.Action] = dict(syntax.LEAF_ACTIONS)
        for kind in ("comment", "hash_bang_line"):
            actions.update(dict.fromkeys(syntax.kind_ids(kind), _skip))
        for kind, handler in (("unary_expression", _unary), ("attribute", _attribute)):
            actions.update(dict.fromkeys(syntax.kind_ids(kind), handler))
        actions.update(self.identifiers.actions())
        return actions

    def program_tokens(self, root: Node, source: str | bytes) -> list[str]:
        """Tokens of the parsed program `root` (whose text is `source`)."""
        return self.identifiers.walk(root, self._actions)

    def output_tokens(self, stdout: str) -> list[str]:
        """stdout's characters, digits in the mode's digit order."""
        return list(self.digits.encode(stdout))

    def decode_output(self, tokens: list[str]) -> str:
        """Inverse of `output_tokens`."""
        return self.digits.decode("".join(tokens))


class SemanticMode(Mode):
    """Structural tokens, literals spelled as characters, calls closed by CALL_END."""

    def actions(self) -> dict[int, syntax.Action]:
        actions = super().actions()
        for kind, handler in (("number", self._number), ("string", self._string),
                              ("function_call", _call_handler(self.identifiers, tn.CALL_END))):
            actions.update(dict.fromkeys(syntax.kind_ids(kind), handler))
        return actions

    def program_tokens(self, root: Node, source: str | bytes) -> list[str]:
        """Read off the lexemes where the style allows it (`lexical.py`, the same tokens, faster), else walked."""
        style = self.identifiers
        if self.lexical and style.lexical and isinstance(source, str):
            style.start(root.text)
            tokens = lexical_tokens(source, style)
            if tokens is not None:
                return tokens
        return style.walk(root, self._actions)

    @staticmethod
    def _number(node: Node, out: list, stack: list) -> None:
        out.append(tn.NUMBER)
        out.extend(node.text.decode("utf-8", "surrogateescape"))

    def _string(self, node: Node, out: list, stack: list) -> None:
        out.append(tn.STRING)
        out.extend(self.identifiers.string_chars(string_value(node)))


class PaperMode(Mode):
    """The dissertation's KIND(value) tokens, complete; outputs as words and NEWLINE."""

    identifier_styles = ("names",)
    digit_orders = ("msd",)

    def actions(self) -> dict[int, syntax.Action]:
        actions = super().actions()
        for kind, handler in (("number", self._number), ("string", self._string),
                              ("function_call", _call_handler(self.identifiers, None)),
                              ("parameters", self._parameters)):
            actions.update(dict.fromkeys(syntax.kind_ids(kind), handler))
        return actions

    @staticmethod
    def _number(node: Node, out: list, stack: list) -> None:
        out.append(f"NUMBER({syntax.text(node)})")

    @staticmethod
    def _string(node: Node, out: list, stack: list) -> None:
        words = string_value(node).split()
        out.extend([f"STRING({w})" for w in words] if words else ["STRING()"])

    @staticmethod
    def _parameters(node: Node, out: list, stack: list) -> None:
        stack += [c for c in reversed(node.children) if c.kind_id not in syntax.PARENS]

    def output_tokens(self, stdout: str) -> list[str]:
        tokens: list[str] = []
        lines = stdout.split("\n")
        for i, line in enumerate(lines):
            for word in line.split():
                tokens.append(f"NUMBER({word})" if _PAPER_NUMBER.fullmatch(word) else f"STRING({word})")
            if i < len(lines) - 1:
                tokens.append(tn.NEWLINE)
        return tokens

    def decode_output(self, tokens: list[str]) -> str:
        """Words joined by one space per line (paper outputs are not whitespace-exact by design)."""
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


class CharsMode(Mode):
    """The source's characters (after checking that it parses); outputs as characters."""

    identifier_styles = ("names",)

    def program_tokens(self, root: Node, source: str | bytes) -> list[str]:
        return list(source.decode("utf-8", "surrogateescape") if isinstance(source, bytes) else source)
