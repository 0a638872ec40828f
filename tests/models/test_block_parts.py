"""The optional parts of a recurrent block: causal convolution and gated MLP (shapes, causality, decode parity)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxlua.models import ModelConfig, build
from jaxlua.models.block_parts import CausalConv, GatedMLP
from tests.models.test_language_model import assert_decode_matches_forward

VOCAB = 13
TINY = dict(vocab_size=VOCAB, embed_dim=3, hidden_dim=4, num_heads=2, dropout=0.0, max_len=16, num_layers=2)


def test_conv_starts_as_identity_and_is_causal():
    conv = CausalConv(5, 3, rngs=nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 7, 5)), jnp.float32)
    np.testing.assert_allclose(conv(x), x, atol=1e-6)
    conv.kernel.set_value(jnp.asarray(np.random.default_rng(1).normal(size=(3, 5)), jnp.float32))
    y = conv(x)
    bumped = conv(x.at[:, 4].add(1.0))
    np.testing.assert_allclose(bumped[:, :4], y[:, :4], atol=1e-6)  # the past does not see the future
    assert not np.allclose(bumped[:, 4:7], y[:, 4:7])  # positions 4..6 read input 4 (width 3)
    manual = sum(conv.kernel.get_value()[j] * jnp.pad(x, ((0, 0), (2, 0), (0, 0)))[:, j:j + 7] for j in range(3))
    np.testing.assert_allclose(y, manual, atol=1e-5)


def test_conv_step_matches_full_sequence():
    conv = CausalConv(4, 4, rngs=nnx.Rngs(0))
    conv.kernel.set_value(jnp.asarray(np.random.default_rng(2).normal(size=(4, 4)), jnp.float32))
    x = jnp.asarray(np.random.default_rng(3).normal(size=(3, 9, 4)), jnp.float32)
    full = conv(x)
    lengths = jnp.array([2, 5, 0])
    state = conv.state_after(x, lengths)
    for row, n in enumerate([2, 5, 0]):
        s = conv.init_state(1)
        for t in range(n):
            s, _ = conv.step(s, x[row:row + 1, t])
        np.testing.assert_allclose(state[row:row + 1], s, atol=1e-6)
    s = conv.init_state(3)
    for t in range(9):
        s, y = conv.step(s, x[:, t])
        np.testing.assert_allclose(y, full[:, t], atol=1e-5)


def test_conv_width_one_is_refused():
    with pytest.raises(ValueError, match="conv_width"):
        ModelConfig(**TINY, conv_width=1)


def test_gated_mlp_parameter_count():
    mlp = GatedMLP(4, 3, rngs=nnx.Rngs(0))
    assert mlp(jnp.ones((2, 5, 4))).shape == (2, 5, 4)
    count = sum(p.size for p in jax.tree.leaves(nnx.state(mlp, nnx.Param)))
    assert count == 2 * (4 * 12 + 12) + (12 * 4 + 4)


@pytest.mark.parametrize("cell,attention", [("mingru", False), ("gru", True), ("minlstm", False)])
def test_decode_matches_full_forward_with_conv_and_mlp(cell, attention):
    """prefill + decode_step == the full forward, with the convolution's state carried across the boundary."""
    model = build(ModelConfig(cell=cell, attention=attention, conv_width=3, mlp_ratio=2, **TINY), nnx.Rngs(3))
    for block in model.blocks:  # a non-identity kernel, so the carried conv state matters
        shape = block.cell.conv.kernel.get_value().shape
        block.cell.conv.kernel.set_value(jnp.asarray(np.random.default_rng(5).normal(size=shape), jnp.float32))
    assert_decode_matches_forward(model)


def test_parts_off_leave_the_block_unchanged():
    plain = build(ModelConfig(cell="mingru", **TINY), nnx.Rngs(0))
    assert all(b.cell.conv is None and [br.kind for br in b.branches] == ["cell"] for b in plain.blocks)
    full = build(ModelConfig(cell="mingru", conv_width=4, mlp_ratio=2, **TINY), nnx.Rngs(0))
    extra = sum(p.size for p in jax.tree.leaves(nnx.state(full, nnx.Param))) - sum(
        p.size for p in jax.tree.leaves(nnx.state(plain, nnx.Param)))
    conv = (4 * 3 + 3) + (4 * 4 + 4)  # embed 3 then hidden 4
    mlp = 2 * (2 * 4 + 2 * (4 * 8 + 8) + (8 * 4 + 4))  # two blocks: norm + gate/up + down
    assert extra == conv + mlp
