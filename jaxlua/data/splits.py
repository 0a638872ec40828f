"""Record hashing, hash-decided 70/15/15 splits, and reading a dataset directory back.

A record's hash covers its normalised source (layout and comments removed) and its stdout. That hash both
de-duplicates and picks the split, so an exact duplicate can never sit in two splits and the split of a
program does not depend on the seed, the order of generation or the number of workers.
"""
from __future__ import annotations

import hashlib
import json
import pathlib

from jaxlua.lua.lexer import normalise_source

SPLITS = ("train", "val", "test")
SPLIT_PERCENT = {"train": 70, "val": 15, "test": 15}
RECORD_KEYS = ("id", "source", "stdout", "level", "branches", "steps")


def record_hash(source: str, stdout: str) -> str:
    """Hex SHA-256 of the normalised source and the stdout."""
    payload = normalise_source(source) + "\x00" + stdout
    return hashlib.sha256(payload.encode("utf-8", errors="surrogateescape")).hexdigest()


def split_of(digest: str) -> str:
    """The split a record hash falls into: its first 8 bytes mod 100 against 70/15/15."""
    bucket = int(digest[:16], 16) % 100
    if bucket < SPLIT_PERCENT["train"]:
        return "train"
    if bucket < SPLIT_PERCENT["train"] + SPLIT_PERCENT["val"]:
        return "val"
    return "test"


def split_path(data_dir: str | pathlib.Path, split: str) -> pathlib.Path:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return pathlib.Path(data_dir) / f"{split}.jsonl"


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message is one line naming the file (and line) and the problem."""


# The fields whose type is checked on load (bool is refused where an int is due).
_RECORD_TYPES = {"source": str, "stdout": str, "level": int}


def _check_record(record: object, where: str) -> dict:
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: a record must be a JSON object, got {type(record).__name__}")
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise DatasetError(f"{where}: record lacks {', '.join(missing)}")
    for key, kind in _RECORD_TYPES.items():
        value = record[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            shown = "null" if value is None else type(value).__name__
            raise DatasetError(f"{where}: {key!r} must be a {kind.__name__}, got {shown}")
    return record


def load_split(data_dir: str | pathlib.Path, split: str) -> list[dict]:
    """Records of one split, in file order.

    Raises FileNotFoundError naming a missing file, and DatasetError naming the file and line of a line that
    is not UTF-8, not JSON, or not a record with every field of the right type.
    """
    path = split_path(data_dir, split)
    if not path.is_file():
        raise FileNotFoundError(f"no {split} split at {path} (build one with experiments.make_dataset)")
    records = []
    with path.open("rb") as f:
        for line_number, raw in enumerate(f, 1):
            where = f"{path}:{line_number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DatasetError(f"{where}: not valid UTF-8 (byte {exc.start})") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{where}: not a JSON record ({exc})") from None
            records.append(_check_record(record, where))
    return records


def dataset_fingerprint(data_dir: str | pathlib.Path) -> str:
    """First 16 hex digits of the SHA-256 over the three split files (identifies a dataset's content)."""
    digest = hashlib.sha256()
    for split in SPLITS:
        path = split_path(data_dir, split)
        if not path.is_file():
            raise FileNotFoundError(f"no {split} split at {path}")
        digest.update(split.encode() + b"\x00")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
