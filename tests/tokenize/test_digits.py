"""digits="lsd": integer digit runs written least significant first, decoded back exactly."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlua.tokenize import Tokenizer
from jaxlua.tokenize.digits import LSD
from tests.tokenize.lua_corpus import project_generator, run_lua_stdout

LSD_TOKENIZER = Tokenizer("semantic", digits="lsd")


@pytest.mark.parametrize("printed, written", [
    ("123", "321"), ("-1230", "-0321"), ("100\t7\n", "001\t7\n"), ("3.5", "3.5"), ("12.75", "21.75"),
    ("-0.0", "-0.0"), ("1e+20", "1e+02"), ("1.5e-07", "1.5e-70"), ("inf -inf nan -nan", "inf -inf nan -nan"),
    ("9007199254740993", "3990474529917009"), ("x=42, y=-7.25", "x=24, y=-7.25"), ("1.2.34", "1.2.34"),
    ("", ""),
])
def test_forms(printed, written):
    assert LSD.encode(printed) == written
    assert LSD.decode(written) == printed
    assert LSD_TOKENIZER.output_tokens(printed) == list(written)
    assert LSD_TOKENIZER.decode_output(list(written)) == printed


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.-+e \tnaif\nx")) | st.characters()))
def test_any_text_round_trips(text):
    assert LSD_TOKENIZER.decode_output(LSD_TOKENIZER.output_tokens(text)) == text


def test_outputs_of_generated_programs_round_trip():
    generator = project_generator()
    if generator is None:
        pytest.skip("jaxlua.lua.ProgramGenerator not available")
    changed = 0
    msd = Tokenizer("semantic")
    for seed in range(3000):
        _, stdout = run_lua_stdout(generator(10_000 + seed).sample(1 + seed % 7))
        tokens = LSD_TOKENIZER.output_tokens(stdout)
        assert LSD_TOKENIZER.decode_output(tokens) == stdout
        assert sorted(tokens) == sorted(msd.output_tokens(stdout))  # the same characters, reordered
        changed += tokens != msd.output_tokens(stdout)
    assert changed > 300  # many outputs hold multi-digit numbers


def test_program_literals_keep_their_order_and_chars_mode_takes_lsd():
    assert LSD_TOKENIZER.program_tokens("print(120)") == Tokenizer().program_tokens("print(120)")
    assert Tokenizer("chars", digits="lsd").output_tokens("120\n") == list("021\n")
    with pytest.raises(ValueError, match="character outputs only"):
        Tokenizer("paper", digits="lsd")
