"""Program recall (`recall_dim`): the windowed queries equal the full [T, T] form, program positions and padding
are untouched, prefill + decode_step equal the full forward, it trains, shards and leaves old configs loadable."""
import json
import os
import pathlib
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxlua.config import TrainConfig, flag_fields
from jaxlua.models import ModelConfig, build
from jaxlua.models.language_model import SEP_ID, program_mask
from jaxlua.models.recall import ProgramRecall, query_windows
from tests.models.test_language_model import assert_decode_matches_forward

VOCAB = 13
BOS, SEP = 1, SEP_ID
# Wider than the other model tests' TINY: at hidden 4 the LayerNorms amplify float rounding past the parity tolerance.
SMALL = dict(vocab_size=VOCAB, embed_dim=8, hidden_dim=16, num_layers=2, num_heads=2, dropout=0.0, max_len=96,
             recall_dim=32)
REPO = pathlib.Path(__file__).resolve().parents[2]


def forward(model, tokens, mask=None):
    graphdef, state = nnx.split(model)
    return jax.jit(lambda s, t, m: nnx.merge(graphdef, s)(t, m)[0])(state, tokens, mask)


def rows(programs: list[int], outputs: list[int], width: int, seed: int = 0) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(tokens [B, width], lengths [B]): `BOS program SEP output` rows of the given sizes, random non-SEP padding."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(3, VOCAB, (len(programs), width))
    for row, (p, o) in enumerate(zip(programs, outputs)):
        tokens[row, 0], tokens[row, 1 + p] = BOS, SEP
    lengths = np.array([2 + p + o for p, o in zip(programs, outputs)])
    return jnp.asarray(tokens, jnp.int32), jnp.asarray(lengths, jnp.int32)


def test_query_windows_grow_by_four_and_end_at_the_width():
    assert query_windows(16) == (16,)
    assert query_windows(40) == (16, 40)
    assert query_windows(64) == (16, 64)
    assert query_windows(512) == (16, 64, 256, 512)


