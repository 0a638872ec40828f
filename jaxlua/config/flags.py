"""What the flags of a config are, read from its fields: names, value types, accepted names and help.

Every script flag that sets a configuration is derived from these (jaxlua.cli.flags defines them with absl),
so a setting's flag, its help and its rule cannot drift apart. Without a class, the functions describe
`TrainConfig`, whose model and tokenizer fields are flags of their own (`--cell`, `--tokenizer_mode`, ...).
JAX-free and absl-free.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Iterator

from jaxlua.config.fields import ConfigBase
from jaxlua.config.registries import check_model_name, model_names
from jaxlua.config.training import TrainConfig


def flag_fields(cls: type[ConfigBase] = TrainConfig) -> Iterator[tuple[str, tuple[str | None, str]]]:
    """(flag name, (section or None, field name)) for every setting of `cls`, in a stable order."""
    return cls.flat_fields()


def _hint(flag: str, cls: type[ConfigBase]) -> tuple[dataclasses.Field, object]:
    """(dataclass field, its type hint without an `| None`) behind a flat name of `cls`."""
    section, name = dict(flag_fields(cls))[flag]
    owner = typing.get_type_hints(cls)[section] if section else cls
    hint = typing.get_type_hints(owner)[name]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(t for t in typing.get_args(hint) if t is not type(None))
    return next(f for f in dataclasses.fields(owner) if f.name == name), hint


def field_of(flag: str, cls: type[ConfigBase] = TrainConfig) -> tuple[dataclasses.Field, type]:
    """(dataclass field, value type without None) behind a flat (flag) name of `cls`; a tuple field's type is
    `tuple` (a list flag, see `item_type`)."""
    field, hint = _hint(flag, cls)
    return field, typing.get_origin(hint) or hint


def item_type(flag: str, cls: type[ConfigBase]) -> type:
    """The type of one item of a tuple (list flag) setting: `tuple[int, ...]` -> int."""
    return typing.get_args(_hint(flag, cls)[1])[0]


def flag_choices(flag: str, cls: type[ConfigBase] = TrainConfig) -> tuple[str, ...] | None:
    """The names a flag accepts, or None when it takes a number, a bool or free text."""
    field, _ = field_of(flag, cls)
    if field.metadata.get("choices") is None:
        return None
    if field.metadata.get("check") is check_model_name:  # a cell or another model kind
        return model_names()
    return field.metadata["choices"].names()


def flag_help(flag: str, cls: type[ConfigBase] = TrainConfig) -> str:
    """A flag's help: its field's help, and the names it accepts when it takes one of a registry's names."""
    field, _ = field_of(flag, cls)
    choices = flag_choices(flag, cls)
    return field.metadata["help"] + (f" One of {', '.join(choices)}." if choices else "")

