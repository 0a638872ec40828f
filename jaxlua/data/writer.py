"""Records and the dataset writer shared by generated builds and imports.

`DatasetWriter` de-duplicates on the record hash, routes each record to the split its hash picks, writes
`<split>.jsonl.tmp` files and renames them into place (then `meta.json`) only when the build completes. It
refuses a folder that already holds a dataset unless told to overwrite it.
"""
from __future__ import annotations

import collections
import json
import os
import pathlib

from jaxlua.data.splits import SPLITS, record_hash, split_of, split_path
from jaxlua.io import atomic_write_text
from jaxlua.lua.lexer import count_branches


def make_record(source: str, stdout: str, level: int, steps: int) -> tuple[str, dict]:
    """(hash, record) for a program and its true stdout; `branches` is measured from the source."""
    digest = record_hash(source, stdout)
    record = {"id": digest[:16], "source": source, "stdout": stdout, "level": int(level),
              "branches": count_branches(source), "steps": int(steps)}
    return digest, record


def record_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=True) + "\n"


DATASET_FILES = tuple(f"{split}.jsonl" for split in SPLITS) + ("meta.json",)


def existing_dataset_files(out_dir: str | pathlib.Path) -> list[str]:
    """Names of the dataset files (splits, meta.json) already present in `out_dir`."""
    out_dir = pathlib.Path(out_dir)
    return [name for name in DATASET_FILES if (out_dir / name).exists()]


class DatasetWriter:
    """Writes de-duplicated records into train/val/test jsonl files under `out_dir`.

    Raises FileExistsError when `out_dir` already holds a dataset, unless `overwrite`.
    """

    def __init__(self, out_dir: str | pathlib.Path, overwrite: bool = False) -> None:
        self.out_dir = pathlib.Path(out_dir)
        existing = existing_dataset_files(self.out_dir)
        if existing and not overwrite:
            raise FileExistsError(f"{self.out_dir} already holds a dataset ({', '.join(existing)}); "
                                  "choose another folder or overwrite it explicitly")
        self._created = not self.out_dir.exists()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._files = {s: open(self._tmp(s), "w", encoding="utf-8") for s in SPLITS}
        self._seen: set[bytes] = set()
        self.counts: dict[str, collections.Counter] = {s: collections.Counter() for s in SPLITS}
        self.duplicates = 0

    def _tmp(self, split: str) -> pathlib.Path:
        return split_path(self.out_dir, split).with_suffix(".jsonl.tmp")

    def add(self, digest: str, line: str, level: int) -> bool:
        """Write one serialised record unless its hash was seen; returns whether it was written."""
        key = bytes.fromhex(digest[:32])
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(key)
        split = split_of(digest)
        self._files[split].write(line)
        self.counts[split][int(level)] += 1
        return True

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    def level_counts(self) -> dict[str, int]:
        levels: collections.Counter = collections.Counter()
        for counter in self.counts.values():
            levels.update(counter)
        return {str(k): levels[k] for k in sorted(levels)}

    def finish(self, meta: dict) -> dict:
        """Move the split files into place and write meta.json (with counts per split and level)."""
        for split, f in self._files.items():
            f.close()
            os.replace(self._tmp(split), split_path(self.out_dir, split))
        meta = dict(meta)
        meta["counts"] = {s: {str(k): c[k] for k in sorted(c)} for s, c in self.counts.items()}
        meta["counts_per_level"] = self.level_counts()
        meta["total"] = self.total
        meta["duplicates_dropped"] = self.duplicates
        atomic_write_text(self.out_dir / "meta.json", json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return meta

    def abort(self) -> None:
        """Drop the partial split files (and `out_dir` itself when this writer created it and it is empty)."""
        for split, f in self._files.items():
            f.close()
            self._tmp(split).unlink(missing_ok=True)
        if self._created and not any(self.out_dir.iterdir()):
            self.out_dir.rmdir()
