"""The built-in default dataset: generated deterministically on first use into a cache folder.

20,000 programs of levels 1-3 (seed 0), quick enough to build on first use (results/README.md gives the
build rate). The folder name carries the
generator version and size, so a generator change builds a new dataset instead of reusing a stale one.
Builds go to a temporary folder renamed into place, so an interrupted build is never mistaken for a
complete one.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile

from absl import logging

from jaxlua.data.build import build_dataset
from jaxlua.data.splits import SPLITS, split_path
from jaxlua.lua.generator import GENERATOR_VERSION

DEFAULT_NUM_PROGRAMS = 20_000
DEFAULT_LEVELS = (1, 2, 3)
DEFAULT_SEED = 0


def cache_root() -> pathlib.Path:
    """`$JAXLUA_CACHE`, else `~/.cache/jaxlua`."""
    return pathlib.Path(os.environ.get("JAXLUA_CACHE") or pathlib.Path.home() / ".cache" / "jaxlua")


def is_complete(data_dir: pathlib.Path) -> bool:
    """True when meta.json says the build completed and every split file exists."""
    meta_path = data_dir / "meta.json"
    if not meta_path.is_file() or not all(split_path(data_dir, s).is_file() for s in SPLITS):
        return False
    try:
        return bool(json.loads(meta_path.read_text(encoding="utf-8")).get("complete"))
    except (OSError, json.JSONDecodeError):
        return False


def default_dataset_dir(progress: bool = True) -> pathlib.Path:
    """Path of the default dataset, building it first if it is missing or incomplete."""
    name = f"default-g{GENERATOR_VERSION}-n{DEFAULT_NUM_PROGRAMS}-l{''.join(map(str, DEFAULT_LEVELS))}" \
           f"-s{DEFAULT_SEED}"
    target = cache_root() / "datasets" / name
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # incomplete leftovers of an older, interrupted layout
        shutil.rmtree(target)
    logging.info("building the default dataset (%d programs) into %s", DEFAULT_NUM_PROGRAMS, target)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        build_dataset(tmp, DEFAULT_NUM_PROGRAMS, DEFAULT_LEVELS, DEFAULT_SEED, progress=progress)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished the same build first
            if not is_complete(target):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
