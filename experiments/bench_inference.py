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
import statistics
from typing import Any

import jax
import numpy as np
from absl import app, flags, logging
from flax import nnx

from experiments import bench_common
from experiments.bench_common import option
from jaxlua.config import PRESETS, ModelConfig, model_names
from jaxlua.models import build

MODEL_NAMES = model_names()
SCRIPT = "bench_inference"
# A level-2-like program (the result file records its token counts).
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


FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Options:
    """Everything one benchmark run needs; each field is also a flag. None sizes: the 'default' preset's."""

    models: tuple[str, ...] = option(MODEL_NAMES, f"Models to time, from {', '.join(MODEL_NAMES)}.")
    paper_mingru: bool = option(True, "Also time MinGRU at the dissertation's 500/900 size.")
    embed: int | None = option(None, "Embedding width (default: the 'default' train preset's).", kind=int)
    hidden: int | None = option(None, "Hidden width (default: the 'default' train preset's).", kind=int)
    layers: int | None = option(None, "Blocks (default: the 'default' train preset's).", kind=int)
    vocab: int = option(1000, "Vocabulary size.")
    prompt_len: int = option(60, "Prompt tokens per program (BOS program SEP).")
    new_tokens: int = option(20, "Output tokens generated per program.")
    warmup: int = option(3, "Untimed calls before timing (the first compiles).")
    latency_runs: int = option(50, "Timed batch-1 programs per model.")
    batch: int = option(256, "Programs per call in the throughput measurement.")
    batch_runs: int = option(5, "Timed batched calls per model (median reported).")
    seed: int = option(0, "Seed of the weights and the prompts.")

    def validate(self) -> "Options":
        """Raises ValueError naming the first bad option."""
        unknown = [m for m in self.models if m not in MODEL_NAMES]
        if unknown or not (self.models or self.paper_mingru):
            raise ValueError(f"--models must be a list from {', '.join(MODEL_NAMES)}; got {','.join(self.models)}")
        bench_common.check_positive(self, *(n for n in ("embed", "hidden", "layers") if getattr(self, n) is not None))
        bench_common.check_positive(self, "prompt_len", "new_tokens", "warmup", "latency_runs", "batch", "batch_runs")
        if self.vocab < 8:
            raise ValueError(f"--vocab must be >= 8; got {self.vocab}")
        if self.prompt_len + self.new_tokens > PRESETS["default"].model.max_len:
            raise ValueError(f"--prompt_len + --new_tokens must fit the model's max_len {PRESETS['default'].model.max_len}")
        return self


def model_configs(options: Options) -> dict[str, ModelConfig]:
    """Name -> ModelConfig: each model at the 'default' preset's size (or the flags'), plus MinGRU at 500/900."""
    preset = PRESETS["default"].model
    configs = {}
    for name in options.models:
        configs[name] = preset.replace(
            vocab_size=options.vocab,
            cell=name,
            embed_dim=options.embed or preset.embed_dim,
            hidden_dim=options.hidden or preset.hidden_dim,
            num_layers=options.layers or preset.num_layers,
        )
    if options.paper_mingru:
        configs["mingru_paper"] = ModelConfig.paper(options.vocab, cell="mingru", max_len=preset.max_len)
    return configs


def prompts(options: Options, batch: int, rng: np.random.Generator, vary: bool) -> tuple[np.ndarray, np.ndarray]:
    """(tokens int32[batch, bucket], lengths int32[batch]): random non-special ids, BOS first.

    With `vary` the lengths spread over [0.8, 1] x prompt_len, as a real batch of programs would.
    """
    from jaxlua.eval.decode import length_bucket

    max_len = PRESETS["default"].model.max_len
    width = length_bucket(options.prompt_len, max_len)
    tokens = rng.integers(5, options.vocab, size=(batch, width), dtype=np.int32)
    tokens[:, 0] = 1  # BOS
    low = max(1, int(0.8 * options.prompt_len)) if vary else options.prompt_len
    lengths = rng.integers(low, options.prompt_len + 1, size=batch).astype(np.int32)
    tokens[np.arange(width)[None, :] >= lengths[:, None]] = 0  # PAD
    return tokens, lengths


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

    outs = []
    compile_s = bench_common.time_call(lambda: outs.append(single()), repeats=1, warmup=0)[0] / 1e3
    out = outs[0]
    if out.shape != (1, options.new_tokens) or (out < 0).any():
        raise RuntimeError(f"{name}: generate returned {out.shape}, expected (1, {options.new_tokens})")
    latency = bench_common.time_call(single, options.latency_runs, options.warmup, desc=f"{name} latency")
    batch_times = bench_common.time_call(batched, options.batch_runs, warmup=1, desc=f"{name} batch {options.batch}")
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
        "latency_ms": bench_common.stats(latency),
        "latency_ms_per_output_token_p50": round(float(np.percentile(latency, 50)) / options.new_tokens, 4),
        "batched_ms": bench_common.stats(batch_times),
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
        "ms": bench_common.stats(bench_common.time_call(text_path, runs, warmup=3)),
    }


def run(options: Options) -> dict[str, Any]:
    """Time every model; the result dict that is printed and written."""
    options.validate()
    result: dict[str, Any] = {
        "benchmark": "inference",
        "environment": bench_common.environment(MACHINE_NOTE),
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
    return bench_common.finish_environment(result)


def main(argv: list[str]) -> None:
    options = bench_common.options_or_exit(SCRIPT, argv, lambda: bench_common.options_from_flags(Options).validate())
    bench_common.write_result(run(options), FLAGS.out, SCRIPT)


if __name__ == "__main__":
    bench_common.define_flags(Options)
    flags.DEFINE_string("out", None, "Output JSON path (default results/bench_inference_<backend>.json).")
    app.run(main)
