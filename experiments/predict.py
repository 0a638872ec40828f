"""Predict what one Lua file prints with a trained run, next to what real Lua prints, and how long it took.

    python -m experiments.predict --workdir runs/default --file prog.lua

The in-editor use the dissertation motivates: source text in, predicted stdout out. The latency printed
is from source text to decoded text with batch 1, once compiled (the first call, which compiles, is
reported separately). A file that does not parse, or does not fit the model, is one line and exit code 2.
"""
from __future__ import annotations

import dataclasses
import pathlib

from absl import app, flags, logging

from jaxlua.eval.cli import FlagError, check_workdir, fail, load_run, read_source

def define_flags() -> None:
    """Declare the flags (only when run as a script, so both scripts can be imported together)."""
    flags.DEFINE_string("workdir", None, "Training workdir holding the checkpoints, config and vocabulary.")
    flags.DEFINE_string("file", None, "Lua source file to predict.")
    flags.DEFINE_integer("max_new_tokens", None, "Output length cap; default: until EOS or the model's max_len.")
    flags.DEFINE_boolean("run_lua", True, "Also run the file with real Lua (sandboxed) and compare.")


FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class PredictArgs:
    """The validated flags of one prediction."""

    workdir: pathlib.Path
    file: pathlib.Path
    source: str
    max_new_tokens: int | None = None
    run_lua: bool = True


def parse_args(values) -> PredictArgs:
    """Validate flag values (an absl FlagValues or any object with the same attributes)."""
    workdir = check_workdir(values.workdir)
    path, source = read_source(values.file)
    if values.max_new_tokens is not None and values.max_new_tokens < 1:
        raise FlagError(f"--max_new_tokens must be >= 1; got {values.max_new_tokens}")
    return PredictArgs(workdir=workdir, file=path, source=source, max_new_tokens=values.max_new_tokens,
                       run_lua=values.run_lua)


def show(title: str, text: str | None) -> str:
    """A titled block of program output, verbatim; an empty output or a missing final newline is made visible."""
    if text is None:
        return f"{title}\n(the predicted tokens do not form an output)"
    if not text:
        return f"{title}\n(no output)"
    if text.endswith("\n"):
        return f"{title}\n{text[:-1]}"
    return f"{title}\n{text}\n(no newline at end of output)"


def predict(args: PredictArgs) -> int:
    """Load the run, predict, print; returns the process exit code."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.eval.decode import Decoder
    from jaxlua.eval.evaluator import device_info
    from jaxlua.eval.latency import timed_predict
    from jaxlua.tokenize import LuaSyntaxError

    model, config, vocab, tokenizer = load_run(args.workdir)
    try:
        tokenizer.program_tokens(args.source)
    except LuaSyntaxError as exc:
        fail(f"{args.file}: does not parse: {exc}")
    decoder = Decoder(model, eos_id=vocab.eos_id, pad_id=vocab.pad_id, max_len=config.max_len)
    max_new_tokens = args.max_new_tokens or config.max_len - 1
    try:
        _, first_seconds = timed_predict(decoder, tokenizer, vocab, args.source, max_new_tokens=max_new_tokens)
    except ValueError as exc:  # the program is longer than the model's max_len
        fail(f"{args.file}: {exc}")
    predicted, seconds = timed_predict(decoder, tokenizer, vocab, args.source, max_new_tokens=max_new_tokens)
    print(show("predicted output:", predicted))
    if args.run_lua:
        from jaxlua.lua import run_lua

        result = run_lua(args.source)
        real = result.stdout + (f"[{result.status}: {result.error}]\n" if result.error else "")
        print()
        print(show(f"real output (Lua 5.4, status {result.status}):", real))
        print()
        print(f"exact match: {'yes' if predicted == result.stdout and result.ok else 'no'}")
    device = device_info()
    print(f"latency: {seconds * 1000:.1f} ms (source text to predicted text, batch 1, {device['device_kind']}); "
          f"first call {first_seconds * 1000:.0f} ms including compilation")
    return 0


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        args = parse_args(FLAGS)
    except FlagError as exc:
        fail(exc)
    if not FLAGS["verbosity"].present:  # an editor tool: show the answer, not the loading logs
        logging.set_verbosity(logging.WARNING)
    raise SystemExit(predict(args))


if __name__ == "__main__":
    define_flags()
    app.run(main)
