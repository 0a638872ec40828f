"""Configuration fields that carry their help text and constraint, and the base class that validates them.

A config dataclass declares each field with `config_field(default, help, choices=..., low=..., high=...)`;
`ConfigBase` checks every field on construction (so an invalid configuration cannot exist), offers `replace`,
dict and JSON round trips, and lets a subclass add constraints between fields in `_check_together`. JAX-free.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable

from jaxlua.registry import Registry


def config_field(default: Any, help: str, *, choices: Registry | None = None,  # noqa: A002
                 check: Callable[[Any], Any] | None = None, low: float | None = None, low_open: bool = False,
                 high: float | None = None, high_open: bool = False, flag: str | None = None) -> Any:
    """A dataclass field whose metadata holds its help text, its constraint and (optionally) its flag name.

    `choices`: the registry of allowed names (checked with its `check` unless `check` is given, for a field
    that accepts more than one registry's names). `low`/`high`: numeric bounds, open or closed.
    """
    metadata = {"help": help, "choices": choices, "check": check, "low": low, "low_open": low_open, "high": high,
                "high_open": high_open, "flag": flag}
    return dataclasses.field(default=default, metadata=metadata)


def check_field(config: Any, field: dataclasses.Field) -> None:
    """Raises ValueError naming `field` when its value breaks the field's constraint."""
    meta, value, name = field.metadata, getattr(config, field.name), field.metadata.get("flag") or field.name
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
        raise ValueError(f"{name} must be positive, got {value}")
    if low is not None and high is None and not meta["low_open"] and not value >= low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if low is not None and high is not None:
        ok_low = value > low if meta["low_open"] else value >= low
        ok_high = value < high if meta["high_open"] else value <= high
        if not (ok_low and ok_high):
            interval = f"{'(' if meta['low_open'] else '['}{low}, {high}{')' if meta['high_open'] else ']'}"
            raise ValueError(f"{name} must be in {interval}, got {value}")


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
