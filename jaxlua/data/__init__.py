"""Datasets of (Lua program, true stdout) records: build, de-duplicate, split, import, load.

A record is `{id, source, stdout, level, branches, steps}`; a dataset directory holds `train.jsonl`,
`val.jsonl`, `test.jsonl` (70/15/15, decided by the record hash) and `meta.json`. NumPy side: no JAX here.
Names load lazily: reading a dataset (`load_split`, `dataset_fingerprint`) needs neither lupa nor workers.
"""
from jaxlua._lazy import lazy_exports

_EXPORTS = {
    "build_dataset": "jaxlua.data.build", "default_dataset_dir": "jaxlua.data.default",
    "ImportReport": "jaxlua.data.importer", "import_lua_dir": "jaxlua.data.importer",
    "SPLITS": "jaxlua.data.splits", "dataset_fingerprint": "jaxlua.data.splits", "load_split": "jaxlua.data.splits",
    "record_hash": "jaxlua.data.splits", "split_of": "jaxlua.data.splits",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
