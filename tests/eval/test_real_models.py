"""The decoder on the real models of jaxlua.models: jit decoding equals a one-row step-by-step reference,
and the teacher-forced NLL equals the one read off `model(tokens, mask)`.

The default cell runs by default; the other models (and attention / MoE variants) are marked slow.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxlua.eval.decode import Decoder, decode_rows, score_rows
from jaxlua.models import ModelConfig, build
from tests.eval.test_decode import reference_greedy

VOCAB_SIZE, MAX_LEN, EOS, PAD = 20, 32, 3, 0
SLOW = pytest.mark.slow
_forward = nnx.jit(lambda model, tokens, mask: model(tokens, mask))
CASES = [
    pytest.param("gru", {}, id="gru"),
    pytest.param("rnn", {}, id="rnn", marks=SLOW),
    pytest.param("lstm", {}, id="lstm", marks=SLOW),
    pytest.param("mingru", {"num_experts": 2, "moe_top_k": 1}, id="mingru-moe", marks=SLOW),
    pytest.param("minlstm", {}, id="minlstm", marks=SLOW),
    pytest.param("gru", {"attention": True}, id="gru-attention", marks=SLOW),
    pytest.param("transformer", {}, id="transformer", marks=SLOW),
]


@pytest.mark.parametrize("cell,extra", CASES)
def test_decoder_on_real_model(cell, extra):
    config = ModelConfig(vocab_size=VOCAB_SIZE, cell=cell, embed_dim=16, hidden_dim=16, num_layers=2, num_heads=2,
                         dropout=0.3, max_len=MAX_LEN, **extra)
    model = build(config, nnx.Rngs(0))
    rng = np.random.default_rng(0)
    prompt_lengths = [3, 9, 5, 14]
    output_start = np.array([2, 5, 3, 8], np.int32)
    tokens = np.zeros((4, MAX_LEN), np.int32)
    for row, n in enumerate(prompt_lengths):
        tokens[row, :n] = [1, *rng.integers(5, VOCAB_SIZE, size=n - 2), 2]
    decoder = Decoder(model, eos_id=EOS, pad_id=PAD, max_len=MAX_LEN)  # dropout on in `model`, off in decoder
    got = decode_rows(decoder, tokens, np.array(prompt_lengths), np.arange(4), batch_size=4, max_new_tokens=10)
    nll, count = score_rows(decoder, tokens, np.array(prompt_lengths), output_start, batch_size=4)

    model.eval()
    assert got == [reference_greedy(model, tokens[r], n, 10) for r, n in enumerate(prompt_lengths)]
    mask = jnp.arange(MAX_LEN)[None, :] < jnp.asarray(prompt_lengths)[:, None]
    log_probs = jax.nn.log_softmax(_forward(model, jnp.asarray(tokens), mask)[0], axis=-1)
    for row, (start, n) in enumerate(zip(output_start, prompt_lengths)):
        expected = -sum(float(log_probs[row, t - 1, tokens[row, t]]) for t in range(start, n))
        assert nll[row] == pytest.approx(expected, rel=1e-4, abs=1e-4)
        assert count[row] == n - start
