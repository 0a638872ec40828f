"""Inference speed of every model: latency per program (batch 1) and batched programs/s; print JSON, write results/.

    python -m experiments.bench_inference                    # six models at the "default" preset size + MinGRU 500/900
    python -m experiments.bench_inference --models=mingru --latency_runs=100
    python -m experiments.bench_inference --models=gru --embed=16 --hidden=16 --vocab=40 --latency_runs=3  # tiny

A program is a prompt of `prompt_len` tokens (BOS program SEP; the default 60 is the length of a typical
level-2 program, see `EXAMPLE_PROGRAM`) from which the model generates exactly `new_tokens` tokens greedily.
The path timed is `jaxlua.eval.decode.Decoder.generate`, the one evaluation and `experiments.predict` use: one
jit call doing `prefill` and then `decode_step` in a `lax.while_loop`, plus the host<->device copies. EOS is
disabled (id -1) so that every run emits all `new_tokens` tokens. Weights are random: the time of a forward
pass does not depend on their values. Latency: p50/p95 over `latency_runs` batch-1 calls after warmup
(compilation excluded, reported apart). Throughput: `batch` programs of varied prompt lengths in one call,
programs/s from the median call. The text side (tree-sitter tokenisation of the program, vocabulary lookup,
detokenising the output) is timed separately and added for an end-to-end estimate.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
import time
from typing import Any, Callable

import jax
import numpy as np
from absl import app, flags, logging
from flax import nnx
from tqdm import tqdm

from jaxlua.models import MODEL_NAMES, ModelConfig, build
from experiments import bench_common
from jaxlua.train import PRESETS

# A level-2-like program: 57 semantic tokens, so 59 with BOS and SEP; it prints 15 output tokens.
EXAMPLE_PROGRAM = """local total = 0
for i = 1, 5 do
  if i % 2 == 0 then
    total = total + i * 3
  else
    total = total - 1
  end
