"""HBM traffic of the fused Pallas scans, for the benchmark's achieved bandwidth (bytes moved / time).

Per element of ``[B, T, D]``, with ``s`` the bytes of the input dtype, ``n`` the number of ``[B, T, D]``
inputs (2 for linear and MinGRU, 3 for MinLSTM) and ``m`` the inputs that ``a`` depends on (1 for linear
and MinGRU, 2 for MinLSTM):

    forward,  single pass:  (n + 1) s          read the inputs, write h
    forward,  chunked:      (2n + 1) s         pass 1 reads the inputs once more
    backward, single pass:  (2n + 2) s         read inputs, h and dh; write n input gradients
    backward, chunked:      (2n + m + 3) s     pass 1 reads the decay inputs and dh once more

plus fp32 per-chunk terms on ``[B, n_chunks, D]`` (initial states, summaries, carries) and, with a step
mask, 4 bytes per ``(b, t)`` for each kernel that walks the sequence (every program of a row re-reads its
row's mask; counted once per kernel, as the cache serves the repeats). E.g. the linear scan moves 3 s bytes
per element forward and 9 s for forward+backward in the single-pass form.
"""

from __future__ import annotations

import jax.numpy as jnp

from kernels.gates import GATES
from kernels.pallas_kernels import DEFAULT_BLOCK_D, MASK_DTYPE, make_plan


def bytes_moved(
    B: int, T: int, D: int, dtype, backward: bool, *,
    cell: str = "linear", block_d: int = DEFAULT_BLOCK_D, chunk: int | None = None, masked: bool = False,
) -> int:
    """HBM bytes the kernels read + write for one call (``backward=True``: forward plus backward).

    Counts the Pallas kernels of the plan ``chunk`` selects (as in the scans); the XLA combine over
    the ``[B, n_chunks, D]`` summaries between the passes is not counted.
    """
    if cell not in GATES:
        raise ValueError(f"unknown cell {cell!r}; expected one of {sorted(GATES)}")
    spec = GATES[cell]
    n, m = spec.num_inputs, spec.num_decay_inputs
    plan = make_plan((B, T, D), block_d=block_d, chunk=chunk, interpret=True, num_warps=None,
                     num_stages=None, unroll=1)
    s, elems = jnp.dtype(dtype).itemsize, B * T * D
    chunk_vec = 4 * B * plan.num_chunks * D  # one fp32 [B, n_chunks, D] array
    step_mask = jnp.dtype(MASK_DTYPE).itemsize * B * T if masked else 0
    chunked = plan.num_chunks > 1
    total = elems * s * (n + 1) + chunk_vec + step_mask  # forward: inputs + starts in, h out
    if chunked:
        total += elems * s * n + 2 * chunk_vec + step_mask  # forward summaries
    if backward:
        total += elems * s * (2 * n + 2) + 3 * chunk_vec + step_mask  # inputs, h, dh, starts, carries
        if chunked:
            total += elems * s * (m + 1) + 2 * chunk_vec + step_mask  # backward summaries
    return int(total)
