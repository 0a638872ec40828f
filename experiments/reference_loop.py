"""A minimal, independently written training loop, to check that jaxlua's own pipeline holds nothing back.

It trains the default architecture (embedding -> MinGRU blocks, pre-norm, residual where the widths match ->
LayerNorm -> head) on the very arrays `experiments.train` encodes, but with none of the loop's machinery: its
own MinGRU (a plain `lax.scan` in linear space), `nnx.Dropout`, plain `optax.adamw` with warmup-cosine, uniformly
sampled batches padded to one width (no bucketing), the head on every position (no output window). Every
`--eval_every` steps it records the validation loss and the teacher-forced exact match (every output token the
argmax), the same quantities `experiments.train` logs as `val_loss` / `val_exact_match`, so the two learning
curves can be laid side by side:

    python -m experiments.reference_loop --data_dir DIR --steps 1500 --out results/reference_loop.json
"""
from __future__ import annotations

import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags
from flax import nnx

from jaxlua.data.splits import load_split
from jaxlua.tokenize import Tokenizer, Vocabulary, encode_dataset

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Dataset directory (train/val jsonl), as for experiments.train.")
flags.DEFINE_integer("steps", 1500, "Training steps.")
flags.DEFINE_integer("batch_size", 32, "Programs per step.")
flags.DEFINE_float("lr", 3e-3, "Peak learning rate (warmup min(100, steps/10) steps, cosine to 5%).")
flags.DEFINE_integer("embed_dim", 128, "Embedding width.")
flags.DEFINE_integer("hidden_dim", 256, "MinGRU width.")
flags.DEFINE_integer("num_layers", 2, "MinGRU blocks.")
flags.DEFINE_float("dropout", 0.1, "Dropout rate.")
flags.DEFINE_float("label_smoothing", 0.1, "Label smoothing of the training loss.")
flags.DEFINE_integer("max_len", 512, "Longest encoded sequence kept.")
flags.DEFINE_integer("eval_every", 100, "Validation interval in steps.")
flags.DEFINE_integer("val_examples", 256, "Validation programs scored at each evaluation.")
flags.DEFINE_integer("seed", 0, "Seed of parameters, batches and dropout.")
flags.DEFINE_string("out", None, "Where to write the learning curve as JSON (refuses to overwrite).")


