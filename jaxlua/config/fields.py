"""Configuration fields that carry their help text and constraint, and the base class that validates them.

A config dataclass declares each field with `config_field(default, help, choices=..., low=..., high=...)`;
`ConfigBase` checks every field on construction (so an invalid configuration cannot exist), offers `replace`,
dict and JSON round trips, the settings by flag name (`flat_fields`, `flat`), and lets a subclass add
constraints between fields in `_check_together`. Flags, sweeps and error messages all read the same metadata,
so a setting's help and rule are written once, beside it. JAX-free.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable, Iterator

from jaxlua.registry import Registry


class FieldError(ValueError):
    """A value that breaks its field's constraint: `field` is the setting's flag name, `problem` the rest of the
    sentence (`str()` is both: "limit must be >= 1, got 0"), so a script can name its own flag instead."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def config_field(default: Any, help: str, *, choices: Registry | None = None,  # noqa: A002
                 check: Callable[[Any], Any] | None = None, low: float | None = None, low_open: bool = False,
                 high: float | None = None, high_open: bool = False, flag: str | None = None) -> Any:
    """A dataclass field whose metadata holds its help text, its constraint and (optionally) its flag name.

    `choices`: the registry of allowed names (checked with its `check` unless `check` is given, for a field
    that accepts more than one registry's names). `low`/`high`: numeric bounds, open or closed. A tuple value
    (a list flag) has each item checked.
    """
    metadata = {"help": help, "choices": choices, "check": check, "low": low, "low_open": low_open, "high": high,
                "high_open": high_open, "flag": flag}
    return dataclasses.field(default=default, metadata=metadata)


def flag_name(field: dataclasses.Field) -> str:
    """The name a field goes by in flags and messages: its `flag`, else its own name."""
    return field.metadata.get("flag") or field.name


def check_field(config: Any, field: dataclasses.Field) -> None:
    """Raises ValueError (FieldError for a bound) naming `field` when its value breaks the field's constraint."""
    value = getattr(config, field.name)
    for item in value if isinstance(value, tuple) else (value,):
        _check_value(field, item)


def _check_value(field: dataclasses.Field, value: Any) -> None:
    meta, name = field.metadata, flag_name(field)
    if value is None:
        return
    if meta.get("check") is not None:
        meta["check"](value)
        return
    if meta.get("choices") is not None:
        meta["choices"].check(value)
        return
    low, high = meta.get("low"), meta.get("high")
    if low == 0 and meta["low_open"] and high is None and not value > 0:
        raise FieldError(name, f"must be positive, got {value}")
    if low is not None and high is None and not meta["low_open"] and not value >= low:
        raise FieldError(name, f"must be >= {low}, got {value}")
    if low is not None and high is not None:
        ok_low = value > low if meta["low_open"] else value >= low
        ok_high = value < high if meta["high_open"] else value <= high
        if not (ok_low and ok_high):
            interval = f"{'(' if meta['low_open'] else '['}{low}, {high}{')' if meta['high_open'] else ']'}"
            raise FieldError(name, f"must be in {interval}, got {value}")


class ConfigBase:
    """Shared behaviour of the config dataclasses: validation on construction, replace, dict and JSON."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self):
        """Raises ValueError naming the first bad field; returns self so calls can chain."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, ConfigBase):
                value.validate()
            else:
                check_field(self, field)
        self._check_together()
        return self

    def _check_together(self) -> None:
        """Constraints between fields (overridden where there are any)."""

    def replace(self, **changes: Any):
        """A validated copy with `changes` applied (unknown names raise TypeError)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def flat_fields(cls) -> Iterator[tuple[str, tuple[str | None, str]]]:
        """(flag name, (section or None, field name)) for every setting, in field order: the names flags and
        `flat()` use. A config holding sub-configs (TrainConfig) lists their fields in place of the section."""
        for field in dataclasses.fields(cls):
            yield flag_name(field), (None, field.name)

    def flat(self) -> dict[str, Any]:
        """Every setting by its flag name, in `flat_fields` order."""
        values: dict[str, Any] = {}
        for name, (section, field_name) in self.flat_fields():
            values[name] = getattr(getattr(self, section), field_name) if section else getattr(self, field_name)
        return values

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
        return cls(**values)
