"""Blocks of parts: a new part is one class and one registration, typed caches from `init_cache`, prefill and
decoding as one call (a prompt fed in two calls equals one), patterns, and the Transformer as a layout."""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxlua.models import PARTS, Branch, Context, DecodeState, LanguageModel, ModelConfig, Part, Transformer, build
from jaxlua.models.attention import KVCache
from jaxlua.models.cell_part import CellCache
from jaxlua.models.language_model import SEP_ID
from jaxlua.models.recall import RecallMemory
from tests.models.test_language_model import assert_decode_matches_forward, run_forward

VOCAB = 13
BOS = 1
SMALL = dict(vocab_size=VOCAB, embed_dim=8, hidden_dim=16, num_layers=2, num_heads=2, dropout=0.0, max_len=32)
EVERYTHING = dict(conv_width=3, mlp_ratio=2, attention=True, num_experts=2, moe_top_k=1, program_encoder=True,
                  recall_dim=32)


class MeanCache(NamedTuple):
    total: jax.Array  # float32 [B, dim]: the sum of the real inputs so far
    count: jax.Array  # float32 [B]: their number


class RunningMean(Part):
    """A test-only part with a cache: `y_t = W mean(x_0..x_t)` over the real positions."""

    def __init__(self, config, dim, *, rngs):
        self.dim = dim
        self.proj = nnx.Linear(dim, config.hidden_dim, rngs=rngs)

    def init_cache(self, batch, max_len, dtype):
        return MeanCache(jnp.zeros((batch, self.dim), jnp.float32), jnp.zeros((batch,), jnp.float32))

    def __call__(self, x, ctx, cache=None):
        real = jnp.ones(x.shape[:2], jnp.float32) if ctx.mask is None else ctx.mask.astype(jnp.float32)
        total, count = jnp.cumsum(x * real[..., None], axis=1), jnp.cumsum(real, axis=1)
        if cache is not None:
            total, count = total + cache.total[:, None], count + cache.count[:, None]
            cache = MeanCache(cache.total + jnp.sum(x * real[..., None], axis=1), cache.count + real.sum(axis=1))
        return self.proj(total / jnp.maximum(count, 1.0)[..., None]), cache, jnp.zeros((), jnp.float32)


def test_a_new_part_is_one_class_and_one_registration():
    PARTS.register("running_mean", RunningMean, "A test part.")
    try:
        config = ModelConfig(cell="gru", **SMALL)
        pattern = (*LanguageModel.layout_for(config).pattern, Branch("running_mean"))
        model = LanguageModel(config, rngs=nnx.Rngs(0), pattern=pattern)
        assert [b.kind for b in model.blocks[0].branches] == ["cell", "running_mean"]
        assert isinstance(model.blocks[1].running_mean, RunningMean)
        assert isinstance(model.init_cache(2).caches[0][1], MeanCache)
        tokens = jnp.asarray(np.random.default_rng(0).integers(1, VOCAB, (2, 8)), jnp.int32)
        plain = build(config, nnx.Rngs(0))
        assert not np.allclose(run_forward(model, tokens)[0], run_forward(plain, tokens)[0])  # the part is used
        assert_decode_matches_forward(model)
    finally:
        PARTS.unregister("running_mean")
    with pytest.raises(ValueError, match="unknown block part 'running_mean'"):
        Branch("running_mean")


def test_patterns_follow_the_config():
    kinds = lambda model: [b.kind for b in model.blocks[0].branches]
    assert kinds(build(ModelConfig(cell="mingru", **SMALL), nnx.Rngs(0))) == ["cell"]
    everything = build(ModelConfig(cell="mingru", **SMALL, **EVERYTHING), nnx.Rngs(0))
    assert kinds(everything) == ["cell", "moe", "attention", "recall", "gated_mlp"]
    assert [b.name for b in everything.blocks[0].branches] == ["cell", "moe", "attn", "recall", "mlp"]
    assert [b.norm for b in everything.blocks[0].branches] == ["norm", "moe_norm", "attn_norm", "recall_norm",
                                                                "mlp_norm"]
    transformer = build(ModelConfig(cell="transformer", **SMALL), nnx.Rngs(0))
    assert isinstance(transformer, Transformer) and isinstance(transformer, LanguageModel)
    assert kinds(transformer) == ["attention", "mlp"]
    assert transformer.layout.learned_positions and transformer.layout.tied_head
    assert not hasattr(transformer, "head")  # the head is the token embedding
    moe = build(ModelConfig(cell="transformer", num_experts=2, **SMALL), nnx.Rngs(0))
    assert kinds(moe) == ["attention", "moe"]