class MinGRULayer(nnx.Module):
    """h_t = (1 - z_t) h_{t-1} + z_t g(c_t), z = sigmoid(W_z x), c = W_c x, g(c) = c + 0.5 (c >= 0) else sigmoid(c)."""

    def __init__(self, d_in: int, d_hidden: int, rngs: nnx.Rngs) -> None:
        self.gate = nnx.Linear(d_in, d_hidden, rngs=rngs)
        self.cand = nnx.Linear(d_in, d_hidden, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        z = jax.nn.sigmoid(self.gate(x))
        c = self.cand(x)
        g = jnp.where(c >= 0, c + 0.5, jax.nn.sigmoid(c))

        def step(h, inputs):
            z_t, g_t = inputs
            h = (1.0 - z_t) * h + z_t * g_t
            return h, h

        h0 = jnp.zeros((x.shape[0], z.shape[-1]), x.dtype)
        _, hs = jax.lax.scan(step, h0, (z.swapaxes(0, 1), g.swapaxes(0, 1)))
        return hs.swapaxes(0, 1)


class ReferenceModel(nnx.Module):
    """Embedding, MinGRU blocks (pre-norm; residual when widths match), final LayerNorm and head."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int, dropout: float, rngs: nnx.Rngs) -> None:
        self.embed = nnx.Embed(vocab, embed, rngs=rngs)
        widths = [embed] + [hidden] * (layers - 1)
        self.norms = nnx.List([nnx.LayerNorm(w, rngs=rngs) for w in widths])
        self.cells = nnx.List([MinGRULayer(w, hidden, rngs) for w in widths])
        self.drop = nnx.Dropout(dropout, rngs=rngs)
        self.norm = nnx.LayerNorm(hidden, rngs=rngs)
        self.head = nnx.Linear(hidden, vocab, rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        x = self.drop(self.embed(tokens))
        for norm, cell in zip(self.norms, self.cells):
            y = self.drop(cell(norm(x)))
            x = x + y if y.shape == x.shape else y
        return self.head(self.norm(x))


def targets_and_mask(tokens: jax.Array, lengths: jax.Array, output_start: jax.Array):
    """Next-token targets and the mask of output positions (first output token through EOS)."""
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    pos = jnp.arange(1, tokens.shape[1])[None, :]
    mask = (pos >= output_start[:, None]) & (pos < lengths[:, None])
    return inputs, targets, mask


def main(argv: list[str]) -> None:
    del argv
    if not FLAGS.data_dir:
        sys.exit("reference_loop: --data_dir is required")
    out = pathlib.Path(FLAGS.out) if FLAGS.out else None
    if out is not None and out.exists():
        sys.exit(f"reference_loop: {out} exists; choose another --out")
    tokenizer = Tokenizer("semantic")
    records = {s: load_split(FLAGS.data_dir, s) for s in ("train", "val")}
    vocab = Vocabulary.build(
        [tokenizer.program_tokens(r["source"]) for r in records["train"]]
        + [tokenizer.output_tokens(r["stdout"]) for r in records["train"]])
    train = encode_dataset(records["train"], tokenizer, vocab, FLAGS.max_len)
    val = encode_dataset(records["val"], tokenizer, vocab, FLAGS.max_len)
    width = int(max(train.lengths.max(), val.lengths.max()))
    rng = np.random.default_rng(FLAGS.seed)
    val_rows = rng.permutation(len(val))[: FLAGS.val_examples]
    val_batch = {k: jnp.asarray(getattr(val, k)[val_rows][:, :width] if k == "tokens" else getattr(val, k)[val_rows])
                 for k in ("tokens", "lengths", "output_start")}

    model = ReferenceModel(len(vocab), FLAGS.embed_dim, FLAGS.hidden_dim, FLAGS.num_layers, FLAGS.dropout,
                           nnx.Rngs(params=FLAGS.seed, dropout=FLAGS.seed + 1))
    warmup = min(100, FLAGS.steps // 10)
    schedule = optax.warmup_cosine_decay_schedule(0.0, FLAGS.lr, warmup, FLAGS.steps, end_value=FLAGS.lr * 0.05)
    optimizer = nnx.Optimizer(model, optax.chain(optax.clip_by_global_norm(1.0),
                                                 optax.adamw(schedule, b1=0.9, b2=0.98, weight_decay=1e-3)),
                              wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, tokens, lengths, output_start):
        def loss_fn(model):
            inputs, targets, mask = targets_and_mask(tokens, lengths, output_start)
            logits = model(inputs)
            labels = optax.smooth_labels(jax.nn.one_hot(targets, logits.shape[-1]), FLAGS.label_smoothing)
            losses = optax.softmax_cross_entropy(logits, labels)
            return (losses * mask).sum() / jnp.maximum(mask.sum(), 1)

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    @nnx.jit
    def evaluate(model, tokens, lengths, output_start):
        inputs, targets, mask = targets_and_mask(tokens, lengths, output_start)
        logits = model(inputs)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
        hit = (logits.argmax(-1) == targets) | ~mask
        return (nll * mask).sum() / mask.sum(), hit.all(-1).mean()

    curve, begin, losses = [], time.perf_counter(), []
    for step in range(1, FLAGS.steps + 1):
        rows = rng.integers(0, len(train), FLAGS.batch_size)
        model.train()
        losses.append(train_step(model, optimizer, jnp.asarray(train.tokens[rows, :width]),
                                 jnp.asarray(train.lengths[rows]), jnp.asarray(train.output_start[rows])))
        if step % FLAGS.eval_every == 0 or step == FLAGS.steps:
            model.eval()
            val_loss, val_em = evaluate(model, **val_batch)
            point = {"step": step, "seconds": round(time.perf_counter() - begin, 1),
                     "train_loss": float(np.mean(jax.device_get(losses))), "val_loss": float(val_loss),
                     "val_exact_match": float(val_em)}
            losses = []
            curve.append(point)
            print(json.dumps(point), flush=True)
    result = {"flags": {name: FLAGS[name].value for name in ("data_dir", "steps", "batch_size", "lr", "embed_dim",
                                                               "hidden_dim", "num_layers", "dropout",
                                                               "label_smoothing", "seed")},
              "jax": jax.__version__, "width": width, "vocab_size": len(vocab), "curve": curve}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    app.run(main)
