"""Execution traces as target tokens, and predicted targets split back into (trace, output).

A trace target is compact: only the steps that changed a variable, each `<STEP>` followed by
`name EQUALS value-characters` per change (names as the tokenizer's identifier style writes them, a global
hidden by a local, `_ENV.x`, as `_ENV DOT x`; values in its digit order), at most `max_tokens` tokens: cut
at a step boundary, then `<TRACE_CUT>`, which also marks a trace the sandbox already cut. The full target is
`trace <OUT> output`; `split_target` finds the output, so a model trained to write the trace first is scored
on the output alone.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from jaxlua.tokenize import token_names as tn
from jaxlua.tokenize.digits import DigitOrder
from jaxlua.tokenize.vocabulary import OUT, STEP, TRACE_CUT

DEFAULT_MAX_TRACE_TOKENS = 512


def trace_changes(trace: Iterable[Any]) -> list[tuple[tuple[str, str], ...]]:
    """The changes of each step of `trace`: `TraceStep`s, or their JSON forms `[line, changes]` and
    `{"line": ..., "changes": ...}` (as records store them). ValueError naming the first malformed step."""
    steps = []
    for index, step in enumerate(trace):
        if isinstance(step, dict):
            changes = step.get("changes")
        elif isinstance(step, (list, tuple)) and len(step) == 2 and not isinstance(step[0], str):
            changes = step[1]
        else:
            changes = getattr(step, "changes", None)
        try:
            pairs = tuple((name, value) for name, value in changes)
        except (TypeError, ValueError):
            pairs = None
        if pairs is None or not all(isinstance(n, str) and n and isinstance(v, str) for n, v in pairs):
            raise ValueError(f"trace step {index} is not (line, [(name, value), ...]) with string names and "
                             f"values: {step!r:.80}")
        steps.append(pairs)
    return steps


def encode_trace(trace: Iterable[Any], name_tokens: Callable[[str], list[str]], digits: DigitOrder,
                 max_tokens: int = DEFAULT_MAX_TRACE_TOKENS, cut: bool = False) -> list[str]:
    """Tokens of `trace`: `<STEP> name EQUALS value...` per step that changed something, at most
    `max_tokens` in all; `<TRACE_CUT>` ends a trace that was cut here or before (`cut`)."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    equals = tn.LEAF_TOKENS["="]
    out: list[str] = []
    budget = max_tokens - 1  # room for <TRACE_CUT>
    for changes in trace_changes(trace):
        if not changes:
            continue
        piece = [STEP]
        for name, value in changes:
            scope, dot, rest = name.partition(".")
            if dot and scope == "_ENV" and rest:
                piece += name_tokens(scope)
                piece.append(tn.LEAF_TOKENS["."])
                name = rest
            piece += name_tokens(name)
            piece.append(equals)
            piece += digits.encode(value)
        if len(out) + len(piece) > budget:
            cut = True
            break
        out += piece
    if cut:
        out.append(TRACE_CUT)
    return out


def decode_trace(tokens: Sequence[str], digits: DigitOrder) -> list[list[tuple[str, str]]]:
    """Changes per step written in `tokens` (inverse of `encode_trace` for names and spelled identifiers):
    names as written (`IDENTIFIER(x)` -> `x`, `NAME x` -> `x`), values decoded to the printed digit order."""
    steps: list[list[tuple[str, str]]] = []
    equals, dot = tn.LEAF_TOKENS["="], tn.LEAF_TOKENS["."]
    i, n = 0, len(tokens)
    while i < n:
        token = tokens[i]
        if token == STEP:
            steps.append([])
            i += 1
            continue
        if token == TRACE_CUT:
            i += 1
            continue
        if not steps:
            raise ValueError(f"a trace starts with {STEP}, got {token!r}")
        name, i = _read_name(tokens, i)
        if i < n and tokens[i] == dot:
            rest, i = _read_name(tokens, i + 1)
            name = f"{name}.{rest}"
        if i >= n or tokens[i] != equals:
            raise ValueError(f"expected {equals} after the name {name!r} at position {i} of a trace")
        start = i = i + 1
        while i < n and len(tokens[i]) == 1:
            i += 1
        steps[-1].append((name, digits.decode("".join(tokens[start:i]))))
    return steps


def _read_name(tokens: Sequence[str], i: int) -> tuple[str, int]:
    """The name written at `tokens[i]` (`IDENTIFIER(x)` or `NAME` + characters) and the index after it."""
    token = tokens[i] if i < len(tokens) else "<end>"
    if token == tn.NAME:
        end = i + 1
        while end < len(tokens) and len(tokens[end]) == 1:
            end += 1
        return "".join(tokens[i + 1:end]), end
    if token.startswith("IDENTIFIER(") and token.endswith(")"):
        return token[len("IDENTIFIER("):-1], i + 1
    raise ValueError(f"expected a name at position {i} of a trace, got {token!r}")


def split_target(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """(trace part, output part) of a target. Up to the first `<OUT>` is the trace; a target without trace
    tokens is all output; a trace never closed by `<OUT>` has an empty output."""
    tokens = list(tokens)
    if OUT in tokens:
        at = tokens.index(OUT)
        return tokens[:at], tokens[at + 1:]
    if STEP in tokens or TRACE_CUT in tokens:
        return tokens, []
    return [], tokens
