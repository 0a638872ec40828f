"""A hand-written Lua dataset directory (train/val/test.jsonl) for tests of data loading and its errors."""
from __future__ import annotations

import json
import pathlib

# (source, stdout); the last one does not parse, so the vocabulary skips it and the encoder drops it.
PROGRAMS = [
    ('local total = 12\nprint("sum " .. total, total // 5)\n', "sum 12\t2\n"),
    ('local s = "abc"\nprint(s:upper(), #s)\n', "ABC\t3\n"),
    ("for i = 1, 3 do\n  print(i * i)\nend\n", "1\n4\n9\n"),
    ('print("a" ..\n', ""),
]


def write_dataset(root: pathlib.Path, programs=PROGRAMS, empty: str | None = None) -> pathlib.Path:
    """`root` holding the three splits, each with every program of `programs` (`empty`: that split has none)."""
    root.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val", "test"):
        rows = [] if split == empty else [
            {"id": f"{split}-{i}", "source": source, "stdout": stdout, "level": 1, "branches": 0, "steps": 1}
            for i, (source, stdout) in enumerate(programs)]
        (root / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return root
