"""LanguageModel and Transformer through one interface: shapes, jit, finiteness, sizes, prefill/decode, build."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxlua.models import CELL_NAMES, MODEL_NAMES, LanguageModel, ModelConfig, Transformer, build

VOCAB = 13
# embed_dim != hidden_dim exercises the first block without residual; the shapes match tests/test_cells.py so
# eager parameter initialisers compile once per shape for the whole suite.
TINY = dict(vocab_size=VOCAB, embed_dim=3, hidden_dim=4, num_layers=1, num_heads=2, dropout=0.0, max_len=64)
GRID = [(cell, experts, attention) for cell in CELL_NAMES for experts in (0, 2, 4, 10) for attention in (False, True)]
GRID += [("transformer", experts, True) for experts in (0, 2, 4, 10)]


def cell_params(name: str, d: int, h: int) -> int:
    return {"rnn": d * h + h + h * h, "gru": 3 * (d * h + h) + 3 * h * h + 3 * h, "lstm": 4 * (d * h + h) + 4 * h * h,
            "mingru": 2 * (d * h + h), "minlstm": 3 * (d * h + h)}[name]


def expected_params(c: ModelConfig) -> int:
    """Parameter count written out from the architecture, independently of the modules."""
    h, v = c.hidden_dim, c.vocab_size
    moe = 2 * h + h * c.num_experts + c.num_experts + c.num_experts * (h * h + h) if c.num_experts else 0
    attn = 2 * h + (h * 3 * h + 3 * h) + (h * h + h)
    if c.cell == "transformer":
        mlp = moe - 2 * h if c.num_experts else (h * 4 * h + 4 * h) + (4 * h * h + h)
        return v * h + c.max_len * h + c.num_layers * (attn + 2 * h + mlp) + 2 * h
    total = v * c.embed_dim + 2 * h + h * v + v
    for i in range(c.num_layers):
        d = c.embed_dim if i == 0 else h
        total += 2 * d + cell_params(c.cell, d, h) + moe + (attn if c.attention else 0)
    return total


def count(model) -> int:
    return sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param)))


def run_forward(model, tokens, mask=None):
    graphdef, state = nnx.split(model)
    return jax.jit(lambda s, t, m: nnx.merge(graphdef, s)(t, m))(state, tokens, mask)


@pytest.mark.parametrize("cell,experts,attention", GRID)
def test_grid_shapes_and_sizes(cell, experts, attention):
    """Every model x experts x attention, traced under jit without running (cheap): shapes, dtypes, sizes.

    Running every combination is `test_long_sequences_stay_finite_full_grid` (slow); the default suite runs
    a covering subset in `test_covering_subset_runs_finite`.
    """
    config = ModelConfig(cell=cell, num_experts=experts, attention=attention, **TINY)
    model = nnx.eval_shape(lambda: build(config, nnx.Rngs(0)))
    assert isinstance(model, Transformer if cell == "transformer" else LanguageModel)
    assert count(model) == expected_params(config)
    graphdef, state = nnx.split(model)
    tokens = jax.ShapeDtypeStruct((2, 32), jnp.int32)
    mask = jax.ShapeDtypeStruct((2, 32), jnp.bool_)
    logits, aux = jax.eval_shape(jax.jit(lambda s, t, m: nnx.merge(graphdef, s)(t, m)), state, tokens, mask)
    assert logits.shape == (2, 32, VOCAB) and logits.dtype == jnp.float32 and aux.shape == ()


# Together with the long-sequence and decode tests below (every model with 2 experts, with and without
# attention), every expert count and attention setting runs at least once in the default suite.
COVERING = [("rnn", 0, False), ("gru", 4, False), ("minlstm", 10, True)]


@pytest.mark.parametrize("cell,experts,attention", COVERING)
def test_covering_subset_runs_finite(cell, experts, attention):
    model = build(ModelConfig(cell=cell, num_experts=experts, attention=attention, **TINY), nnx.Rngs(0))
    tokens = jnp.asarray(np.random.default_rng(1).integers(0, VOCAB, (2, 32)), jnp.int32)
    mask = jnp.arange(32)[None] < jnp.array([[32], [20]])
    logits, aux = run_forward(model, tokens, mask)
    assert logits.shape == (2, 32, VOCAB)
    assert bool(jnp.all(jnp.isfinite(logits))) and bool(jnp.isfinite(aux))
    assert float(aux) == 0.0  # dense MoE (top_k = 0) has no load-balancing loss
    lengths = jnp.array([32, 20])
    _, prefill_logits = nnx.jit(lambda m, t, n: m.prefill(t, n))(model, tokens, lengths)
    assert prefill_logits.shape == (2, VOCAB) and prefill_logits.dtype == jnp.float32
    # prefill gives __call__'s logits at each row's last valid position
    np.testing.assert_allclose(prefill_logits, logits[jnp.arange(2), lengths - 1], atol=1e-5, rtol=1e-5)


def long_case(cell, experts, attention, dtype):
    config = ModelConfig(cell=cell, num_experts=experts, attention=attention, dtype=dtype,
                         **{**TINY, "max_len": 4096})
    tokens = jnp.asarray(np.random.default_rng(2).integers(0, VOCAB, (1, 4096)), jnp.int32)
    logits, aux = run_forward(build(config, nnx.Rngs(0)), tokens)
    assert logits.shape == (1, 4096, VOCAB) and logits.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(logits))) and bool(jnp.isfinite(aux))


@pytest.mark.parametrize("cell", MODEL_NAMES)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_long_sequences_stay_finite(cell, dtype):
    long_case(cell, 2, cell == "transformer", dtype)


@pytest.mark.slow
@pytest.mark.parametrize("cell,experts,attention", GRID)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_long_sequences_stay_finite_full_grid(cell, experts, attention, dtype):
    long_case(cell, experts, attention, dtype)


def assert_decode_matches_forward(model, tokens=None, lengths=(5, 2, 7)) -> None:
    """prefill + 4 greedy decode_steps on 3 prompts `tokens [3, 8]` (default: random tokens) of `lengths` == the
    full forward on the extended rows."""
    model.eval()
    graphdef, params = nnx.split(model)
    lengths = jnp.asarray(lengths)
    if tokens is None:  # pads past each row's length are random tokens: they must not leak into the state
        tokens = np.random.default_rng(4).integers(1, VOCAB, (3, 8))
    tokens = jnp.asarray(tokens, jnp.int32)

    prefill = jax.jit(lambda p, t, n: nnx.merge(graphdef, p).prefill(t, n))
    decode = jax.jit(lambda p, s, t: nnx.merge(graphdef, p).decode_step(s, t))
    rows = jnp.arange(3)
    extended = jnp.zeros((3, 16), jnp.int32).at[:, :8].set(tokens)
    state, logits = prefill(params, extended, lengths)
    step_logits = [logits]
    for i in range(4):
        token = jnp.argmax(logits, axis=-1).astype(jnp.int32)
        extended = extended.at[rows, lengths + i].set(token)
        logits, state = decode(params, state, token)
        step_logits.append(logits)
    # The full forward over the extended rows.
    full, _ = run_forward(model, extended, jnp.arange(16)[None] < (lengths + 4)[:, None])
    for i, got in enumerate(step_logits):
        np.testing.assert_allclose(got, full[rows, lengths - 1 + i], atol=1e-4, rtol=1e-4)
    np.testing.assert_array_equal(state["pos"], lengths + 4)


DECODE_CASES = [(cell, True) for cell in MODEL_NAMES] + [("mingru", False)]


@pytest.mark.parametrize("cell,attention", DECODE_CASES)
def test_greedy_decode_matches_full_forward(cell, attention):
    """prefill + decode_step on rows of different lengths == the full forward on the extended rows."""
    config = ModelConfig(cell=cell, num_experts=2, moe_top_k=1, attention=attention,
                         **{**TINY, "num_layers": 2, "max_len": 16})
    model = build(config, nnx.Rngs(3))
    assert_decode_matches_forward(model)


def test_dropout_follows_train_and_eval():
    model = build(ModelConfig(cell="mingru", **{**TINY, "dropout": 0.5}), nnx.Rngs(0))
    tokens = jnp.ones((2, 5), jnp.int32)
    forward = nnx.jit(lambda m, t: m(t)[0])
    model.train()
    assert not np.allclose(forward(model, tokens), forward(model, tokens))
    model.eval()
    np.testing.assert_array_equal(forward(model, tokens), forward(model, tokens))


def test_paper_preset_shape():
    config = ModelConfig.paper(vocab_size=100)
    assert (config.num_layers, config.embed_dim, config.hidden_dim, config.dropout) == (1, 500, 900, 0.5)
    config = dataclasses.replace(config, cell="lstm")
    model = nnx.eval_shape(lambda: build(config, nnx.Rngs(0)))
    assert len(model.blocks) == 1 and count(model) == expected_params(config)


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown cell 'tcn'"):
        ModelConfig(vocab_size=5, cell="tcn")
    with pytest.raises(ValueError, match="divisible by num_heads"):
        ModelConfig(vocab_size=5, hidden_dim=10, num_heads=4, attention=True)
    with pytest.raises(ValueError, match="moe_top_k"):
        ModelConfig(vocab_size=5, num_experts=2, moe_top_k=3)
    with pytest.raises(ValueError, match="unknown dtype"):
        ModelConfig(vocab_size=5, dtype="float16")
    with pytest.raises(TypeError, match="ModelConfig"):
        build({"cell": "gru"}, nnx.Rngs(0))
    model = build(ModelConfig(cell="transformer", **TINY), nnx.Rngs(0))
    with pytest.raises(ValueError, match="exceeds max_len"):
        model(jnp.zeros((1, 65), jnp.int32))
    with pytest.raises(TypeError, match="integer ids"):
        model(jnp.zeros((1, 4), jnp.float32))
