"""Block parts: the one interface every part of a block implements, the context it reads, and the registry.

A block (jaxlua.models.block) is a sequence of residual branches `x + drop(part(norm(x)))`; a part is what a
branch computes. Every part is an `nnx.Module` built as `Part(config, dim, rngs=...)` (`dim` is its input width,
its output is `config.hidden_dim` wide) with two methods:

    part(x [B,T,dim], ctx, cache=None) -> (y [B,T,hidden], cache, aux)
    part.init_cache(batch, max_len, dtype) -> cache

`ctx` (`Context`) says which positions are real, which hold the program and where they are, so no part needs an
argument of its own. Without a cache (training, scoring) a part does no cache work and returns `None`. With one it
continues from it for any number of new tokens and returns the cache after them: prefill is the call on the prompt
from `init_cache`, a decoding step is the same call on one token. Each stateful part has its own typed cache (a
NamedTuple: the cell state and convolution window, the attention keys and values, the recall memory); a stateless
part's cache is `None`. `aux` is a scalar loss the trainer adds (the MoE load-balancing loss; zero elsewhere).

`PARTS` names every part a pattern may use. Adding one is a class in its own module and one `PARTS.register`
line here; a model's pattern (`LanguageModel.layout_for`) then places it in its blocks.
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from jaxlua.registry import Registry

PARTS = Registry("block part")
PARTS.register("cell", "jaxlua.models.cell_part:CellPart",
               "The recurrent cell (after the optional causal convolution and program encoder).")
PARTS.register("moe", "jaxlua.models.moe:MoEPart", "Mixture of experts over the feature axis.")
PARTS.register("attention", "jaxlua.models.attention:AttentionPart", "Causal multi-head self-attention.")
PARTS.register("recall", "jaxlua.models.recall:RecallPart", "Cross-attention from the outputs to the program.")
PARTS.register("gated_mlp", "jaxlua.models.block_parts:GatedMLPPart", "GeGLU feed-forward layer.")
PARTS.register("mlp", "jaxlua.models.transformer:MLP", "dim -> 4 dim -> GELU -> dim feed-forward layer.")


class Context(NamedTuple):
    """What every part of one model call sees beside its input.

    `continues` is static: True when the call extends a cache that already holds the prompt (decoding). The
    prompt holds the whole program up to its SEP (`BOS program SEP`), so such a call has no program positions.
    """

    mask: jax.Array | None  # bool[B,T], False at padding (None: every position is real)
    program: jax.Array  # bool[B,T], the positions before the first SEP (inside the mask)
    positions: jax.Array  # int32[B or 1, T], each token's position in its row
    continues: bool = False

    @property
    def outputs(self) -> jax.Array:
        """bool[B,T]: the real positions that are not program positions (the first SEP and everything after)."""
        return ~self.program if self.mask is None else self.mask & ~self.program

    @property
    def lengths(self) -> jax.Array:
        """int32[B]: the real positions of each row (the mask is a prefix of each row)."""
        if self.mask is None:
            return jnp.full(self.program.shape[:1], self.program.shape[1], jnp.int32)
        return jnp.sum(self.mask, axis=1, dtype=jnp.int32)


def no_aux() -> jax.Array:
    """The aux loss of a part that has none."""
    return jnp.zeros((), jnp.float32)


class Part(nnx.Module):
    """Base of every block part (see the module docstring); a stateless part only defines `__call__`."""

    def __call__(self, x: jax.Array, ctx: Context, cache: Any = None) -> tuple[jax.Array, Any, jax.Array]:
        raise NotImplementedError

    def init_cache(self, batch: int, max_len: int, dtype: Any) -> Any:
        """The cache before any token; `None` for a part that keeps nothing between calls."""
        del batch, max_len, dtype
        return None


@dataclasses.dataclass(frozen=True)
class Branch:
    """One residual branch of a block: the registered part `kind`, stored as attribute `name` behind the
    LayerNorm `norm` (default: `kind` and `"<name>_norm"`)."""

    kind: str
    name: str = ""
    norm: str = ""

    def __post_init__(self) -> None:
        PARTS.check(self.kind)
        if not self.name:
            object.__setattr__(self, "name", self.kind)
        if not self.norm:
            object.__setattr__(self, "norm", f"{self.name}_norm")
