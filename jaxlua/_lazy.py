"""Lazy package exports: a package names what it offers, and each name's module loads on first use.

This keeps the boundaries of the design cheap to cross: `jaxlua.data.load_split` needs no lupa,
`jaxlua.train.TrainConfig` and `jaxlua.eval.metrics` need no JAX, although their packages also offer names
that do.
"""
from __future__ import annotations

import importlib
import sys
from typing import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """(`__getattr__`, `__dir__`) for `package`: `exports` maps a name to the module that defines it.

    A name that maps to `f"{package}.{name}"` is that submodule itself. A loaded value is cached on the package.
    """

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name])
        value = module if exports[name] == f"{package}.{name}" else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
