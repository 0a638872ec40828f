"""Import a folder of the user's Lua programs (`*.lua`, or the dissertation's `*.luax`) as a dataset.

A `.luax` file holds a program, a line `<PROGRAM END>`, then the output its author expected. Every program
is re-run through the sandboxed `run_lua` (untrusted code: worker process, wall-clock limit) and its true
stdout is stored. Files that cannot be used (unreadable, empty, not status "ok") are listed with their
error in `import_failures.jsonl` and in the returned report; none is dropped silently. A `.luax` whose
stated output differs from the real one is kept with the real output and listed under `mismatched`. An
import in which no file succeeds raises NothingImportedError and writes no dataset.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib

from absl import logging
from tqdm import tqdm

from jaxlua.data.build import lua_version
from jaxlua.data.traces import META_KEY as TRACE_META_KEY
from jaxlua.data.traces import trace_fields
from jaxlua.data.writer import DatasetWriter, make_record, record_line
from jaxlua.io import atomic_write_text
from jaxlua.lua.lexer import count_branches
from jaxlua.lua.runner import run_lua

PROGRAM_END = "<PROGRAM END>"
IMPORT_SUFFIXES = (".lua", ".luax")


class NothingImportedError(ValueError):
    """Every file of an import failed: there is no dataset to write."""


@dataclasses.dataclass
class ImportReport:
    """What an import did: records written, failures (path, error), stated outputs that were wrong."""

    imported: int = 0
    duplicates: int = 0
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    mismatched: list[str] = dataclasses.field(default_factory=list)


def level_from_branches(branches: int) -> int:
    """Dissertation level of a program from its measured branch points: 1 (0-2), 2 (3-4), 3 (5+)."""
    return 1 if branches <= 2 else 2 if branches <= 4 else 3


def parse_program_file(path: pathlib.Path) -> tuple[str, str | None]:
    """(source, stated output or None) of a .lua or .luax file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".luax":
        return text, None
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip() == PROGRAM_END:
            return "".join(lines[:i]), "".join(lines[i + 1:])
    raise ValueError(f"no '{PROGRAM_END}' line separating program and output")


def import_lua_dir(src_dir: str | pathlib.Path, out_dir: str | pathlib.Path, progress: bool = True,
                   overwrite: bool = False, trace: bool = False, **limits) -> ImportReport:
    """Turn every *.lua / *.luax file under `src_dir` into records in `out_dir` (train/val/test + meta); with
    `trace`, each record also holds the program's execution trace (`jaxlua.data.traces`).

    Raises NotADirectoryError / ValueError for a missing or empty `src_dir`, FileExistsError when `out_dir`
    already holds a dataset (unless `overwrite`), and NothingImportedError when every file fails.
    """
    src_dir = pathlib.Path(src_dir)
    if not src_dir.is_dir():
        raise NotADirectoryError(f"import directory {src_dir} does not exist")
    paths = sorted(p for p in src_dir.rglob("*") if p.suffix in IMPORT_SUFFIXES and p.is_file())
    if not paths:
        raise ValueError(f"no *.lua or *.luax files under {src_dir}")
    report = ImportReport()
    writer = DatasetWriter(out_dir, overwrite=overwrite)
    try:
        for path in tqdm(paths, desc="import", unit="file", disable=not progress):
            name = str(path.relative_to(src_dir))
            try:
                source, stated = parse_program_file(path)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                report.failures.append((name, f"unreadable: {exc}"))
                continue
            if not source.strip():
                report.failures.append((name, "empty program"))
                continue
            result = run_lua(source, trace=trace, **limits)
            if result.status != "ok":
                report.failures.append((name, f"{result.status}: {result.error}"))
                continue
            if stated is not None and stated.rstrip("\n") != result.stdout.rstrip("\n"):
                report.mismatched.append(name)
            level = level_from_branches(count_branches(source))
            digest, record = make_record(source, result.stdout, level, result.steps)
            if trace:
                record.update(trace_fields(result))
            if writer.add(digest, record_line(record), level):
                report.imported += 1
            else:
                report.duplicates += 1
    except BaseException:
        writer.abort()
        raise
    for name, error in report.failures:
        logging.warning("import: %s failed: %s", name, error)
    if writer.total == 0:
        writer.abort()
        first, error = report.failures[0]
        raise NothingImportedError(f"none of the {len(paths)} files under {src_dir} could be imported "
                                   f"(first: {first}: {error.splitlines()[0] if error else ''}); no dataset written")
    atomic_write_text(pathlib.Path(out_dir) / "import_failures.jsonl",
                      "".join(json.dumps({"file": name, "error": error}) + "\n" for name, error in report.failures))
    writer.finish({"source": "import", "import_dir": str(src_dir), "files": len(paths),
                   "failures": len(report.failures), "mismatched_outputs": report.mismatched,
                   "lua_version": lua_version(), "complete": True,
                   TRACE_META_KEY: bool(trace)})
    logging.info("imported %d of %d files (%d failed, %d duplicates, %d stated outputs corrected)",
                 report.imported, len(paths), len(report.failures), report.duplicates, len(report.mismatched))
    return report