def test_init_cache_gives_each_part_its_typed_cache():
    config = ModelConfig(cell="lstm", **SMALL, **EVERYTHING)
    model = build(config, nnx.Rngs(0))
    state = model.init_cache(3)
    assert isinstance(state, DecodeState) and not state.started
    np.testing.assert_array_equal(state["pos"], [0, 0, 0])
    cell, moe, attn, recall, mlp = state.caches[0]
    assert isinstance(cell, CellCache) and isinstance(attn, KVCache) and isinstance(recall, RecallMemory)
    assert moe is None and mlp is None  # stateless parts keep nothing
    h, c = cell.state  # the LSTM's (h, c), float32 zeros
    assert h.shape == c.shape == (3, 16) and h.dtype == jnp.float32 and not np.any(h)
    assert cell.window.shape == (3, 2, 8)  # conv_width - 1 inputs of the first block's embedding width
    assert state.caches[1][0].window.shape == (3, 2, 16)
    assert attn.keys.shape == attn.values.shape == (3, 32, 2, 8)  # max_len positions, 2 heads of 8
    assert recall.keys.shape == (3, 0, 1, 32) and recall.program.shape == (3, 0)  # empty until the prompt

    model.eval()
    tokens = jnp.asarray([[BOS, 5, 6, SEP_ID, 0, 0], [BOS, 7, SEP_ID, 0, 0, 0], [BOS, 5, 5, 5, SEP_ID, 0]],
                         jnp.int32)
    lengths = jnp.array([4, 3, 5])
    prefilled, _ = nnx.jit(lambda m, t, n: m.prefill(t, n))(model, tokens, lengths)
    assert prefilled.started
    np.testing.assert_array_equal(prefilled["pos"], lengths)
    memory = prefilled.caches[0][3]
    assert memory.keys.shape == (3, 6, 1, 32)  # the prompt's positions
    np.testing.assert_array_equal(memory.program, np.arange(6) < (lengths - 1)[:, None])  # before each SEP
    _, stepped = nnx.jit(lambda m, s, t: m.decode_step(s, t))(model, prefilled, jnp.array([4, 4, 4], jnp.int32))
    # A decoding step keeps the state's structure and shapes (as a while_loop carry needs).
    assert jax.tree.structure(stepped) == jax.tree.structure(prefilled)
    assert jax.tree.map(jnp.shape, stepped) == jax.tree.map(jnp.shape, prefilled)


@pytest.mark.parametrize("cell,extras", [("lstm", EVERYTHING), ("mingru", dict(conv_width=4, attention=True)),
                                         ("transformer", {})])
def test_a_prompt_and_outputs_fed_in_chunks_equal_the_full_forward(cell, extras):
    """`extend` on the prompt, then on 3 output tokens at once (padded rows), then one decode step: every
    chunk's logits equal the full forward's at the same positions."""
    model = build(ModelConfig(cell=cell, **SMALL, **extras), nnx.Rngs(2))
    model.eval()
    rng = np.random.default_rng(5)
    prompt_lengths = np.array([5, 3, 7])
    prompts = rng.integers(3, VOCAB, (3, 8))
    for row, n in enumerate(prompt_lengths):
        prompts[row, 0], prompts[row, n - 1] = BOS, SEP_ID
    chunk = rng.integers(3, VOCAB, (3, 3))
    chunk_lengths = np.array([3, 1, 2])
    last = rng.integers(3, VOCAB, (3,))
    full = np.zeros((3, 16), np.int64)
    for row in range(3):
        n, m = prompt_lengths[row], chunk_lengths[row]
        full[row, :n] = prompts[row, :n]
        full[row, n:n + m] = chunk[row, :m]
        full[row, n + m] = last[row]
    total = prompt_lengths + chunk_lengths + 1
    expected, _ = run_forward(model, jnp.asarray(full, jnp.int32), jnp.arange(16)[None] < total[:, None])

    extend = nnx.jit(lambda m, s, t, n: m.extend(s, t, n))
    state, x = extend(model, model.init_cache(3), jnp.asarray(prompts, jnp.int32), jnp.asarray(prompt_lengths))
    rows = np.arange(3)
    np.testing.assert_allclose(model.logits(x)[rows, prompt_lengths - 1], expected[rows, prompt_lengths - 1],
                               atol=1e-4, rtol=1e-4)
    state, x = extend(model, state, jnp.asarray(chunk, jnp.int32), jnp.asarray(chunk_lengths))
    np.testing.assert_array_equal(state["pos"], prompt_lengths + chunk_lengths)
    got = model.logits(x)
    for row in range(3):
        for i in range(chunk_lengths[row]):
            np.testing.assert_allclose(got[row, i], expected[row, prompt_lengths[row] + i], atol=1e-4, rtol=1e-4)
    logits, state = nnx.jit(lambda m, s, t: m.decode_step(s, t))(model, state, jnp.asarray(last, jnp.int32))
    np.testing.assert_allclose(logits, expected[rows, total - 1], atol=1e-4, rtol=1e-4)


def test_context_outputs_and_lengths():
    program = jnp.array([[True, True, False, False], [True, False, False, False]])
    mask = jnp.array([[True, True, True, False], [True, True, True, True]])
    ctx = Context(mask, program, jnp.arange(4)[None])
    np.testing.assert_array_equal(ctx.outputs, [[False, False, True, False], [False, True, True, True]])
    np.testing.assert_array_equal(ctx.lengths, [3, 4])
    unmasked = Context(None, program, jnp.arange(4)[None])
    np.testing.assert_array_equal(unmasked.outputs, ~program)
    np.testing.assert_array_equal(unmasked.lengths, [4, 4])
