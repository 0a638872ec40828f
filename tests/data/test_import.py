"""Importing a folder of user programs: outputs recomputed, failures listed, never dropped silently."""
import json

import pytest

from jaxlua.data import SPLITS, import_lua_dir, load_split


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "programs"
    (src / "nested").mkdir(parents=True)
    (src / "hello.lua").write_text('message = "Hello World"\nprint(string.upper(message))\n')
    (src / "nested" / "loop.lua").write_text("for i = 1, 3 do if i > 1 and i < 3 then print(i) end end\n")
    (src / "right.luax").write_text("print(1 + 1)\n<PROGRAM END>\n2\n")
    (src / "wrong.luax").write_text("print(2 * 3)\n<PROGRAM END>\n5\n")
    (src / "broken.lua").write_text("print(1 +\n")
    (src / "runtime_error.lua").write_text("print(nil .. 1)\n")
    (src / "forever.lua").write_text("while true do end\n")
    (src / "no_marker.luax").write_text("print(3)\n")
    (src / "empty.lua").write_text("\n")
    (src / "duplicate.lua").write_text('message = "Hello World"   print(string.upper(message)) -- again\n')
    (src / "notes.txt").write_text("not a program")
    return src


def test_import_lists_every_failure_and_keeps_true_outputs(folder, tmp_path):
    out = tmp_path / "dataset"
    report = import_lua_dir(folder, out, progress=False, timeout=1.0, max_steps=10**6)
    failed = dict(report.failures)
    assert sorted(failed) == ["broken.lua", "empty.lua", "forever.lua", "no_marker.luax", "runtime_error.lua"]
    assert failed["broken.lua"].startswith("error:")
    assert failed["forever.lua"].startswith("timeout:")
    assert "PROGRAM END" in failed["no_marker.luax"]
    assert report.imported == 4 and report.duplicates == 1
    assert report.mismatched == ["wrong.luax"]

    records = {r["source"].strip(): r for split in SPLITS for r in load_split(out, split)}
    assert records["print(2 * 3)"]["stdout"] == "6\n"  # the stated "5" was wrong: the real output is kept
    assert records["print(1 + 1)"]["stdout"] == "2\n"
    loop = records["for i = 1, 3 do if i > 1 and i < 3 then print(i) end end"]
    assert loop["stdout"] == "2\n" and loop["branches"] == 3 and loop["level"] == 2

    listed = [json.loads(line) for line in (out / "import_failures.jsonl").read_text().splitlines()]
    assert sorted(entry["file"] for entry in listed) == sorted(failed)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["failures"] == 5 and meta["total"] == 4 and meta["files"] == 10


def test_import_of_a_missing_or_empty_folder_is_an_error(tmp_path):
    with pytest.raises(NotADirectoryError):
        import_lua_dir(tmp_path / "nope", tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="no \\*.lua"):
        import_lua_dir(tmp_path, tmp_path / "out", progress=False)
