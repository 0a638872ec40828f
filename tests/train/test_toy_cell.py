"""A sixth cell registered in a few lines trains through the path the CLI uses (flags -> config -> loop)."""
from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxlua.cli.flags import config_from_flags
from jaxlua.config import CELLS, TrainConfig
from jaxlua.train.checkpoint import load_for_inference
from jaxlua.train.loop import train
from tests.train.synthetic import VOCAB_SIZE, toy_dataset


class ToyCell(nnx.Module):
    """h_t = 0.5 h_{t-1} + tanh(W x_t): the cell interface in its smallest form."""

    def __init__(self, in_dim: int, hidden: int, *, dtype=jnp.float32, scan_method: str = "auto", rngs: nnx.Rngs):
        self.hidden = hidden
        self.proj = nnx.Linear(in_dim, hidden, dtype=dtype, rngs=rngs)

    def init_state(self, batch: int) -> jax.Array:
        return jnp.zeros((batch, self.hidden), jnp.float32)

    def step(self, h: jax.Array, x_t: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = 0.5 * h + jnp.tanh(self.proj(x_t)).astype(jnp.float32)
        return h, h.astype(x_t.dtype)

    def __call__(self, x: jax.Array, h0: jax.Array | None = None, mask: jax.Array | None = None):
        u = jnp.tanh(self.proj(x)).astype(jnp.float32)
        if mask is not None:
            u = jnp.where(mask[..., None], u, 0.0)
        h0 = self.init_state(x.shape[0]) if h0 is None else h0
        h_t, ys = jax.lax.scan(lambda h, u_t: (0.5 * h + u_t,) * 2, h0, jnp.swapaxes(u, 0, 1))
        return jnp.swapaxes(ys, 0, 1).astype(x.dtype), h_t


def test_registered_toy_cell_trains_one_step(tmp_path):
    CELLS.register("toy", ToyCell, "A test cell.")
    try:
        values = types.SimpleNamespace(**{name: None for name in TrainConfig().flat()})
        overrides = dict(cell="toy", embed_dim=8, hidden_dim=8, num_layers=1, batch_size=8, steps=1, max_len=24,
                         eval_interval=1, checkpoint_interval=1, log_interval=1, num_buckets=1,
                         stream=False, curriculum="none")
        for name, value in overrides.items():
            setattr(values, name, value)
        config = config_from_flags(values, "default")
        assert config.model.cell == "toy"
        data = toy_dataset(16, seed=0)
        result = train(config, tmp_path, data, data, vocab_size=VOCAB_SIZE, progress=False)
        assert result.history and np.isfinite(result.history[-1]["val_loss"])
        assert isinstance(result.model.blocks[0].cell.cell, ToyCell)
    finally:
        CELLS.unregister("toy")
    assert "toy" not in CELLS
