"""`Tokenizer`: Lua source, stdout and execution traces -> token lists, under one set of settings.

The settings are a mode (`modes.py`), an identifier style (`identifiers.py`) and a digit order (`digits.py`),
each chosen by name from the registries in `jaxlua.config`; `settings()` / `from_settings` carry them through
a run's saved configuration and the vocabulary file.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from absl import logging
from tree_sitter import Node

from jaxlua.config import DIGIT_ORDERS, IDENTIFIER_STYLES, TOKENIZER_MODES
from jaxlua.tokenize import syntax
from jaxlua.tokenize import trace_tokens as traces
from jaxlua.tokenize.syntax import LANGUAGE  # noqa: F401  (re-exported: the grammar the tokenizer parses)
from jaxlua.tokenize.vocabulary import BOS, DEFAULT_RESERVED, TRACE_TOKENS, Vocabulary

MODES = TOKENIZER_MODES.names()
SETTINGS_KEYS = ("mode", "identifiers", "digits", "program_copies")
PROGRAM_COPIES = (1, 2)  # the program once, or twice (Learning to Execute's input doubling)


def _check(registry, kind: str, name: str) -> str:
    if name not in registry:
        raise ValueError(f"unknown tokenizer {kind} {name!r}; expected one of {registry.names()}")
    return name


class Tokenizer:
    """Turns Lua programs, their stdout and their traces into token lists; one parser per instance."""

    def __init__(self, mode: str = "semantic", identifiers: str = "names", digits: str = "msd",
                 program_copies: int = 1, *, spell_identifiers: bool = False, lexical: bool = True) -> None:
        """`identifiers`: "names" (IDENTIFIER(x)), "spelled" (NAME x, never <UNK>) or "canonical" (v1, v2, ...
        where renaming cannot change the output); `digits`: "msd" or "lsd" (numbers in outputs and trace
        values least significant digit first); `program_copies`: 2 writes the program's tokens twice,
        `program <BOS> program`, so a left-to-right model reads it a second time knowing all of it.
        `spell_identifiers=True` is an alias of "spelled". `lexical=False` always walks the syntax tree instead of
        reading the training default's tokens off the lexemes (`lexical.py`): the same tokens, slower; the
        reference the tests compare the fast path with."""
        _check(TOKENIZER_MODES, "mode", mode)
        if program_copies not in PROGRAM_COPIES:
            raise ValueError(f"program_copies must be one of {PROGRAM_COPIES}, got {program_copies!r}")
        if spell_identifiers:
            if identifiers not in ("names", "spelled"):
                raise ValueError(f"spell_identifiers=True contradicts identifiers={identifiers!r}")
            identifiers = "spelled"
        _check(IDENTIFIER_STYLES, "identifiers", identifiers)
        _check(DIGIT_ORDERS, "digits", digits)
        mode_class = TOKENIZER_MODES.get(mode)
        if mode_class.identifier_styles is not None and identifiers not in mode_class.identifier_styles:
            raise ValueError(f"identifiers={identifiers!r} applies to the semantic mode only "
                             f"(mode {mode!r} takes {', '.join(mode_class.identifier_styles)})")
        if mode_class.digit_orders is not None and digits not in mode_class.digit_orders:
            raise ValueError(f"digits={digits!r} applies to character outputs only "
                             f"(mode {mode!r} takes {', '.join(mode_class.digit_orders)})")
        self.mode, self.identifiers, self.digits = mode, identifiers, digits
        self.program_copies = int(program_copies)
        self._style = IDENTIFIER_STYLES.get(identifiers)()
        self._digit_order = DIGIT_ORDERS.get(digits)
        self._mode = mode_class(self._style, self._digit_order, lexical)
        self._parser = syntax.new_parser()
        self._last_source: Any = None  # the source of the last program walked (its renaming is current)

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> "Tokenizer":
        """The tokenizer `settings()` describes; ValueError on an unknown key or value."""
        unknown = sorted(set(settings) - set(SETTINGS_KEYS))
        if unknown:
            raise ValueError(f"unknown tokenizer setting(s) {unknown}; expected {list(SETTINGS_KEYS)}")
        return cls(**dict(settings))

    def settings(self) -> dict[str, Any]:
        """Everything that determines the token stream, JSON-able: mode, identifiers, digits, and
        program_copies when it is not 1 (so settings, caches and vocabularies of one copy are as before)."""
        settings: dict[str, Any] = {"mode": self.mode, "identifiers": self.identifiers, "digits": self.digits}
        if self.program_copies != 1:
            settings["program_copies"] = self.program_copies
        return settings

    @property
    def config(self) -> dict[str, str]:
        """Same as `settings()` (part of cache keys)."""
        return self.settings()

    @property
    def spell_identifiers(self) -> bool:
        return self.identifiers == "spelled"

    def __repr__(self) -> str:
        return "Tokenizer(" + ", ".join(f"{key}={value!r}" for key, value in self.settings().items()) + ")"

    # ----------------------------------------------------------------------------------------- programs
    def parse(self, source: str | bytes) -> Node:
        """Root node of `source`'s syntax tree; LuaSyntaxError (line, column) if it has ERROR/MISSING nodes."""
        return syntax.parse(self._parser, source)

    def program_tokens(self, source: str | bytes) -> list[str]:
        """Tokens of a Lua program (semantic/paper drop comments). Raises LuaSyntaxError if it does not parse,
        in every mode, so all modes keep the same records of a dataset."""
        root = self.parse(source)
        self._last_source = None
        tokens = self._mode.program_tokens(root, source)
        self._last_source = source
        if self.program_copies == 2:
            tokens = [*tokens, BOS, *tokens]
        return tokens

    def renaming(self, source: str | bytes) -> dict[str, str]:
        """Original -> canonical variable names of `source` (empty unless identifiers="canonical")."""
        self._walked(source)
        return self._style.renaming

    def _walked(self, source: str | bytes) -> None:
        """Makes `source` the last program walked (identifier styles with per-program state need it)."""
        if self._last_source is not source and self._last_source != source:
            self.program_tokens(source)

    # ------------------------------------------------------------------------------------------ outputs
    def output_tokens(self, stdout: str) -> list[str]:
        """Tokens of a program's stdout: its characters (semantic, chars) or words and NEWLINE (paper)."""
        if not isinstance(stdout, str):
            raise TypeError(f"stdout must be str, got {type(stdout).__name__}")
        return self._mode.output_tokens(stdout)

    def decode_output(self, tokens: list[str]) -> str:
        """Inverse of `output_tokens` (exact for semantic/chars; paper joins words with one space)."""
        return self._mode.decode_output(tokens)

    # ------------------------------------------------------------------------------------------- traces
    def trace_tokens(self, trace: Iterable[Any], source: str | bytes | None = None,
                     max_tokens: int = traces.DEFAULT_MAX_TRACE_TOKENS, cut: bool = False) -> list[str]:
        """Compact tokens of an execution trace (`TraceStep`s or their JSON form): `<STEP> name EQUALS value`
        per change, capped at `max_tokens` (then `<TRACE_CUT>`, also written when `cut`). Canonical
        identifiers need the program's `source`, so trace names match the program's."""
        if source is not None:
            self._walked(source)
        elif self.identifiers == "canonical":
            raise ValueError("trace_tokens with identifiers='canonical' needs the program's source")
        return traces.encode_trace(trace, self._style.name_tokens, self._digit_order, max_tokens, cut)

    def target_tokens(self, stdout: str, trace: Iterable[Any] | None = None, source: str | bytes | None = None,
                      max_trace_tokens: int = traces.DEFAULT_MAX_TRACE_TOKENS,
                      trace_cut: bool = False) -> list[str]:
        """What a model writes after the program: the output, or `trace <OUT> output` when `trace` is given."""
        output = self.output_tokens(stdout)
        if trace is None:
            return output
        return [*self.trace_tokens(trace, source, max_trace_tokens, trace_cut), traces.OUT, *output]

    def decode_trace(self, tokens: Sequence[str]) -> list[list[tuple[str, str]]]:
        """Changes per step of trace tokens, names as written, values in printed digit order."""
        return traces.decode_trace(tokens, self._digit_order)

    @staticmethod
    def split_target(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
        """(trace part, output part) of predicted target tokens; score `decode_output(output part)`."""
        return traces.split_target(tokens)

    # --------------------------------------------------------------------------------------- vocabulary
    def reserved_tokens(self, traces: bool = False) -> tuple[str, ...]:
        """Tokens every vocabulary for this tokenizer holds, seen in training or not (the default settings
        reserve exactly `DEFAULT_RESERVED`; `traces` adds the trace separators first)."""
        return (TRACE_TOKENS if traces else ()) + DEFAULT_RESERVED + self._style.reserved_tokens()

    def build_vocabulary(self, token_lists: Iterable[Sequence[str]], min_count: int = 1,
                         traces: bool = False) -> Vocabulary:
        """`Vocabulary.build` with this tokenizer's reserved tokens, recording its settings."""
        return Vocabulary.build(token_lists, min_count, reserved=self.reserved_tokens(traces),
                                settings=self.settings())

    def load_vocabulary(self, path) -> Vocabulary:
        """`Vocabulary.load`, refusing a vocabulary saved for other tokenizer settings. One built before some
        of `reserved_tokens()` were reserved still loads and encodes as it did (the token stream does not
        depend on the vocabulary); one warning line says how many are missing (they encode to <UNK>)."""
        vocab = Vocabulary.load(path, settings=self.settings())
        missing = self.missing_reserved(vocab)
        if missing:
            logging.warning("vocabulary %s lacks %d of the tokens %r reserves (e.g. %s): programs using them "
                            "encode to <UNK>; a new run reserves them", path, len(missing), self,
                            ", ".join(map(repr, missing[:3])))
        return vocab

    def missing_reserved(self, vocab: Vocabulary) -> list[str]:
        """This tokenizer's reserved tokens (trace separators aside) that `vocab` does not hold."""
        return [token for token in self.reserved_tokens() if token not in vocab]

