"""Older formats of a run's saved configuration, read into today's shape.

Runs keep their config.json for as long as their checkpoints live, so a workdir written by an earlier release
must still load, evaluate and resume. Each format is one function from the saved dict to the dict
`TrainConfig.from_dict` reads; the rules that decide today's values (which section a flat name belongs to, the
default warmup) are passed in by the config that owns them, so this module depends on no config class.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping


def nested_from_flat_v0(values: Mapping[str, Any], sections: Mapping[str, tuple[str, str]],
                        warmup_rule: Callable[[int], int], default_steps: int) -> dict[str, Any]:
    """The flat config.json format (every setting at the top level, by its flag name) -> the nested dict.

    Sub-config fields move into their section (`sections`: flat name -> (section, field)); `spell_identifiers`
    becomes identifiers="spelled" (else "names": that format knew only whole and spelled names, so they are
    pinned whatever today's default is); a warmup equal to the default rule (`warmup_rule(steps)`) becomes unset.
    """
    values = dict(values)
    nested: dict[str, Any] = {"model": {}, "tokenizer": {}}
    spell = values.pop("spell_identifiers", False)
    for name, value in values.items():
        if name in sections:
            section, field_name = sections[name]
            nested[section][field_name] = value
        else:
            nested[name] = value
    nested["tokenizer"]["identifiers"] = "spelled" if spell else "names"
    if nested.get("warmup_steps") == warmup_rule(nested.get("steps", default_steps)):
        nested["warmup_steps"] = None
    return nested
