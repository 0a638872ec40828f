"""The hand-written test set (experiments/handwritten): every program runs, and none comes from the generator."""
import pathlib
import re

import pytest

from jaxlua.data import SPLITS, build_dataset, import_lua_dir, load_split
from jaxlua.lua.lexer import normalise_source

FOLDER = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "handwritten"
MIN_PROGRAMS = 45


@pytest.fixture(scope="module")
def programs() -> dict[str, str]:
    """File name -> source of every hand-written program."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(FOLDER.glob("*.lua"))}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("handwritten")
    report = import_lua_dir(FOLDER, out, progress=False)
    return report, [record for split in SPLITS for record in load_split(out, split)]


def test_the_set_is_named_and_large_enough(programs):
    assert len(programs) >= MIN_PROGRAMS
    assert (FOLDER / "README.md").is_file()
    assert sorted(p.name for p in FOLDER.iterdir() if p.suffix not in (".lua", ".md")) == []
    bad_names = [name for name in programs if not re.fullmatch(r"\d\d_[a-z0-9_]+\.lua", name)]
    assert bad_names == []
    numbers = [name[:2] for name in programs]
    assert len(set(numbers)) == len(numbers)


def test_every_program_imports_with_status_ok(programs, imported):
    report, records = imported
    assert report.failures == []
    assert report.duplicates == 0
    assert report.imported == len(records) == len(programs)
    assert sorted(record["source"] for record in records) == sorted(programs.values())
    for record in records:
        assert record["stdout"].strip(), record["source"]
        assert len(record["stdout"]) <= 120, record["source"]


def test_no_program_equals_a_generated_one(programs, tmp_path):
    build_dataset(tmp_path, len(programs), (1, 2, 3), seed=0, workers=1, progress=False)
    generated = [record["source"] for split in SPLITS for record in load_split(tmp_path, split)]
    assert len(generated) == len(programs)
    assert set(programs.values()).isdisjoint(generated)
    assert {normalise_source(s) for s in programs.values()}.isdisjoint(normalise_source(s) for s in generated)
