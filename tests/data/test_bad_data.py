"""Bad data is one clear line naming the file and line; nothing a user has is replaced; writes are atomic."""
import json
import pathlib
import subprocess
import sys

import pytest

from jaxlua.data.importer import NothingImportedError, import_lua_dir
from jaxlua.data.splits import DatasetError, load_split
from jaxlua.data.writer import DatasetWriter
from jaxlua.io import atomic_write_text

REPO = pathlib.Path(__file__).resolve().parents[2]
GOOD = {"id": "a", "source": "print(1)", "stdout": "1\n", "level": 1, "branches": 0, "steps": 3}


def _split_with(tmp_path: pathlib.Path, second_line: bytes) -> pathlib.Path:
    (tmp_path / "train.jsonl").write_bytes(json.dumps(GOOD).encode() + b"\n" + second_line + b"\n")
    return tmp_path


@pytest.mark.parametrize("line, problem", [
    (b'{"id": "b", "source": "print(2)"', "not a JSON record"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "stdout"}).encode(), "record lacks stdout"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "source"}).encode(), "record lacks source"),
    (json.dumps(dict(GOOD, stdout=None)).encode(), "'stdout' must be a str, got null"),
    (json.dumps(dict(GOOD, level="1")).encode(), "'level' must be a int, got str"),
    (b'{"source": "print(\xff)"}', "not valid UTF-8"),
    (b"[1, 2]", "must be a JSON object"),
])
def test_bad_record_names_file_and_line(tmp_path, line, problem):
    data_dir = _split_with(tmp_path, line)
    with pytest.raises(DatasetError) as info:
        load_split(data_dir, "train")
    message = str(info.value)
    assert message.startswith(f"{data_dir / 'train.jsonl'}:2: ") and problem in message
    assert "\n" not in message


def test_writer_refuses_an_existing_dataset_unless_told(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps(GOOD) + "\n")
    with pytest.raises(FileExistsError, match="already holds a dataset"):
        DatasetWriter(tmp_path)
    assert load_split(tmp_path, "train") == [GOOD]  # untouched
    DatasetWriter(tmp_path, overwrite=True).finish({})
    assert load_split(tmp_path, "train") == []


def test_import_where_every_file_fails_writes_nothing(tmp_path):
    src = tmp_path / "programs"
    src.mkdir()
    (src / "broken.lua").write_text("print(1 +\n")
    (src / "error.lua").write_text("error('no')\n")
    with pytest.raises(NothingImportedError, match="none of the 2 files .* broken.lua"):
        import_lua_dir(src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_atomic_write_text_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    atomic_write_text(path, "old\n")
    assert path.read_text() == "old\n"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("jaxlua.io.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def _make_dataset(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "experiments.make_dataset", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_make_dataset_refuses_to_replace_and_reports_bad_imports(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "train.jsonl").write_text(json.dumps(GOOD) + "\n")
    refused = _make_dataset("--out", str(out), "--num_programs", "3", "--levels", "4")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"make_dataset: --out {out} already holds a dataset (train.jsonl); pass --overwrite to replace it, or "
        "choose another folder"]
    assert load_split(out, "train") == [GOOD]

    empty = tmp_path / "empty"
    empty.mkdir()
    failing = tmp_path / "failing"
    failing.mkdir()
    (failing / "broken.lua").write_text("print(1 +\n")
    for import_dir, problem in ((tmp_path / "missing", "is not a directory"), (empty, "holds no *.lua"),
                                (failing, "none of the 1 files")):
        done = _make_dataset("--out", str(tmp_path / "new"), "--import_dir", str(import_dir))
        assert done.returncode == 2, done.stderr
        assert problem in done.stderr.strip().splitlines()[-1] and "Traceback" not in done.stderr
        assert not (tmp_path / "new").exists()