end
print("total: " .. total, total > 4)
"""
EXAMPLE_STDOUT = "total: 15\ttrue\n"
TARGETS_MS = {"mingru": {"cpu": 10.0, "gpu": 1.0, "dissertation_ms": 190.0}}
MACHINE_NOTE = (
    "shared machine: other jobs run at the same time (see load_avg); percentiles over many runs, "
    "but absolute times are noisy"
)


def define_flags() -> None:
    """Declare the flags (only when run as a script, so that the benchmark scripts import together)."""
    flags.DEFINE_list("models", list(MODEL_NAMES), f"Models to time, from {', '.join(MODEL_NAMES)}.")
    flags.DEFINE_boolean("paper_mingru", True, "Also time MinGRU at the dissertation's 500/900 size.")
    flags.DEFINE_integer("embed", None, "Embedding width (default: the 'default' train preset's).")
    flags.DEFINE_integer("hidden", None, "Hidden width (default: the 'default' train preset's).")
    flags.DEFINE_integer("layers", None, "Blocks (default: the 'default' train preset's).")
    flags.DEFINE_integer("vocab", 1000, "Vocabulary size.")
    flags.DEFINE_integer("prompt_len", 60, "Prompt tokens per program (BOS program SEP).")
    flags.DEFINE_integer("new_tokens", 20, "Output tokens generated per program.")
    flags.DEFINE_integer("warmup", 3, "Untimed calls before timing (the first compiles).")
    flags.DEFINE_integer("latency_runs", 50, "Timed batch-1 programs per model.")
    flags.DEFINE_integer("batch", 256, "Programs per call in the throughput measurement.")
    flags.DEFINE_integer("batch_runs", 5, "Timed batched calls per model (median reported).")
    flags.DEFINE_integer("seed", 0, "Seed of the weights and the prompts.")
    flags.DEFINE_string("out", None, "Output JSON path (default results/bench_inference_<backend>.json).")


FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Options:
    """Everything one benchmark run needs (the flags, validated). None sizes: the 'default' preset's."""

    models: tuple[str, ...] = MODEL_NAMES
    paper_mingru: bool = True
    embed: int | None = None
    hidden: int | None = None
    layers: int | None = None
    vocab: int = 1000
    prompt_len: int = 60
    new_tokens: int = 20
    warmup: int = 3
    latency_runs: int = 50
    batch: int = 256
    batch_runs: int = 5
    seed: int = 0

    def validate(self) -> "Options":
        """Raises ValueError naming the first bad option."""
        unknown = [m for m in self.models if m not in MODEL_NAMES]
        if unknown or not (self.models or self.paper_mingru):
            raise ValueError(f"--models must be a list from {', '.join(MODEL_NAMES)}; got {','.join(self.models)}")
        for name in ("embed", "hidden", "layers"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1; got {getattr(self, name)}")
        for name in ("prompt_len", "new_tokens", "warmup", "latency_runs", "batch", "batch_runs"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1; got {getattr(self, name)}")
        if self.vocab < 8:
            raise ValueError(f"--vocab must be >= 8; got {self.vocab}")
        if self.prompt_len + self.new_tokens > PRESETS["default"].max_len:
            raise ValueError(f"--prompt_len + --new_tokens must fit the model's max_len {PRESETS['default'].max_len}")
        return self


def model_configs(options: Options) -> dict[str, ModelConfig]:
    """Name -> ModelConfig: each model at the 'default' preset's size (or the flags'), plus MinGRU at 500/900."""
    preset = PRESETS["default"]
    configs = {}
    for name in options.models:
        config = preset.replace(
            cell=name,
            embed_dim=options.embed or preset.embed_dim,
            hidden_dim=options.hidden or preset.hidden_dim,
            num_layers=options.layers or preset.num_layers,
        ).model_config(options.vocab)
        configs[name] = config
    if options.paper_mingru:
        configs["mingru_paper"] = ModelConfig.paper(options.vocab, cell="mingru", max_len=preset.max_len)
    return configs


def prompts(options: Options, batch: int, rng: np.random.Generator, vary: bool) -> tuple[np.ndarray, np.ndarray]:
    """(tokens int32[batch, bucket], lengths int32[batch]): random non-special ids, BOS first.

    With `vary` the lengths spread over [0.8, 1] x prompt_len, as a real batch of programs would.
    """
    from jaxlua.eval.decode import length_bucket

    max_len = PRESETS["default"].max_len
    width = length_bucket(options.prompt_len, max_len)
    tokens = rng.integers(5, options.vocab, size=(batch, width), dtype=np.int32)
    tokens[:, 0] = 1  # BOS
    low = max(1, int(0.8 * options.prompt_len)) if vary else options.prompt_len
    lengths = rng.integers(low, options.prompt_len + 1, size=batch).astype(np.int32)
    tokens[np.arange(width)[None, :] >= lengths[:, None]] = 0  # PAD
    return tokens, lengths


def time_calls(fn: Callable[[], Any], warmup: int, runs: int, desc: str) -> list[float]:
    """Milliseconds of `runs` calls of `fn` after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in tqdm(range(runs), desc=desc, leave=False):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def percentiles(times: list[float]) -> dict[str, float]:
    values = np.asarray(times)
    return {
        "p50": round(float(np.percentile(values, 50)), 3),
        "p95": round(float(np.percentile(values, 95)), 3),
        "mean": round(float(values.mean()), 3),
        "min": round(float(values.min()), 3),
    }


def bench_model(name: str, config: ModelConfig, options: Options) -> dict[str, Any]:
    """Latency (batch 1) and throughput (batch `options.batch`) of one randomly initialised model."""
    from jaxlua.eval.decode import Decoder

    model = build(config, nnx.Rngs(options.seed))
    decoder = Decoder(model, eos_id=-1, pad_id=0, max_len=config.max_len)  # EOS off: always new_tokens tokens
    rng = np.random.default_rng(options.seed)
    one, one_len = prompts(options, 1, rng, vary=False)
    many, many_len = prompts(options, options.batch, rng, vary=True)

    def single():
        return decoder.generate(one, one_len, max_new_tokens=options.new_tokens)

    def batched():
        return decoder.generate(many, many_len, max_new_tokens=options.new_tokens)

    start = time.perf_counter()
    out = single()
    compile_s = time.perf_counter() - start
    if out.shape != (1, options.new_tokens) or (out < 0).any():
        raise RuntimeError(f"{name}: generate returned {out.shape}, expected (1, {options.new_tokens})")
    latency = time_calls(single, options.warmup, options.latency_runs, f"{name} latency")
    batch_times = time_calls(batched, 1, options.batch_runs, f"{name} batch {options.batch}")
    batch_p50 = statistics.median(batch_times)
    params = sum(int(x.size) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    row = {
        "config": {
            k: getattr(config, k)
            for k in (
                "cell",
                "embed_dim",
                "hidden_dim",
                "num_layers",
                "num_heads",
                "vocab_size",
                "max_len",
                "scan_method",
                "dtype",
            )
        },
        "params": params,
        "first_call_s_with_compile": round(compile_s, 2),
        "latency_ms": percentiles(latency),
        "latency_ms_per_output_token_p50": round(float(np.percentile(latency, 50)) / options.new_tokens, 4),
        "batched_ms": percentiles(batch_times),
        "batched_programs_per_s": round(options.batch / (batch_p50 / 1e3), 1),
    }
    if config.cell in TARGETS_MS:
        targets = TARGETS_MS[config.cell]
        backend = "gpu" if jax.default_backend() == "gpu" else "cpu"
        row["target_latency_ms"] = targets[backend]
        row["meets_target_p50"] = row["latency_ms"]["p50"] <= targets[backend]
        row["dissertation_latency_ms"] = targets["dissertation_ms"]
    return row


def bench_text_path(runs: int) -> dict[str, Any]:
    """ms to tokenise EXAMPLE_PROGRAM, encode it, and detokenise its output (the non-model part of a program)."""
    try:
        from jaxlua.tokenize import Tokenizer, Vocabulary

        tokenizer = Tokenizer("semantic")
        program = tokenizer.program_tokens(EXAMPLE_PROGRAM)
        output = tokenizer.output_tokens(EXAMPLE_STDOUT)
        vocab = Vocabulary.build([program, output])
    except Exception as error:  # pylint: disable=broad-except  (the tokenizer is optional here)
        return {"skipped_reason": f"{type(error).__name__}: {error}"}
    output_ids = vocab.encode(output)

    def text_path():
        ids = [vocab.bos_id, *vocab.encode(tokenizer.program_tokens(EXAMPLE_PROGRAM)), vocab.sep_id]
        text = tokenizer.decode_output(vocab.decode(output_ids))
        return ids, text

    ids, text = text_path()
    if text != EXAMPLE_STDOUT:
        raise RuntimeError(f"the tokenizer round trip gave {text!r}, expected {EXAMPLE_STDOUT!r}")
    return {
        "program_tokens_with_bos_sep": len(ids),
        "output_tokens": len(output),
        "ms": percentiles(time_calls(text_path, 3, runs, "text path")),
    }


def environment() -> dict[str, Any]:
    """Device, versions, date and machine load: what the numbers depend on."""
    return bench_common.environment(MACHINE_NOTE)


def run(options: Options) -> dict[str, Any]:
    """Time every model; the result dict that is printed and written."""
    options.validate()
    result: dict[str, Any] = {
        "benchmark": "inference",
        "environment": environment(),
        "protocol": {
            "weights": "random (nnx.Rngs(seed)); timing does not depend on the weights' values",
            "path": "jaxlua.eval.decode.Decoder.generate: one jit call = prefill + new_tokens decode_steps in a "
            "lax.while_loop, greedy, EOS disabled, host<->device copies included",
            "prompt_len": options.prompt_len,
            "new_tokens": options.new_tokens,
            "latency_batch": 1,
            "latency_runs": options.latency_runs,
            "warmup_calls": options.warmup,
            "throughput_batch": options.batch,
            "throughput_prompt_lengths": f"uniform in [{max(1, int(0.8 * options.prompt_len))}, {options.prompt_len}]",
            "throughput_runs": options.batch_runs,
            "size_source": "the 'default' train preset unless flags override",
        },
        "models": {},
    }
    for name, config in model_configs(options).items():
        row = bench_model(name, config, options)
        result["models"][name] = row
        logging.info(
            "%s: latency p50 %.2f ms p95 %.2f ms, %.0f programs/s at batch %d",
            name,
            row["latency_ms"]["p50"],
            row["latency_ms"]["p95"],
            row["batched_programs_per_s"],
            options.batch,
        )
    text = bench_text_path(options.latency_runs)
    result["text_path"] = text
    if "ms" in text:
        result["end_to_end_latency_ms_p50_estimate"] = {
            name: round(row["latency_ms"]["p50"] + text["ms"]["p50"], 3) for name, row in result["models"].items()
        }
    result["environment"]["load_avg_1m_5m_15m_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        sys.stderr.write(f"bench_inference: unexpected arguments {argv[1:]}\n")
        sys.exit(2)
    try:
        options = Options(
            models=tuple(m.strip() for m in FLAGS.models if m.strip()),
            paper_mingru=FLAGS.paper_mingru,
            embed=FLAGS.embed,
            hidden=FLAGS.hidden,
            layers=FLAGS.layers,
            vocab=FLAGS.vocab,
            prompt_len=FLAGS.prompt_len,
            new_tokens=FLAGS.new_tokens,
            warmup=FLAGS.warmup,
            latency_runs=FLAGS.latency_runs,
            batch=FLAGS.batch,
            batch_runs=FLAGS.batch_runs,
            seed=FLAGS.seed,
        ).validate()
    except ValueError as error:
        sys.stderr.write(f"bench_inference: {error}\n")
        sys.exit(2)
    bench_common.write_result(run(options), FLAGS.out, "bench_inference")


if __name__ == "__main__":
    define_flags()
    app.run(main)
