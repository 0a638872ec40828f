"""Predict what one Lua file prints with a trained run, next to what real Lua prints, and how long it took.

    python -m experiments.predict --workdir runs/default --file prog.lua

The in-editor use the dissertation motivates: source text in, predicted stdout out. The latency printed
is from source text to decoded text with batch 1, once compiled (the first call, which compiles, is
reported separately). A file that does not parse, or does not fit the model, is one line and exit code 2; a
file holding tokens the run's vocabulary lacks (`<UNK>` to the model) gets a one-line warning on stderr.
"""
from __future__ import annotations

import dataclasses
import pathlib
import sys
from typing import Any

from absl import flags, logging

from jaxlua.cli.flags import FlagError, config_of_flags, define_flags_of, fail, run
from jaxlua.cli.workdir import TrainedRun, check_run_dir
from jaxlua.config import ConfigBase, EvalConfig, config_field


@dataclasses.dataclass(frozen=True)
class PredictFlags(ConfigBase):
    """The settings of one prediction besides the run (`TrainedRun`) and the output cap (EvalConfig's)."""

    file: str | None = config_field(None, "Lua source file to predict.")
    run_lua: bool = config_field(True, "Also run the file with real Lua (sandboxed) and compare.")


EVAL_FLAGS = ("max_new_tokens",)  # the EvalConfig settings a prediction takes


def define_flags() -> None:
    """Declare the flags (only when run as a script, so both scripts can be imported together)."""
    define_flags_of(TrainedRun)
    define_flags_of(PredictFlags)
    define_flags_of(EvalConfig, only=EVAL_FLAGS)


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
    workdir = check_run_dir(config_of_flags(TrainedRun, values).workdir)
    settings = config_of_flags(PredictFlags, values)
    path, source = read_source(settings.file)
    decoding = config_of_flags(EvalConfig, values, only=EVAL_FLAGS)
    return PredictArgs(workdir=workdir, file=path, source=source, max_new_tokens=decoding.max_new_tokens,
                       run_lua=settings.run_lua)


def read_source(file: str | None) -> tuple[pathlib.Path, str]:
    """(path, UTF-8 text) of a Lua source file, or FlagError naming the problem."""
    if not file:
        raise FlagError("--file is required (the Lua program to predict)")
    path = pathlib.Path(file).expanduser()
    if not path.is_file():
        raise FlagError(f"--file {file} is not a file")
    try:
        return path, path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlagError(f"--file {file} cannot be read as UTF-8 text: {exc}") from None


def show(title: str, text: str | None) -> str:
    """A titled block of program output, verbatim; an empty output or a missing final newline is made visible."""
    if text is None:
        return f"{title}\n(the predicted tokens do not form an output)"
    if not text:
        return f"{title}\n(no output)"
    if text.endswith("\n"):
        return f"{title}\n{text[:-1]}"
    return f"{title}\n{text}\n(no newline at end of output)"


def unk_line(program_tokens: list[str], vocab: Any, file: str | pathlib.Path) -> str | None:
    """The one warning line when the program holds tokens missing from the run's vocabulary (the model sees
    `<UNK>` there), naming a few of them; None when it holds none."""
    from jaxlua.eval.metrics import count_unk, unk_warning  # pylint: disable=import-outside-toplevel

    ids = vocab.encode(program_tokens)
    unk_tokens = count_unk(ids, vocab.unk_id)
    warning = unk_warning(int(unk_tokens > 0), unk_tokens, 1)
    if warning is None:
        return None
    unknown = list(dict.fromkeys(token for token, id_ in zip(program_tokens, ids) if id_ == vocab.unk_id))
    shown = ", ".join(repr(token) for token in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
    return f"warning: {file}: {warning} (unknown: {shown})"


def predict(args: PredictArgs) -> int:
    """Load the run, predict, print; returns the process exit code."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.cli.experiment import load_run
    from jaxlua.eval.decode import Decoder
    from jaxlua.eval.evaluator import device_info
    from jaxlua.eval.latency import target_tokenizer, timed_predict
    from jaxlua.tokenize import LuaSyntaxError

    model, config, vocab, tokenizer = load_run(args.workdir)
    try:
        program_tokens = tokenizer.program_tokens(args.source)
    except LuaSyntaxError as exc:
        fail(f"{args.file}: does not parse: {exc}")
    warning = unk_line(program_tokens, vocab, args.file)
    if warning:
        print(warning, file=sys.stderr)
    decoder = Decoder(model, eos_id=vocab.eos_id, pad_id=vocab.pad_id, max_len=config.model.max_len)
    tokenizer = target_tokenizer(tokenizer, config.targets)  # a trace run prints the output part of its target
    max_new_tokens = args.max_new_tokens or config.model.max_len - 1
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
    from jaxlua.cli.experiment import BAD_INPUT_ERRORS  # pylint: disable=import-outside-toplevel

    try:
        code = predict(args)
    except BAD_INPUT_ERRORS as exc:
        fail(exc)
    raise SystemExit(code)


if __name__ == "__main__":
    define_flags()
    run(main)
