"""The bidirectional program encoder (`program_encoder`): the output stays causal, the program is read both ways,
prefill + decode_step equal the full forward, the backward cell trains, and SEP's id matches the vocabulary."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxlua.models import ModelConfig, build
from jaxlua.models.language_model import SEP_ID, program_mask
from tests.models.test_language_model import assert_decode_matches_forward

VOCAB = 13
BOS, SEP = 1, SEP_ID
# embed_dim != hidden_dim: the first block's backward cell is narrower (embed_dim) than the second's.
TINY = dict(vocab_size=VOCAB, embed_dim=3, hidden_dim=4, num_layers=2, num_heads=2, dropout=0.0, max_len=32,
            program_encoder=True)


def forward(model, tokens, mask=None):
    graphdef, state = nnx.split(model)
    return jax.jit(lambda s, t, m: nnx.merge(graphdef, s)(t, m)[0])(state, tokens, mask)


def sequence(program: list[int], output: list[int], width: int) -> jnp.ndarray:
    row = [BOS, *program, SEP, *output]
    return jnp.asarray([row + [0] * (width - len(row))], jnp.int32)


def test_sep_id_matches_the_vocabulary():
    from jaxlua.tokenize.vocabulary import Vocabulary  # the test may import the tokenizer; the models may not

    assert Vocabulary.build([["x"]]).sep_id == SEP_ID


def test_program_mask_is_before_the_first_sep_and_inside_the_mask():
    tokens = jnp.array([[1, 5, 6, 2, 7, 2, 3], [1, 5, 6, 7, 8, 9, 0]])
    mask = jnp.arange(7)[None] < jnp.array([[7], [5]])
    np.testing.assert_array_equal(program_mask(tokens), [[1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(program_mask(tokens, mask), [[1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0, 0]])


def test_transformer_rejects_program_encoder():
    with pytest.raises(ValueError, match="program_encoder needs a recurrent cell"):
        ModelConfig(**{**TINY, "cell": "transformer"})


@pytest.mark.parametrize("cell", ["mingru", "gru"])
def test_outputs_stay_causal_and_the_program_is_read_backwards(cell):
    model = build(ModelConfig(cell=cell, **TINY), nnx.Rngs(0))
    program, output = [5, 6, 7, 8, 9], [10, 11, 12, 5]
    base = sequence(program, output, 16)
    sep = 1 + len(program)
    logits = forward(model, base)
    chex.assert_tree_all_finite(logits)
    # An output token (SEP included, which must not move the program's end) changes no earlier logit.
    for t in (sep + 2, sep + 3):
        for new in (4, SEP):
            changed = forward(model, base.at[0, t].set(new))
            np.testing.assert_allclose(changed[0, :t], logits[0, :t], atol=1e-6, rtol=0)
            assert not np.allclose(changed[0, t:], logits[0, t:])
    # A program token changes the logits of earlier program positions (the backward cell) and of the output.
    changed = forward(model, base.at[0, 4].set(12))
    assert not np.allclose(changed[0, :4], logits[0, :4])
    assert not np.allclose(changed[0, sep:], logits[0, sep:])
    # Without the encoder the earlier positions do not move (the same test sees the difference).
    plain = build(ModelConfig(cell=cell, **{**TINY, "program_encoder": False}), nnx.Rngs(0))
    np.testing.assert_allclose(forward(plain, base.at[0, 4].set(12))[0, :4], forward(plain, base)[0, :4], atol=1e-6)


@pytest.mark.parametrize("cell,extras", [("mingru", dict(attention=True, conv_width=2, mlp_ratio=2)),
                                         ("lstm", {})])
def test_prefill_and_decode_match_the_full_forward(cell, extras):
    """Prompts `BOS program SEP` of lengths 5, 3, 7 (random tokens past them), then 4 greedy tokens."""
    model = build(ModelConfig(cell=cell, **TINY, **extras), nnx.Rngs(3))
    rng = np.random.default_rng(4)
    lengths = (5, 3, 7)
    tokens = rng.integers(1, VOCAB, (3, 8))  # pads past each row's length may hold SEP: they must not leak
    for row, length in enumerate(lengths):
        tokens[row, :length] = [BOS, *rng.integers(5, VOCAB, length - 2), SEP]
    assert_decode_matches_forward(model, tokens, lengths)


def test_a_train_step_trains_the_backward_cell():
    from jaxlua.train.batching import Arrays, make_batch
    from jaxlua.train.config import TrainConfig
    from jaxlua.train.model_state import build_model, initial_train_state
    from jaxlua.train.optimizer import make_optimizer
    from jaxlua.train.step import make_train_step
    from tests.train.synthetic import VOCAB_SIZE, toy_dataset

    # No weight decay: a parameter moves only if its gradient is nonzero.
    config = TrainConfig(cell="mingru", embed_dim=8, hidden_dim=8, num_layers=2, program_encoder=True, steps=10,
                         warmup_steps=0, lr=1e-2, weight_decay=0.0, max_len=24)
    state, graphs = initial_train_state(build_model(config, VOCAB_SIZE), config)
    before = jax.tree.map(np.asarray, state.params)
    step = make_train_step(graphs.train_def, make_optimizer(config), config)
    batch = make_batch(Arrays.from_encoded(toy_dataset(8, seed=0)), np.arange(8), 24)
    state, metrics = step(state, batch, jax.random.key(0))
    assert np.isfinite(float(metrics["loss"])) and int(state.step) == 1
    paths = jax.tree_util.tree_leaves_with_path(before)
    backward = [(jax.tree_util.keystr(p), old, new)
                for (p, old), new in zip(paths, jax.tree.leaves(state.params)) if "backward_cell" in jax.tree_util.keystr(p)]
    assert len(backward) == 2 * 2  # per block: the MinGRU's kernel and bias
    # The last block's too: its backward output feeds its forward cell, which reaches the output positions.
    unchanged = [name for name, old, new in backward if np.array_equal(old, np.asarray(new))]
    assert not unchanged, f"backward cell parameters got no gradient: {unchanged}"


def test_program_loss_is_refused_with_the_encoder():
    from jaxlua.train.config import TrainConfig

    with pytest.raises(ValueError, match="include_program_loss and program_encoder"):
        TrainConfig(program_encoder=True, include_program_loss=True)
