"""Reading the program twice (`program_copies=2`): `program <BOS> program`, settings, and the encoded rows."""
import pytest

from jaxlua.config import TokenizerConfig
from jaxlua.tokenize import BOS, Tokenizer, encode_dataset
from jaxlua.data.run_data import make_tokenizer

SOURCE = "local x = 7 local y = x * 3 print(y + 1)"


@pytest.mark.parametrize("identifiers", ["names", "canonical"])
def test_two_copies_are_the_program_twice_around_bos(identifiers):
    once = Tokenizer("semantic", identifiers=identifiers).program_tokens(SOURCE)
    twice = Tokenizer("semantic", identifiers=identifiers, program_copies=2).program_tokens(SOURCE)
    assert twice == [*once, BOS, *once]


def test_settings_name_copies_only_when_not_one():
    assert "program_copies" not in Tokenizer().settings()
    settings = Tokenizer(program_copies=2).settings()
    assert settings["program_copies"] == 2
    assert Tokenizer.from_settings(settings).program_copies == 2


@pytest.mark.parametrize("copies", [0, 3, "2"])
def test_bad_copies_are_refused(copies):
    with pytest.raises(ValueError, match="program_copies"):
        Tokenizer(program_copies=copies)


def test_config_reaches_the_tokenizer_and_is_checked():
    assert make_tokenizer(TokenizerConfig(program_copies=2)).program_copies == 2
    with pytest.raises(ValueError, match="program_copies"):
        TokenizerConfig(program_copies=3)


def test_encoded_rows_hold_the_program_twice_then_the_output():
    records = [{"id": "a", "source": SOURCE, "stdout": "22\n", "level": 4}]
    once_tok, twice_tok = Tokenizer("semantic"), Tokenizer("semantic", program_copies=2)
    vocab = twice_tok.build_vocabulary([once_tok.program_tokens(SOURCE), once_tok.output_tokens("22\n")])
    once = encode_dataset(records, once_tok, vocab, max_len=128)
    twice = encode_dataset(records, twice_tok, vocab, max_len=128)
    program = once.tokens[0, 1:once.output_start[0] - 1].tolist()
    assert twice.tokens[0, 1:twice.output_start[0] - 1].tolist() == [*program, vocab.bos_id, *program]
    output = once.tokens[0, once.output_start[0]:once.lengths[0]].tolist()
    assert twice.tokens[0, twice.output_start[0]:twice.lengths[0]].tolist() == output
