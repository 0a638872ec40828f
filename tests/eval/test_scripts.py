"""Flag validation of experiments/evaluate.py and experiments/predict.py: one clear line, exit code 2."""
import subprocess
import sys
import types

import pytest

from experiments import evaluate, predict
import os

from jaxlua.cli.flags import FlagError
from jaxlua.config import EVALUATE
from jaxlua.workdir_files import metrics_filename

EVALUATE_DEFAULTS = dict(workdir=None, split="test", data_dir=None, limit=None, num_samples=10, temperature=0.8,
                         batch_size=32, max_new_tokens=None, latency_programs=32, seed=0)


def evaluate_flags(**changes):
    return types.SimpleNamespace(**{**EVALUATE_DEFAULTS, **changes})


def test_evaluate_accepts_good_flags(tmp_path):
    workdir, evaluation = evaluate.parse_args(evaluate_flags(workdir=str(tmp_path), split="val", limit=5,
                                                            num_samples=0, temperature=0.0))
    assert workdir == tmp_path and evaluation.split == "val" and evaluation.limit == 5 and evaluation.num_samples == 0
    assert evaluate.parse_args(evaluate_flags(workdir=str(tmp_path)))[1] == EVALUATE  # the flags' defaults
    assert metrics_filename("test") == "metrics.json"
    assert metrics_filename("val") == "metrics_val.json"
    assert metrics_filename("test", "other-1a2b3c4d", 5) == "metrics_other-1a2b3c4d_test_limit5.json"


@pytest.mark.parametrize("changes,message", [
    (dict(workdir=None), "--workdir is required"),
    (dict(workdir="/no/such/dir"), "is not a directory"),
    (dict(split="dev"), "--split must be one of"),
    (dict(data_dir="/no/such/data"), "--data_dir"),
    (dict(limit=0), "--limit"),
    (dict(num_samples=-1), "--num_samples"),
    (dict(num_samples=5, temperature=0.0), "--temperature"),
    (dict(batch_size=0), "--batch_size"),
    (dict(max_new_tokens=0), "--max_new_tokens"),
    (dict(latency_programs=-3), "--latency_programs"),
])
def test_evaluate_rejects_bad_flags(tmp_path, changes, message):
    values = evaluate_flags(workdir=str(tmp_path))
    for key, value in changes.items():
        setattr(values, key, value)
    with pytest.raises(FlagError, match=message):
        evaluate.parse_args(values)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_evaluate_refuses_a_workdir_it_cannot_write(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(FlagError, match="is not writable"):
            evaluate.parse_args(evaluate_flags(workdir=str(tmp_path)))
    finally:
        tmp_path.chmod(0o755)


def test_evaluate_refuses_an_unwritable_workdir_even_as_root(tmp_path, monkeypatch):
    """The same refusal where permission bits do not bind (root, as in CI): the check asks os.access."""
    monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: not mode & os.W_OK)
    with pytest.raises(FlagError, match="is not writable"):
        evaluate.parse_args(evaluate_flags(workdir=str(tmp_path)))


def test_predict_flags(tmp_path):
    program = tmp_path / "prog.lua"
    program.write_text('print("hi")\n', encoding="utf-8")
    good = types.SimpleNamespace(workdir=str(tmp_path), file=str(program), max_new_tokens=None, run_lua=True)
    args = predict.parse_args(good)
    assert args.source == 'print("hi")\n' and args.file == program
    binary = tmp_path / "binary.lua"
    binary.write_bytes(b"\xff\xfe\x00")
    for changes, message in [(dict(file=None), "--file is required"), (dict(file=str(tmp_path)), "is not a file"),
                             (dict(file=str(binary)), "UTF-8"), (dict(workdir=""), "--workdir is required"),
                             (dict(max_new_tokens=-1), "--max_new_tokens")]:
        with pytest.raises(FlagError, match=message):
            predict.parse_args(types.SimpleNamespace(**{**vars(good), **changes}))


def test_show_marks_missing_newline_and_empty_output():
    assert predict.show("t:", "1\n2\n") == "t:\n1\n2"
    assert predict.show("t:", "1") == "t:\n1\n(no newline at end of output)"
    assert predict.show("t:", "") == "t:\n(no output)"
    assert "do not form" in predict.show("t:", None)


@pytest.mark.parametrize("argv,message", [
    (["-m", "experiments.evaluate"], "error: --workdir is required (the training run's directory)"),
    (["-m", "experiments.evaluate", "--workdir=/no/such/dir"], "error: --workdir /no/such/dir is not a directory"),
    (["-m", "experiments.predict", "--workdir=.", "--file=/no/such.lua"], "error: --file /no/such.lua is not a file"),
])
def test_scripts_exit_2_with_one_line(argv, message):
    result = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == message


def test_scripts_on_a_directory_that_is_no_run(tmp_path):
    """A workdir without a trained run is bad input for both scripts: one line, exit code 2, no traceback."""
    program = tmp_path / "prog.lua"
    program.write_text('print("hi")\n', encoding="utf-8")
    for argv in (["-m", "experiments.evaluate", f"--workdir={tmp_path}"],
                 ["-m", "experiments.predict", f"--workdir={tmp_path}", f"--file={program}"]):
        result = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, JAX_PLATFORMS="cpu"))
        assert result.returncode == 2, result.stderr[-2000:]
        assert result.stderr.strip() == f"error: {tmp_path} has no config.json: not a training workdir"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prog.lua"]  # the lock is gone again


def test_predict_warns_once_about_unknown_tokens():
    from jaxlua.tokenize import Tokenizer  # pylint: disable=import-outside-toplevel

    tokenizer = Tokenizer()
    seen = "local total = 1\nprint(total)\n"
    vocab = tokenizer.build_vocabulary([tokenizer.program_tokens(seen)])
    assert predict.unk_line(tokenizer.program_tokens(seen), vocab, "a.lua") is None
    line = predict.unk_line(tokenizer.program_tokens("local other = 1\nprint(other + other + fresh)\n"), vocab,
                            "a.lua")
    assert "\n" not in line and line.startswith("warning: a.lua: 1 of 1 programs hold 4 <UNK> token(s)")
    assert "'IDENTIFIER(other)', 'IDENTIFIER(fresh)'" in line


def test_the_evaluation_after_training_reads_only_the_runs_test_split(tmp_path):
    """run_experiment takes an EvalConfig; one naming another split or dataset is refused before anything runs."""
    from jaxlua.cli.experiment import run_experiment  # pylint: disable=import-outside-toplevel
    from jaxlua.config import EvalConfig, TrainConfig  # pylint: disable=import-outside-toplevel

    for evaluation in (EvalConfig(split="val"), EvalConfig(data_dir=str(tmp_path))):
        with pytest.raises(ValueError, match="own test split"):
            run_experiment(TrainConfig(steps=2), tmp_path / "run", evaluation)
    assert not (tmp_path / "run").exists()
