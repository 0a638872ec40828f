"""Vocabulary: fixed special ids, train-only construction, unseen literals encode without UNK."""
import json

import pytest

from jaxlua.tokenize import BOS, EOS, PAD, SEP, UNK, Tokenizer, Vocabulary

TRAIN = ['x = 1\nprint(x + 2)\n', 'local s = "ab"\nprint(s .. "c")\n']
TEST = 'x = 98765\nprint("Zebra!", x * 7)\n'  # digits, letters and punctuation never seen in TRAIN


def build(mode: str, **kwargs) -> tuple[Tokenizer, Vocabulary]:
    tokenizer = Tokenizer(mode)
    return tokenizer, Vocabulary.build([tokenizer.program_tokens(s) for s in TRAIN], **kwargs)


def test_special_ids():
    _, vocab = build("semantic")
    assert vocab.encode([PAD, BOS, SEP, EOS, UNK]) == [0, 1, 2, 3, 4]
    assert (vocab.pad_id, vocab.bos_id, vocab.sep_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3, 4)
    assert SEP == "<PROGRAM END>"


def test_unseen_literals_encode_without_unk_in_semantic_mode():
    tokenizer, vocab = build("semantic")
    program = tokenizer.program_tokens(TEST)
    output = tokenizer.output_tokens("Zebra!\t691355\n")
    assert "STRING" in program and "9" in program
    assert vocab.unk_id not in vocab.encode(program + output)
    assert vocab.decode(vocab.encode(output)) == output


def test_spelled_identifiers_encode_without_unk():
    tokenizer = Tokenizer("semantic", spell_identifiers=True)
    vocab = Vocabulary.build([tokenizer.program_tokens(s) for s in TRAIN])
    tokens = tokenizer.program_tokens("local brand_new = 5\nprint(brand_new:rep(2), other.field)\n")
    assert vocab.unk_id not in vocab.encode(tokens)
    with pytest.raises(ValueError, match="semantic mode only"):
        Tokenizer("paper", spell_identifiers=True)


def test_paper_mode_literals_can_be_unknown():
    tokenizer, vocab = build("paper")
    ids = vocab.encode(tokenizer.program_tokens(TEST))
    assert vocab.unk_id in ids  # NUMBER(98765) was never seen: the dissertation format's limitation


def test_unknown_identifier_maps_to_unk_without_reserved_tokens():
    tokenizer, vocab = build("semantic", reserved=())
    assert vocab.token_id("IDENTIFIER(never_seen)") == vocab.unk_id
    assert "STRING" in vocab and "EQUALS" in vocab  # seen in TRAIN


def test_min_count_and_deterministic_order():
    lists = [["b", "a", "a"], ["c", "a", "b"]]
    vocab = Vocabulary.build(lists, min_count=2, reserved=())
    assert vocab.tokens == [PAD, BOS, SEP, EOS, UNK, "a", "b"]
    assert Vocabulary.build(reversed(lists), min_count=2, reserved=()) == vocab
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(lists, min_count=0)


def test_save_load_round_trip(tmp_path):
    tokenizer, vocab = build("semantic")
    extra = Vocabulary.build([["IDENTIFIER(é)", "\udcff", "\n"]])
    for v in (vocab, extra):
        path = tmp_path / "sub" / "vocab.json"
        v.save(path)
        loaded = Vocabulary.load(path)
        assert loaded == v and len(loaded) == len(v)
        assert json.loads(path.read_text())["tokens"][:5] == [PAD, BOS, SEP, EOS, UNK]


def test_bad_inputs_are_clear_errors(tmp_path):
    _, vocab = build("semantic")
    with pytest.raises(ValueError, match="outside vocabulary"):
        vocab.decode([len(vocab)])
    with pytest.raises(TypeError, match="token lists"):
        Vocabulary.build(["abc"])
    with pytest.raises(ValueError, match="must start with"):
        Vocabulary(["a", "b"])
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a jaxlua vocabulary"):
        Vocabulary.load(bad)