@pytest.mark.parametrize("span", [3, 16, 40, 70])
def test_the_chosen_window_equals_the_full_masked_form(span):
    """Spans 3 and 16 take the 16-query window, 40 the 64-query one, 70 the [T, T] form (T = 80)."""
    width = 80
    recall = ProgramRecall(16, 64, rngs=nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(1).normal(size=(3, width, 16)), jnp.float32)
    starts = jnp.array([5, 9, 2])  # each row's first SEP
    ends = starts + jnp.array([span, span // 2, 1])
    pos = jnp.arange(width)[None]
    program, outputs = pos < starts[:, None], (pos >= starts[:, None]) & (pos < ends[:, None])
    y, _ = jax.jit(recall)(x, program, outputs)
    full = recall._windowed(width, x, recall.memory(x, program), outputs)
    np.testing.assert_allclose(y, full, atol=1e-5, rtol=1e-5)
    assert not np.allclose(full, 0)
    np.testing.assert_array_equal(np.asarray(y)[~np.asarray(outputs)], 0)  # only the outputs are updated


def test_program_positions_are_unchanged_and_outputs_read_the_program():
    model = build(ModelConfig(cell="mingru", **SMALL), nnx.Rngs(0))
    tokens, lengths = rows([6, 9], [5, 3], 24)
    mask = jnp.arange(24)[None] < lengths[:, None]
    program = np.asarray(program_mask(tokens, mask))
    outputs = np.asarray(mask) & ~program
    base = forward(model, tokens, mask)
    # Other recall parameters: the program positions' logits do not move, the outputs' do.
    for block in model.blocks:
        kernel = block.recall.layer.out.kernel
        kernel.set_value(kernel.get_value() + 0.5)
    changed = forward(model, tokens, mask)
    np.testing.assert_allclose(np.asarray(changed)[program], np.asarray(base)[program], atol=1e-6, rtol=0)
    assert not np.allclose(np.asarray(changed)[outputs], np.asarray(base)[outputs])


def test_outputs_read_the_program_through_recall():
    """With every cell's input kernel zeroed (embed_dim == hidden_dim, so every block has a residual) an output
    position sees a program token only through recall: two programs then give different output logits with
    recall and equal ones without."""
    tokens, lengths = rows([6], [4], 16)
    other = tokens.at[0, 3].set(12 if int(tokens[0, 3]) != 12 else 11)
    sep, end = 7, int(lengths[0])
    for recall_dim in (0, 32):
        model = build(ModelConfig(cell="mingru", **{**SMALL, "embed_dim": 16, "recall_dim": recall_dim}), nnx.Rngs(0))
        for block in model.blocks:
            block.cell.cell.proj.kernel.set_value(jnp.zeros_like(block.cell.cell.proj.kernel.get_value()))
        a, b = forward(model, tokens)[0, sep:end], forward(model, other)[0, sep:end]
        assert np.allclose(a, b, atol=1e-6) != bool(recall_dim)


def test_padding_is_never_a_key():
    """Rows padded with random tokens (SEP among them, and a row with no SEP before its end) give the same
    logits at every valid position whatever the padding holds."""
    model = build(ModelConfig(cell="mingru", **SMALL), nnx.Rngs(1))
    tokens, lengths = rows([6, 4, 9], [5, 2, 0], 30)
    tokens = tokens.at[2, 10].set(5)  # row 2 holds no SEP before its end: all program, no queries
    lengths = lengths.at[2].set(11)
    mask = jnp.arange(30)[None] < lengths[:, None]
    base = np.asarray(forward(model, tokens, mask))
    noise = jnp.asarray(np.random.default_rng(7).integers(1, VOCAB, tokens.shape), jnp.int32)
    noise = noise.at[:, 20:].set(SEP)
    padded = jnp.where(mask, tokens, noise)
    got = np.asarray(forward(model, padded, mask))
    valid = np.asarray(mask)
    np.testing.assert_allclose(got[valid], base[valid], atol=1e-6, rtol=0)
    chex.assert_tree_all_finite(got)


@pytest.mark.parametrize("cell,extras", [
    ("mingru", {}),
    ("mingru", dict(conv_width=3, mlp_ratio=2, program_encoder=True, attention=True, num_experts=2, moe_top_k=1)),
    ("lstm", {}),
])
def test_prefill_and_decode_match_the_full_forward(cell, extras):
    """Prompts `BOS program SEP` (width 16: the [T, T] form) then 4 greedy tokens."""
    model = build(ModelConfig(cell=cell, **SMALL, **extras), nnx.Rngs(3))
    tokens, lengths = rows([3, 1, 5], [0, 0, 0], 8, seed=4)
    assert_decode_matches_forward(model, tokens, tuple(int(n) for n in lengths))


def test_prefill_on_a_wide_prompt_matches_the_full_forward():
    """A prompt padded to 64 takes the 16-query window in prefill; the forward at width 16 the [T, T] form."""
    model = build(ModelConfig(cell="mingru", **{**SMALL, "conv_width": 2}), nnx.Rngs(5))
    model.eval()
    tokens, lengths = rows([9, 4], [0, 0], 64, seed=2)
    graphdef, state = nnx.split(model)
    prefill = jax.jit(lambda s, t, n: nnx.merge(graphdef, s).prefill(t, n))
    decode = jax.jit(lambda s, c, t: nnx.merge(graphdef, s).decode_step(c, t))
    cache, logits = prefill(state, tokens, lengths)
    extended = tokens
    got = [logits]
    for i in range(3):
        token = jnp.array([6, 7], jnp.int32)
        extended = extended.at[jnp.arange(2), lengths + i].set(token)
        logits, cache = decode(state, cache, token)
        got.append(logits)
    full = forward(model, extended[:, :16], jnp.arange(16)[None] < (lengths + 3)[:, None])
    for i, logits in enumerate(got):
        np.testing.assert_allclose(logits, full[jnp.arange(2), lengths - 1 + i], atol=1e-4, rtol=1e-4)


def test_bfloat16_runs_finite_and_close_to_float32():
    tokens, lengths = rows([20, 7], [30, 4], 64, seed=3)
    mask = jnp.arange(64)[None] < lengths[:, None]
    logits = {}
    for dtype in ("float32", "bfloat16"):
        model = build(ModelConfig(cell="mingru", dtype=dtype, **SMALL), nnx.Rngs(0))
        logits[dtype] = forward(model, tokens, mask)
        assert logits[dtype].dtype == jnp.float32
        chex.assert_tree_all_finite(logits[dtype])
        _, last = nnx.jit(lambda m, t, n: m.prefill(t, n))(model, tokens, lengths)
        np.testing.assert_allclose(last, logits[dtype][jnp.arange(2), lengths - 1], atol=5e-2 if dtype == "bfloat16"
                                   else 1e-5, rtol=5e-2 if dtype == "bfloat16" else 1e-5)
    np.testing.assert_allclose(logits["bfloat16"], logits["float32"], atol=0.1, rtol=0.1)


def test_a_train_step_trains_every_recall_parameter():
    from jaxlua.train.batching import Arrays, make_batch
    from jaxlua.train.model_state import build_model, initial_train_state
    from jaxlua.train.optimizer import make_optimizer
    from jaxlua.train.step import make_train_step
    from tests.train.synthetic import VOCAB_SIZE, toy_dataset

    # No weight decay: a parameter moves only if its gradient is nonzero.
    config = TrainConfig(cell="mingru", embed_dim=8, hidden_dim=16, num_layers=2, recall_dim=32, steps=10,
                         warmup_steps=0, lr=1e-2, weight_decay=0.0, max_len=24)
    state, graphs = initial_train_state(build_model(config, VOCAB_SIZE), config)
    before = jax.tree.map(np.asarray, state.params)
    step = make_train_step(graphs.train_def, make_optimizer(config), config, loss_window=8)
    batch = make_batch(Arrays.from_encoded(toy_dataset(8, seed=0)), np.arange(8), 24)
    state, metrics = step(state, batch, jax.random.key(0))
    assert np.isfinite(float(metrics["loss"])) and int(state.step) == 1
    paths = jax.tree_util.tree_leaves_with_path(before)
    recall = [(jax.tree_util.keystr(p), old, new) for (p, old), new in zip(paths, jax.tree.leaves(state.params))
              if "recall" in jax.tree_util.keystr(p)]
    # Per block: the norm's scale and bias, the query's and the output's kernel and bias, the key-value kernel.
    assert len(recall) == 2 * 7
    unchanged = [name for name, old, new in recall if np.array_equal(old, np.asarray(new))]
    assert not unchanged, f"recall parameters got no gradient: {unchanged}"


def test_sharded_step_equals_unsharded_step():
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    done = subprocess.run([sys.executable, "-m", "tests.models.recall_sharded"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["devices"] == 2 and result["batch_devices"] == [1, 2]
    assert result["max_param_diff"] < 1e-5, result
    assert abs(result["loss"][0] - result["loss"][1]) < 1e-5


def test_config_field_flag_and_old_configs():
    assert ModelConfig().recall_dim == 0
    assert "recall_dim" in dict(flag_fields())
    with pytest.raises(ValueError, match="multiple of 32"):
        ModelConfig(recall_dim=48)
    with pytest.raises(ValueError, match="recall_dim needs a recurrent cell"):
        ModelConfig(cell="transformer", recall_dim=32)
    # A config.json written before the field existed still loads, with recall off.
    saved = TrainConfig().to_dict()
    del saved["model"]["recall_dim"]
    assert TrainConfig.from_dict(json.loads(json.dumps(saved))).model.recall_dim == 0
    flat = TrainConfig().flat()
    del flat["recall_dim"]
    assert TrainConfig.from_dict(flat).model.recall_dim == 0
    # Off, the model has no recall parameters (so the checkpoints of such runs keep their structure).
    model = nnx.eval_shape(lambda: build(ModelConfig(vocab_size=VOCAB), nnx.Rngs(0)))
    names = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(nnx.state(model, nnx.Param))]
    assert not [n for n in names if "recall" in n]
