"""Datasets with execution traces: `build_dataset(trace=True)`, `import_lua_dir(trace=True)`, make_dataset --trace."""
import json
import pathlib
import subprocess
import sys

import pytest

from jaxlua.data import build_dataset, import_lua_dir, load_split
from jaxlua.data.splits import DatasetError
from jaxlua.data.traces import dataset_has_traces, require_traces, trace_fields
from jaxlua.lua import run_lua

REPO = pathlib.Path(__file__).resolve().parents[2]


def records_of(out):
    return [r for split in ("train", "val", "test") for r in load_split(out, split)]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The same seed built with and without traces."""
    root = tmp_path_factory.mktemp("traced")
    plain = build_dataset(root / "plain", 40, (1, 4), seed=2, workers=1, progress=False)
    traced = build_dataset(root / "traced", 40, (1, 4), seed=2, workers=1, progress=False, trace=True)
    return root / "plain", plain, root / "traced", traced


def test_trace_records_hold_the_real_trace_of_the_same_programs(pair):
    plain_dir, plain_meta, traced_dir, traced_meta = pair
    assert plain_meta["trace"] is False and traced_meta["trace"] is True
    assert not dataset_has_traces(plain_dir) and dataset_has_traces(traced_dir)
    plain, traced = records_of(plain_dir), records_of(traced_dir)
    strip = [{k: v for k, v in r.items() if k not in ("trace", "trace_truncated")} for r in traced]
    assert strip == plain  # tracing changes no program, output or split
    assert all(isinstance(r["trace"], list) and isinstance(r["trace_truncated"], bool) for r in traced)
    assert all(r["trace"] for r in traced) and all("trace" not in r for r in plain)
    for record in traced[:5]:  # the stored JSON form is the sandbox's trace of that program
        assert record["trace"] == trace_fields(run_lua(record["source"], trace=True))["trace"]
    assert any(len(step[1]) > 0 for r in traced for step in r["trace"])


def test_require_traces_names_the_record_and_the_fix(pair):
    plain_dir, _, traced_dir, _ = pair
    require_traces(records_of(traced_dir), "traced")
    with pytest.raises(DatasetError, match=r"record \w+ of plain has none; .*make_dataset --trace"):
        require_traces(records_of(plain_dir), "plain")


def test_import_with_trace(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.lua").write_text("local n = 0\nfor i = 1, 3 do n = n + i end\nprint(n)\n", encoding="utf-8")
    (src / "b.lua").write_text('local s = "ab"\nprint(s:upper())\n', encoding="utf-8")
    import_lua_dir(src, tmp_path / "out", progress=False, trace=True)
    records = {r["source"]: r for r in records_of(tmp_path / "out")}
    loop = records["local n = 0\nfor i = 1, 3 do n = n + i end\nprint(n)\n"]
    assert loop["trace"] == trace_fields(run_lua(loop["source"], trace=True))["trace"]
    assert [value for step in loop["trace"] for name, value in step[1] if name == "n"][-1] == "6"
    assert loop["trace_truncated"] is False and dataset_has_traces(tmp_path / "out")
    import_lua_dir(src, tmp_path / "plain", progress=False)
    assert not dataset_has_traces(tmp_path / "plain")
    assert all("trace" not in r for r in records_of(tmp_path / "plain"))


def test_make_dataset_trace_flag(tmp_path):
    out = tmp_path / "ds"
    command = [sys.executable, "-m", "experiments.make_dataset", f"--out={out}", "--num_programs=20",
               "--levels=1", "--seed=4", "--trace"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((out / "meta.json").read_text())["trace"] is True
    assert all(isinstance(r["trace"], list) for r in records_of(out))
