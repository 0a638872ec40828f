"""The cached default dataset and the make_dataset command line."""
import json
import pathlib
import subprocess
import sys

from jaxlua.data import default as default_module
from jaxlua.data import load_split

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_default_dataset_is_built_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXLUA_CACHE", str(tmp_path))
    monkeypatch.setattr(default_module, "DEFAULT_NUM_PROGRAMS", 45)
    path = default_module.default_dataset_dir(progress=False)
    assert path.parent.parent == tmp_path and default_module.is_complete(path)
    assert sum(len(load_split(path, s)) for s in ("train", "val", "test")) == 45
    stamp = (path / "meta.json").stat().st_mtime_ns
    assert default_module.default_dataset_dir(progress=False) == path
    assert (path / "meta.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    (path / "meta.json").unlink()  # an incomplete folder is rebuilt
    assert default_module.default_dataset_dir(progress=False) == path
    assert default_module.is_complete(path)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_make_dataset_cli(tmp_path):
    out = tmp_path / "cli"
    command = [sys.executable, "-m", "experiments.make_dataset", "--out", str(out), "--num_programs", "30",
               "--levels", "4,5", "--seed", "3"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["total"] == 30 and meta["levels"] == [4, 5] and meta["seed"] == 3
    bad = subprocess.run(command[:-4] + ["--levels", "1,9"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("make_dataset: --levels")
