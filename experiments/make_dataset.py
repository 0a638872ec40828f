"""Build a dataset of Lua programs and their true outputs.

    python -m experiments.make_dataset --out DIR --num_programs N --levels 1,2,3 --seed S
    python -m experiments.make_dataset --out DIR --import_dir FOLDER   # a folder of *.lua / *.luax files
    ... --trace   # each record also holds its execution trace, for training with --targets trace_output

Writes DIR/{train,val,test}.jsonl (70/15/15 by record hash) and DIR/meta.json. Generation uses every core;
the same seed gives the same dataset whatever the number of cores. A DIR that already holds a dataset is
refused unless --overwrite; bad flags, a missing or empty --import_dir and an import in which every file
fails are one line on stderr and exit code 2.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
import sys

from absl import app, flags, logging

from jaxlua.lua.generator import LEVELS

_OUT = flags.DEFINE_string("out", None, "Output dataset directory.")
_NUM_PROGRAMS = flags.DEFINE_integer("num_programs", 20_000, "Number of unique programs to generate.")
_LEVELS = flags.DEFINE_string("levels", "1,2,3", "Comma-separated levels: 1-3 dissertation, 4-7 TinyPy, 0 and 8 "
                               "the ladder below level 1.")
_SEED = flags.DEFINE_integer("seed", 0, "Generator seed.")
_IMPORT_DIR = flags.DEFINE_string("import_dir", None, "Import this folder of *.lua/*.luax files instead.")
_OVERWRITE = flags.DEFINE_boolean("overwrite", False, "Replace a dataset that already exists in --out.")
_TRACE = flags.DEFINE_boolean("trace", False, "Also store each program's execution trace in its record (for "
                              "training with --targets trace_output); meta.json records the choice.")


@dataclasses.dataclass(frozen=True)
class MakeDatasetConfig:
    out: str
    num_programs: int
    levels: tuple[int, ...]
    seed: int
    import_dir: str | None
    overwrite: bool = False
    trace: bool = False


def parse_config() -> MakeDatasetConfig:
    """Flags -> config; raises ValueError with a one-line reason for bad values."""
    if not _OUT.value:
        raise ValueError("--out DIR is required")
    try:
        levels = tuple(int(part) for part in _LEVELS.value.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"--levels must be comma-separated integers, got {_LEVELS.value!r}") from None
    if not levels or any(level not in LEVELS for level in levels) or len(set(levels)) != len(levels):
        raise ValueError(f"--levels must be distinct values from {list(LEVELS)}, got {_LEVELS.value!r}")
    if _NUM_PROGRAMS.value < 1:
        raise ValueError(f"--num_programs must be positive, got {_NUM_PROGRAMS.value}")
    # pylint: disable=import-outside-toplevel
    from jaxlua.data.importer import IMPORT_SUFFIXES
    from jaxlua.data.writer import existing_dataset_files

    out = pathlib.Path(_OUT.value).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is not a directory")
    existing = existing_dataset_files(out)
    if existing and not _OVERWRITE.value:
        raise ValueError(f"--out {out} already holds a dataset ({', '.join(existing)}); "
                         "pass --overwrite to replace it, or choose another folder")
    if _IMPORT_DIR.value is not None:
        import_dir = pathlib.Path(_IMPORT_DIR.value).expanduser()
        if not import_dir.is_dir():
            raise ValueError(f"--import_dir {import_dir} is not a directory")
        if not any(p.suffix in IMPORT_SUFFIXES and p.is_file() for p in import_dir.rglob("*")):
            raise ValueError(f"--import_dir {import_dir} holds no *.lua or *.luax files")
    return MakeDatasetConfig(str(out), _NUM_PROGRAMS.value, levels, _SEED.value, _IMPORT_DIR.value,
                             _OVERWRITE.value, _TRACE.value)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        sys.stderr.write(f"make_dataset: unexpected arguments {argv[1:]}\n")
        sys.exit(2)
    try:
        config = parse_config()
    except ValueError as exc:
        sys.stderr.write(f"make_dataset: {exc}\n")
        sys.exit(2)
    from jaxlua.data import build_dataset, import_lua_dir  # after flag checks: a bad flag fails fast
    from jaxlua.data.importer import NothingImportedError

    if config.import_dir:
        try:
            report = import_lua_dir(config.import_dir, config.out, overwrite=config.overwrite, trace=config.trace)
        except (NothingImportedError, FileExistsError) as exc:
            sys.stderr.write(f"make_dataset: {exc}\n")
            sys.exit(2)
        print(json.dumps({"out": config.out, "imported": report.imported, "duplicates": report.duplicates,
                          "failures": [{"file": f, "error": e} for f, e in report.failures],
                          "mismatched_outputs": report.mismatched}, indent=2))
        return
    try:
        meta = build_dataset(config.out, config.num_programs, config.levels, config.seed, overwrite=config.overwrite,
                             trace=config.trace)
    except FileExistsError as exc:  # a dataset appeared in --out after the flag check
        sys.stderr.write(f"make_dataset: {exc}\n")
        sys.exit(2)
    logging.info("wrote %s", config.out)
    print(json.dumps({"out": config.out, "total": meta["total"], "counts": meta["counts"]}, indent=2))


if __name__ == "__main__":
    app.run(main)
