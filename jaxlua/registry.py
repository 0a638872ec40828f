"""Registry: the one list of names of a pluggable kind (cells, scan methods, tokenizer modes).

Validation, flag help, sweep defaults, bench tables and test parameters all read the names from a registry, so
adding an entry is one `register` call. An entry is an object or a `"module:attribute"` path that is imported on
first `get`, so a registry can name JAX classes while the module holding it stays free of JAX.
"""
from __future__ import annotations

import importlib
from typing import Any, Iterator


class Registry:
    """Ordered name -> entry map for one kind of thing; `kind` names it in error messages."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, entry: Any, help: str = "", *, replace: bool = False) -> Any:  # noqa: A002
        """Adds `name`; `entry` is an object or a "module:attribute" path. Returns `entry`."""
        if not name or not name.replace("_", "").isalnum() or name != name.lower():
            raise ValueError(f"{self.kind} name must be lower-case letters, digits and '_'; got {name!r}")
        if name in self._entries and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        self._help[name] = help
        return entry

    def unregister(self, name: str) -> None:
        """Removes `name` (tests that register a temporary entry clean up with this)."""
        self.check(name)
        del self._entries[name], self._help[name]

    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order."""
        return tuple(self._entries)

    def check(self, name: str) -> str:
        """Returns `name`, or raises ValueError listing the valid names."""
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self._entries)}")
        return name

    def get(self, name: str) -> Any:
        """The entry for `name`, importing it on first use when it was registered as a path."""
        entry = self._entries[self.check(name)]
        if isinstance(entry, str) and ":" in entry:
            module, _, attribute = entry.partition(":")
            entry = getattr(importlib.import_module(module), attribute)
            self._entries[name] = entry
        return entry

    def help(self, name: str) -> str:
        """The one-line help registered with `name`."""
        return self._help[self.check(name)]

    def items(self) -> Iterator[tuple[str, Any]]:
        """(name, entry) pairs in registration order, each entry imported as by `get`."""
        return ((name, self.get(name)) for name in self.names())

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"
