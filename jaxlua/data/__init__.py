"""Datasets of (Lua program, true stdout) records: build, de-duplicate, split, import, load.

A record is `{id, source, stdout, level, branches, steps}`; a dataset directory holds `train.jsonl`,
`val.jsonl`, `test.jsonl` (70/15/15, decided by the record hash) and `meta.json`. NumPy side: no JAX here,
and no lupa until a sandbox starts, so reading a dataset (`load_split`, `dataset_fingerprint`) works without it.
"""
from jaxlua.data.build import build_dataset
from jaxlua.data.default import default_dataset_dir
from jaxlua.data.importer import ImportReport, import_lua_dir
from jaxlua.data.splits import SPLITS, dataset_fingerprint, load_split, record_hash, split_of

__all__ = [
    "ImportReport", "SPLITS", "build_dataset", "dataset_fingerprint", "default_dataset_dir", "import_lua_dir",
    "load_split", "record_hash", "split_of",
]
