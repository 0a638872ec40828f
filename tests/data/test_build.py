"""Dataset builds: determinism across workers, de-duplication, hash-decided disjoint splits, meta."""
import json

import pytest

from jaxlua.data import SPLITS, build_dataset, dataset_fingerprint, load_split, record_hash, split_of
from jaxlua.data.writer import DatasetWriter
from jaxlua.lua import LuaSandbox
from jaxlua.lua.lexer import count_branches, normalise_source


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "one_worker"
    meta = build_dataset(out, 150, (1, 2, 3, 7), seed=5, workers=1, progress=False)
    return out, meta


def test_same_dataset_for_any_number_of_workers(built, tmp_path):
    out, _ = built
    meta = build_dataset(tmp_path / "two", 150, (1, 2, 3, 7), seed=5, workers=2, progress=False)
    assert dataset_fingerprint(tmp_path / "two") == dataset_fingerprint(out)
    assert meta["counts"] == json.loads((out / "meta.json").read_text())["counts"]


def test_records_are_valid_and_outputs_are_true(built):
    out, meta = built
    sandbox = LuaSandbox()
    records = [r for split in SPLITS for r in load_split(out, split)]
    assert len(records) == meta["total"] == 150
    assert meta["counts_per_level"] == {"1": 38, "2": 38, "3": 37, "7": 37}
    for record in records:
        assert set(record) == {"id", "source", "stdout", "level", "branches", "steps"}
        assert record["branches"] == count_branches(record["source"])
        result = sandbox.run(record["source"])
        assert result.status == "ok"
        assert result.stdout == record["stdout"]
        assert result.steps == record["steps"]


def test_splits_are_disjoint_and_decided_by_hash(built):
    out, _ = built
    seen = {}
    for split in SPLITS:
        for record in load_split(out, split):
            digest = record_hash(record["source"], record["stdout"])
            assert split_of(digest) == split
            assert record["id"] == digest[:16]
            key = (normalise_source(record["source"]), record["stdout"])
            assert key not in seen, f"{record['id']} in {split} and {seen.get(key)}"
            seen[key] = split


def test_meta_describes_the_build(built):
    out, meta = built
    on_disk = json.loads((out / "meta.json").read_text())
    assert on_disk == meta
    assert meta["seed"] == 5 and meta["levels"] == [1, 2, 3, 7] and meta["complete"]
    assert meta["lua_version"].startswith("Lua 5.4")
    for split in SPLITS:
        lines = (out / f"{split}.jsonl").read_text().splitlines()
        assert len(lines) == sum(meta["counts"][split].values())
    assert not list(out.glob("*.tmp"))


def test_split_proportions_are_about_70_15_15():
    buckets = [split_of(record_hash(f"print({i})", f"{i}\n")) for i in range(3000)]
    assert 0.66 < buckets.count("train") / 3000 < 0.74
    assert 0.12 < buckets.count("val") / 3000 < 0.18


def test_writer_drops_exact_and_layout_duplicates(tmp_path):
    writer = DatasetWriter(tmp_path)
    first = record_hash("local x = 1\nprint(x)", "1\n")
    relaid = record_hash("local x=1  print( x ) -- same program", "1\n")
    assert first == relaid
    assert writer.add(first, '{"a": 1}\n', 1)
    assert not writer.add(relaid, '{"a": 1}\n', 1)
    assert writer.add(record_hash("print(2)", "2\n"), '{"b": 2}\n', 1)
    meta = writer.finish({})
    assert meta["total"] == 2 and meta["duplicates_dropped"] == 1


def test_fingerprint_tracks_content(built, tmp_path):
    out, _ = built
    copy = tmp_path / "copy"
    copy.mkdir()
    for split in SPLITS:
        (copy / f"{split}.jsonl").write_bytes((out / f"{split}.jsonl").read_bytes())
    assert dataset_fingerprint(copy) == dataset_fingerprint(out)
    with (copy / "val.jsonl").open("a") as f:
        f.write("\n")
    assert dataset_fingerprint(copy) != dataset_fingerprint(out)


def test_bad_requests_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="levels"):
        build_dataset(tmp_path / "x", 10, (1, 9), progress=False)
    with pytest.raises(ValueError, match="num_programs"):
        build_dataset(tmp_path / "x", 0, (1,), progress=False)
    with pytest.raises(ValueError, match="split"):
        load_split(tmp_path, "training")
    with pytest.raises(FileNotFoundError, match="train"):
        load_split(tmp_path / "missing", "train")


def test_worker_pool_reports_a_failing_task():
    from jaxlua.data.workers import WorkerPool

    pool = WorkerPool(1, "jaxlua.data.build:generate_chunk")
    try:
        with pytest.raises(RuntimeError, match="dataset worker failed"):
            list(pool.imap([("not", "a", "task")]))
    finally:
        pool.close()


def test_reading_a_dataset_needs_no_lupa(built):
    import subprocess
    import sys

    out, _ = built
    code = ("import sys; sys.modules['lupa'] = None\n"
            "from jaxlua.data import load_split, dataset_fingerprint\n"
            f"print(len(load_split({str(out)!r}, 'train')), dataset_fingerprint({str(out)!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1] == dataset_fingerprint(out)
