"""Flags of the scripts, derived from the config fields in one place, and one-line reporting of bad flags.

Every flag that sets something is a field of a config dataclass (jaxlua.config, or a script's own settings on
the same `ConfigBase`): `define_flags_of` declares one absl flag per field, with the field's help and default,
and `config_of_flags` reads them back into one validated config, a broken rule reported with the flag's name.
TrainConfig's flags (`define_config_flags`) default to unset, so a preset fills what is not given. Model fields
keep their names (`--cell`, `--hidden_dim`, `--scan_method`, ...); tokenizer fields are `--tokenizer_mode`,
`--identifiers` and `--digits`; `python -m experiments.train --help` lists them all.

No JAX here: a bad flag is reported in a fraction of a second, before anything is written, loaded or compiled.
"""
from __future__ import annotations

import pathlib
import sys
from typing import Any, Callable, Iterable, NoReturn, TypeVar

from absl import app, flags

from jaxlua.config import PRESETS, ConfigBase, FieldError, TrainConfig, field_of, flag_fields, flag_help, item_type

C = TypeVar("C", bound=ConfigBase)


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


_DEFINERS = {int: flags.DEFINE_integer, float: flags.DEFINE_float, bool: flags.DEFINE_bool, str: flags.DEFINE_string,
             tuple: flags.DEFINE_list}


def _flag_text(value: Any) -> Any:
    """A default as absl shows it: a tuple as its list of item strings (bools as true/false)."""
    if isinstance(value, tuple):
        return [str(item).lower() if isinstance(item, bool) else str(item) for item in value]
    return value


def _selected(cls: type[ConfigBase], only: Iterable[str] | None) -> list[str]:
    names = [name for name, _ in flag_fields(cls)]
    if only is None:
        return names
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise ValueError(f"{cls.__name__} has no settings {', '.join(unknown)}")
    return [name for name in names if name in set(only)]


def define_flags_of(cls: type[ConfigBase], defaults: ConfigBase | None = None, *, prefix: str = "",
                    only: Iterable[str] | None = None, flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """One flag per setting of `cls` (those in `only`, all by default), named `prefix` + the setting's flag name,
    with the field's help and `defaults`'s value (default: `cls()`) as its default. A tuple setting is a list
    flag (comma-separated). The flags belong to the calling module, so its `--help` lists them."""
    defaults = cls() if defaults is None else defaults
    values = defaults.flat()
    caller = sys._getframe(1).f_globals.get("__name__")  # pylint: disable=protected-access
    module = sys.argv[0] if caller == "__main__" else caller  # as absl names the module defining a flag
    for name in _selected(cls, only):
        _, value_type = field_of(name, cls)
        _DEFINERS[value_type](prefix + name, _flag_text(values[name]), flag_help(name, cls), flag_values=flag_values,
                              module_name=module)


def _list_item(flag: str, text: str, kind: type) -> Any:
    """One item of a list flag as the setting's item type (FlagError naming the flag otherwise)."""
    if kind is bool:
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            raise FlagError(f"--{flag} values must be true or false; got {text!r}")
        return lowered in ("true", "1")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise FlagError(f"--{flag} must be integers; got {text!r}") from None
    return kind(text)


def config_of_flags(cls: type[C], values: Any, defaults: C | None = None, *, prefix: str = "",
                    only: Iterable[str] | None = None) -> C:
    """The config the flags of `define_flags_of` (same `cls`, `prefix`, `only`) say: `defaults` (default: `cls()`)
    with every selected setting read from `values` (absl FlagValues or any object with those attributes),
    validated once. FlagError names the flag: "--eval_limit must be >= 1, got 0"."""
    defaults = cls() if defaults is None else defaults
    changes: dict[str, Any] = {}
    for name in _selected(cls, only):
        value = getattr(values, prefix + name)
        if field_of(name, cls)[1] is tuple and value is not None:
            value = tuple(_list_item(prefix + name, item, item_type(name, cls)) for item in value)
        changes[name] = value
    try:
        return defaults.replace(**changes)
    except FieldError as exc:
        raise FlagError(f"--{prefix}{exc.field} {exc.problem}") from None
    except ValueError as exc:
        raise FlagError(str(exc)) from None


def define_config_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """One flag per TrainConfig setting (model and tokenizer fields by their flag names), default None (the
    preset's value), plus `--spell_identifiers` (an alias of --identifiers=spelled)."""
    for name, _ in flag_fields(TrainConfig):
        _, value_type = field_of(name)
        _DEFINERS[value_type](name, None, flag_help(name) + " (default: the preset's)", flag_values=flag_values)
    flags.DEFINE_bool("spell_identifiers", None, "Same as --identifiers=spelled.", flag_values=flag_values)


def check_preset(name: str) -> str:
    """Returns `name`, or raises ValueError listing the presets."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return name


def config_from_flags(values: Any, preset: str | None = None) -> TrainConfig:
    """The preset (`preset`, else `values.preset`, else "default") with every explicitly set config flag applied,
    validated once (FlagError on a bad value)."""
    preset = preset or getattr(values, "preset", None) or "default"
    try:
        check_preset(preset)
    except ValueError as exc:
        raise FlagError(str(exc)) from None
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
