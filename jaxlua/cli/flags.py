"""Flags of the scripts, derived from the config fields in one place, and one-line reporting of bad flags.

No JAX here: a bad flag is reported in a fraction of a second, before anything is written, loaded or compiled.
Model fields keep their names (`--cell`, `--hidden_dim`, `--scan_method`, ...); tokenizer fields are
`--tokenizer_mode`, `--identifiers` and `--digits`; `python -m experiments.train --help` lists them all.
"""
from __future__ import annotations

import pathlib
import sys
from typing import Any, Callable, NoReturn

from absl import app, flags

from jaxlua.config import PRESETS, TrainConfig, field_of, flag_choices, flag_fields


class FlagError(ValueError):
    """A flag value that cannot work: printed as one line on stderr, exit code 2."""


def fail(message: object, code: int = 2) -> NoReturn:
    """Print one clear line on stderr and exit (code 2: bad usage or bad input)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing with any parse error (unknown flag, malformed value) as one line and exit code 2."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as exc:
        fail(exc)


def run(main: Callable[[list[str]], Any]) -> None:
    """`app.run(main)` with bad flags reported by `parse_flags`."""
    app.run(main, flags_parser=parse_flags)


_DEFINERS = {int: flags.DEFINE_integer, float: flags.DEFINE_float, bool: flags.DEFINE_bool, str: flags.DEFINE_string}


def define_config_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """One flag per TrainConfig setting (model and tokenizer fields by their flag names), default None (the
    preset's value), plus `--spell_identifiers` (an alias of --identifiers=spelled)."""
    for name, _ in flag_fields():
        field, value_type = field_of(name)
        choices = flag_choices(name)
        help_text = field.metadata["help"] + (f" One of {', '.join(choices)}." if choices else "")
        _DEFINERS[value_type](name, None, help_text + " (default: the preset's)", flag_values=flag_values)
    flags.DEFINE_bool("spell_identifiers", None, "Same as --identifiers=spelled.", flag_values=flag_values)


def config_from_flags(values: Any, preset: str | None = None) -> TrainConfig:
    """The preset (`preset`, else `values.preset`, else "default") with every explicitly set config flag applied,
    validated once (FlagError on a bad value)."""
    preset = preset or getattr(values, "preset", None) or "default"
    if preset not in PRESETS:
        raise FlagError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    overrides = {name: getattr(values, name) for name, _ in flag_fields() if getattr(values, name, None) is not None}
    if getattr(values, "spell_identifiers", None):
        if overrides.get("identifiers", "spelled") != "spelled":
            raise FlagError(f"--spell_identifiers contradicts --identifiers={overrides['identifiers']}")
        overrides["identifiers"] = "spelled"
    base = PRESETS[preset]
    if overrides.get("data_dir") and "stream" not in overrides and base.stream:
        overrides["stream"] = False  # a dataset named on the command line replaces the preset's stream
        if base.curriculum == "mastery" and "curriculum" not in overrides:
            overrides["curriculum"] = "none"  # the mastery curriculum sets the stream's mix: a dataset has none
        for name in ("levels", "heldout_per_level"):
            if name in overrides:
                raise FlagError(f"--{name} applies to the stream, and --data_dir trains on a dataset instead")
    if "steps" in overrides and "warmup_steps" not in overrides and base.warmup_steps is not None:
        if base.warmup_steps >= overrides["steps"]:  # a short --steps keeps a tenth as warmup
            overrides["warmup_steps"] = overrides["steps"] // 10
    try:
        config = base.replace(**overrides)
    except ValueError as exc:
        raise FlagError(str(exc)) from None
    if config.data_dir:
        data_dir = pathlib.Path(config.data_dir).expanduser()
        if not (data_dir / "train.jsonl").is_file():
            raise FlagError(
                f"--data_dir {config.data_dir} has no train.jsonl (build one with experiments.make_dataset)"
            )
    if config.targets == "trace_output":
        from jaxlua.data.traces import HOW_TO_TRACE, dataset_has_traces  # pylint: disable=import-outside-toplevel

        if not config.data_dir or not dataset_has_traces(pathlib.Path(config.data_dir).expanduser()):
            where = f"--data_dir {config.data_dir} holds" if config.data_dir else "the built-in dataset holds"
            raise FlagError(f"--targets trace_output needs a dataset with execution traces and {where} none; "
                            f"{HOW_TO_TRACE} and pass it as --data_dir")
    return config
