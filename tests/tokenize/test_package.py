"""Package-level guarantees: no JAX import on the NumPy side; the throughput helper reports sane numbers."""
import pathlib
import subprocess
import sys

import pytest

from jaxlua.tokenize import Tokenizer, tokenization_throughput


def test_tokenize_does_not_import_jax():
    code = "import sys, jaxlua.tokenize; assert not any(m == 'jax' or m.startswith('jax.') for m in sys.modules)"
    root = pathlib.Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_tokenization_throughput_reports_counts():
    records = [{"source": "print(1)", "stdout": "1\n"}, {"source": "print(", "stdout": ""}]
    report = tokenization_throughput(records, Tokenizer("semantic"), repeats=1)
    assert report["programs"] == 2 and report["syntax_errors"] == 1
    assert report["programs_per_s"] > 0 and report["mean_output_tokens"] == 1.0
    with pytest.raises(ValueError, match="at least one record"):
        tokenization_throughput([])
