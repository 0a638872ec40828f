"""Tokenizer settings: registered names, settings() round trip, the vocabulary remembers its settings."""
import json

import pytest

from jaxlua.config import DIGIT_ORDERS, IDENTIFIER_STYLES, TOKENIZER_MODES
from jaxlua.tokenize import MODES, Tokenizer, Vocabulary
from jaxlua.tokenize.modes import SemanticMode
from jaxlua.tokenize.vocabulary import DEFAULT_RESERVED, TRACE_TOKENS

SOURCE = 'local total = 12\nprint("sum " .. total, total // 5)\n'
ALL_SETTINGS = [dict(mode=m, identifiers=i, digits=d) for m in TOKENIZER_MODES for i in IDENTIFIER_STYLES
                for d in DIGIT_ORDERS
                if (m == "semantic" or i == "names") and (m != "paper" or d == "msd")]


def test_names_come_from_the_registries():
    assert MODES == TOKENIZER_MODES.names() == ("semantic", "paper", "chars")
    assert IDENTIFIER_STYLES.names() == ("names", "spelled", "canonical")
    assert DIGIT_ORDERS.names() == ("msd", "lsd")
    for registry in (TOKENIZER_MODES, IDENTIFIER_STYLES, DIGIT_ORDERS):
        for name in registry:
            assert registry.get(name) is not None


def test_defaults_and_spell_identifiers_alias():
    tokenizer = Tokenizer()
    assert tokenizer.settings() == {"mode": "semantic", "identifiers": "names", "digits": "msd"}
    assert tokenizer.reserved_tokens() == DEFAULT_RESERVED  # the default vocabulary is unchanged
    spelled = Tokenizer("semantic", spell_identifiers=True)
    assert spelled.identifiers == "spelled" and spelled.spell_identifiers
    assert spelled.program_tokens(SOURCE) == Tokenizer(identifiers="spelled").program_tokens(SOURCE)
    with pytest.raises(ValueError, match="contradicts"):
        Tokenizer(identifiers="canonical", spell_identifiers=True)


@pytest.mark.parametrize("settings", ALL_SETTINGS, ids=lambda s: "-".join(s.values()))
def test_settings_round_trip_through_json(settings):
    tokenizer = Tokenizer(**settings)
    assert tokenizer.settings() == settings
    restored = Tokenizer.from_settings(json.loads(json.dumps(tokenizer.settings())))
    assert restored.settings() == settings
    assert restored.program_tokens(SOURCE) == tokenizer.program_tokens(SOURCE)
    assert restored.output_tokens("12 345\n") == tokenizer.output_tokens("12 345\n")
    assert repr(restored) == repr(tokenizer)


@pytest.mark.parametrize("kwargs, match", [
    (dict(mode="words"), "unknown tokenizer mode 'words'"),
    (dict(identifiers="short"), "unknown tokenizer identifiers 'short'"),
    (dict(digits="middle"), "unknown tokenizer digits 'middle'"),
    (dict(mode="chars", identifiers="spelled"), "semantic mode only"),
])
def test_bad_settings_are_one_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Tokenizer(**kwargs)
    with pytest.raises(ValueError, match="unknown tokenizer setting"):
        Tokenizer.from_settings({"mode": "semantic", "spell": True})


def test_vocabulary_records_and_checks_its_settings(tmp_path):
    canonical = Tokenizer(identifiers="canonical", digits="lsd")
    vocab = canonical.build_vocabulary([canonical.program_tokens(SOURCE)])
    assert vocab.settings == canonical.settings()
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert json.loads(path.read_text())["settings"] == canonical.settings()
    assert canonical.load_vocabulary(path) == vocab
    with pytest.raises(ValueError, match="built for tokenizer settings .*identifiers=canonical.*not.*names"):
        Tokenizer().load_vocabulary(path)
    old_style = tmp_path / "old.json"  # written before settings were recorded: still loads
    Vocabulary(vocab.tokens).save(old_style)
    assert "settings" not in json.loads(old_style.read_text())
    assert Tokenizer().load_vocabulary(old_style).tokens == vocab.tokens


def test_trace_vocabularies_put_the_trace_tokens_after_the_specials():
    vocab = Tokenizer().build_vocabulary([], traces=True)
    assert vocab.tokens[5:8] == list(TRACE_TOKENS)
    assert Tokenizer().build_vocabulary([]).tokens[5] == DEFAULT_RESERVED[0]


def test_a_new_mode_is_one_registered_class():
    """A toy mode (semantic programs, upper-cased outputs) works through Tokenizer by registering it alone."""

    class ShoutMode(SemanticMode):
        def output_tokens(self, stdout):
            return list(stdout.upper())

    TOKENIZER_MODES.register("shout", ShoutMode, "Upper-cased outputs (a test mode).")
    try:
        tokenizer = Tokenizer("shout")
        assert tokenizer.output_tokens("hi\n") == ["H", "I", "\n"]
        assert tokenizer.program_tokens(SOURCE) == Tokenizer().program_tokens(SOURCE)
        assert Tokenizer.from_settings(tokenizer.settings()).mode == "shout"
    finally:
        TOKENIZER_MODES.unregister("shout")
    with pytest.raises(ValueError, match="unknown tokenizer mode"):
        Tokenizer("shout")
