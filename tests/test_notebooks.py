"""The analysis notebooks: valid nbformat-4 JSON whose code cells use real jaxlua names, and analysis.ipynb executed
end to end (nbclient) on a small hand-written fixture: a dataset, a study JSON with two runs and one run folder,
and two experiments.bench_learning results."""
import ast
import importlib.util
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ANALYSIS = ROOT / "notebooks" / "analysis.ipynb"


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_parse_and_import_real_names(path):
    notebook = json.loads(path.read_text())
    assert notebook["nbformat"] == 4
    code = [("".join(cell["source"])) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code
    for source in code:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jaxlua"):
                module = __import__(node.module, fromlist=[alias.name for alias in node.names])
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{node.module}.{alias.name} does not exist"


# --- executing analysis.ipynb ---------------------------------------------------------------------------------

PROGRAMS = [  # (source, stdout, level): real Lua, so the notebook's tokenizer reads them
    ("local x = 3\nprint(x * 2)\n", "6\n", 1),
    ("local s = 0\nfor i = 1, 4 do\n  s = s + i\nend\nprint(s)\n", "10\n", 2),
    ("local t = {1, 2, 3}\nprint(#t)\n", "3\n", 2),
    ("local a = 7\nif a > 5 then\n  print(\"big\")\nelse\n  print(\"small\")\nend\n", "big\n", 3),
    ("print(10 / 4)\n", "2.5\n", 1),
    ("local function f(n)\n  return n + 1\nend\nprint(f(1), f(2))\n", "2\t3\n", 3),
]
# The best recurrent run's test predictions: one right, two wrong (one with no text at all).
PREDICTIONS = [
    {"id": "p0", "level": 1, "source": PROGRAMS[0][0], "stdout": "6\n", "predicted_stdout": "6\n",
     "exact_match": True, "constructs": ["arithmetic", "print"], "construct_groups": ["arithmetic"]},
    {"id": "p1", "level": 2, "source": PROGRAMS[1][0], "stdout": "10\n", "predicted_stdout": "11<&>\n",
     "exact_match": False, "constructs": ["for_numeric"], "construct_groups": ["loops"]},
    {"id": "p2", "level": 3, "source": PROGRAMS[3][0], "stdout": "big\n", "predicted_stdout": None,
     "exact_match": False, "constructs": ["if", "else"], "construct_groups": ["conditionals"]},
]


def _run(name, cell, group, exact_match, by_level, by_construct):
    curve = [{"step": 50 * (i + 1), "seconds": 10.0 * (i + 1), "val_loss": 1.0 / (i + 1),
              "val_exact_match": exact_match * (i + 1) / 3} for i in range(3)]
    return {"name": name, "group": group, "idea": f"what {name} tests", "changes": {"cell": cell},
            "config": {"model": {"cell": cell, "hidden_dim": 8}, "batch_size": 4}, "workdir": name, "steps": 150,
            "train_seconds": 30.0, "params": 1234, "curve": curve,
            "test": {"n": 6, "exact_match": exact_match, "by_level": by_level,
                     "n_by_level": {lv: 2 for lv in by_level}, "by_construct": by_construct}}


def _learning(recipe, final):
    """An experiments.bench_learning result (its fields the notebook reads): three evaluation points on levels 4
    and 5 rising to `final` exact match; the 50% bar reached at the last point when `final` >= 0.5."""
    curve = [{"step": 10 * (i + 1), "programs_seen": 320 * (i + 1), "seconds": 5.0 * (i + 1),
              "exact_match": final * (i + 1) / 3, "by_level": {"4": final * (i + 1) / 3, "5": final * i / 3}}
             for i in range(3)]
    point = {"step": 30, "programs_seen": 960, "seconds": 15.0}
    reach = {bar: {"all": point if final >= float(bar) else None,
                   "by_level": {"4": point if final >= float(bar) else None, "5": None}}
             for bar in ("0.5", "0.8", "0.95")}
    return {"benchmark": "learning", "recipe": recipe, "description": f"what {recipe} trains",
            "environment": {"device": "cpu (learning fixture)", "jax": "0.0", "date": "2000-01-01"},
            "steps": 30, "programs_seen": 960, "train_seconds": 16.0, "params": 4321, "curve": curve,
            "reach": reach, "final": {**curve[-1], "greedy": {"exact_match": final / 2, "by_level": {}}}}


def _fixture(tmp_path, with_run_folder=True, with_data=True, with_learning=True):
    """Write the inputs the notebook reads; returns the JAXLUA_* environment pointing at them."""
    data = tmp_path / "data"
    data.mkdir()
    if with_data:
        for split in ("train", "val", "test"):
            lines = [json.dumps({"id": f"{split}-{i}", "source": source, "stdout": stdout, "level": level,
                                 "branches": 1, "steps": 10 + i}) for i, (source, stdout, level) in enumerate(PROGRAMS)]
            (data / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    study_dir = tmp_path / "study"
    runs = [
        _run("mingru", "mingru", "stream", 1 / 3, {"1": 0.5, "2": 0.5, "3": 0.0},
             {"loops": 0.0, "conditionals": 0.0, "arithmetic": 1.0}),
        _run("minlstm_fixed", "minlstm", "fixed", 1 / 6, {"1": 0.5, "2": 0.0, "3": 0.0},
             {"loops": 0.0, "conditionals": 0.0, "arithmetic": {"n": 1, "exact_match": 0.5}}),
        _run("transformer", "transformer", "stream", 1 / 6, {"1": 0.0, "2": 0.5, "3": 0.0},
             {"loops": 0.5, "conditionals": 0.0, "arithmetic": 0.0}),
    ]
    runs[0]["predictions"] = "mingru/predictions_heldout_test.jsonl"  # experiments.study records the file's name
    study = {"environment": {"device": "cpu (test fixture)", "jax": "0.0", "date": "2000-01-01",
                             "load_average": [0.0, 0.0, 0.0]},
             "budget_s": 30.0, "levels": [1, 2, 3], "heldout_per_level": 2, "seed": 0, "runs": runs}
    study_dir.mkdir()
    (study_dir / "study.json").write_text(json.dumps(study))
    run_dir = study_dir / "mingru"
    if with_run_folder:
        run_dir.mkdir(parents=True)
        (run_dir / "predictions_heldout_test.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PREDICTIONS))
        (run_dir / "metrics.csv").write_text("step,loss,tokens_per_s,val_loss,val_exact_match\n"
                                             "50,2.0,100.0,,\n100,1.5,110.0,1.2,0.1\n150,1.2,120.0,1.0,0.3\n")
        (run_dir / "metrics.json").write_text(json.dumps({
            "exact_match": 1 / 3, "token_exact_match": 0.5, "f1": 0.6, "sentence_similarity": 0.7,
            "pass_at_1": 1 / 3, "perplexity": 3.0, "recall": 0.6, "precision": 0.6,
            "per_level": {"1": {"exact_match": 1.0}, "2": {"exact_match": 0.0}, "3": {"exact_match": 0.0}},
            "latency_ms_p50": 1.0, "latency_ms_p95": 2.0, "programs_per_s": 100.0, "device": "cpu"}))
    results = tmp_path / "results"
    results.mkdir()
    (results / "bench_scan_cpu.json").write_text(json.dumps({
        "environment": {"device": "cpu", "jax": "0.0", "date": "2000-01-01"},
        "scans": [{"T": t, "method": m, "fwd_ms": 1.0, "fwd_bwd_ms": 2.0}
                  for t in (64, 128) for m in ("sequential", "associative")]}))
    if with_learning:  # two recipes, and the learning check's record of another kind, which is not a curve
        for recipe, final in (("default", 0.6), ("mastery", 0.3)):
            (results / f"learning_{recipe}_cpu.json").write_text(json.dumps(_learning(recipe, final)))
        (results / "learning_check_l4_cpu.json").write_text(json.dumps({"what": "another record", "runs": {}}))
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "results.csv").write_text("cell,exact_match\nmingru,0.33\n")
    return {"JAXLUA_DATA_DIR": str(data), "JAXLUA_WORKDIR": str(run_dir), "JAXLUA_SWEEP": str(sweep),
            "JAXLUA_RESULTS": str(results), "JAXLUA_LEARNING": str(results),
            "JAXLUA_STUDY": str(study_dir / "study.json"), "JAXLUA_STUDY_DIR": str(study_dir)}


def _execute(tmp_path, monkeypatch, environment):
    """Execute analysis.ipynb with notebooks/execute.py into tmp_path (never in place); a cell that raises fails
    the test (nbclient raises CellExecutionError). Returns every output's text, and the number of images."""
    spec = importlib.util.spec_from_file_location("notebook_execute", ROOT / "notebooks" / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    notebook = module.execute(ANALYSIS, out=tmp_path / "executed.ipynb", timeout=120)
    texts, images = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", output
            texts.append(output.get("text", ""))
            data = output.get("data", {})
            texts.append(data.get("text/html", "") + data.get("text/plain", ""))
            images += "image/png" in data
    return "\n".join(texts), images


def test_analysis_notebook_executes_on_a_fixture(tmp_path, monkeypatch):
    text, images = _execute(tmp_path, monkeypatch, _fixture(tmp_path))
    assert "no " + str(tmp_path) not in text, text  # every input was found: no section skipped itself
    # token histograms, training curve, learning curves, construct bars, learning efficiency
    assert images == 5
    assert "cpu (test fixture)" in text and "what mingru tests" in text
    assert "default: what default trains; cpu (learning fixture)" in text and "mastery: what mastery trains" in text
    assert "another record" not in text and "programs seen to reach each test exact match" in text
    assert "best recurrent: mingru" in text and "transformer: transformer" in text
    assert "mingru: 2 of 3 test programs wrong" in text
    # The page shows the wrong predictions beside the truth, escaped, and not the right one.
    assert "11&lt;&amp;&gt;" in text and "(no text)" in text and "for i = 1, 4 do" in text
    assert "local x = 3" not in text.split("test programs wrong")[1]


def test_analysis_notebook_skips_sections_whose_input_is_missing(tmp_path, monkeypatch):
    environment = _fixture(tmp_path, with_run_folder=False, with_data=False, with_learning=False)
    text, images = _execute(tmp_path, monkeypatch, environment)
    assert images == 2  # the study's learning curves and construct bars
    data_dir, workdir = environment["JAXLUA_DATA_DIR"], environment["JAXLUA_WORKDIR"]
    assert f"no learning_*.json of experiments.bench_learning in {environment['JAXLUA_LEARNING']}" in text
    assert f"no train, val, test split in {data_dir}" in text
    assert f"no {workdir}/metrics.csv: train first" in text
    assert f"no {workdir}/predictions_heldout_test.jsonl: set JAXLUA_STUDY_DIR" in text
    # And with no study at all, the study's sections say so.
    text, images = _execute(tmp_path, monkeypatch, {**environment, "JAXLUA_STUDY": str(tmp_path / "absent.json")})
    assert images == 0
    assert f"no {tmp_path / 'absent.json'}: run python -m experiments.study" in text
    assert "no study runs: wrong predictions skipped" in text
