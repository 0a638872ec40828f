"""Every metric against hand-computed values (jaxlua.eval.metrics is NumPy only)."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from jaxlua.eval import metrics as M


def test_metrics_module_imports_no_jax():
    code = "import sys, jaxlua.eval.metrics, jaxlua.eval; assert 'jax' not in sys.modules, 'jax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_exact_match_is_byte_equality():
    assert M.exact_match("1\n2\n", "1\n2\n") == 1.0
    assert M.exact_match("1\n2", "1\n2\n") == 0.0  # a missing trailing newline is a different stdout
    assert M.exact_match("1.0\n", "1\n") == 0.0
    assert M.exact_match("", "") == 1.0
    assert M.exact_match("é\n", "é\n".encode("utf-8")) == 1.0
    assert M.exact_match("e\u0301", "é") == 0.0  # different bytes, same look
    # Bytes Lua printed that are not UTF-8 arrive as surrogate escapes; a model may predict them, or other lone
    # surrogates: compared as bytes, never an encoding error.
    assert M.exact_match("\udca8\n", b"\xa8\n") == 1.0 and M.exact_match("a\udca8", "a\udca8") == 1.0
    assert M.exact_match("\ud800", "\udca8") == 0.0


def test_token_exact_match():
    assert M.token_exact_match(["NUMBER(1)", "NEWLINE"], ("NUMBER(1)", "NEWLINE")) == 1.0
    assert M.token_exact_match(["NUMBER(1)"], ["NUMBER(1)", "NEWLINE"]) == 0.0
    assert M.token_exact_match([], []) == 1.0
    assert M.token_exact_match([2, 1], [1, 2]) == 0.0


def test_precision_recall_f1_multiset_overlap():
    # pred a a b c, ref a b b: overlap = min(2,1)[a] + min(1,2)[b] = 2 -> P = 2/4, R = 2/3, F1 = 4/7.
    p, r, f = M.precision_recall_f1(list("aabc"), list("abb"))
    assert p == pytest.approx(0.5)
    assert r == pytest.approx(2 / 3)
    assert f == pytest.approx(4 / 7)
    assert M.precision(list("aabc"), list("abb")) == pytest.approx(0.5)
    assert M.recall(list("aabc"), list("abb")) == pytest.approx(2 / 3)
    assert M.f1(list("aabc"), list("abb")) == pytest.approx(4 / 7)
    # Order does not matter; repeated tokens are not double counted.
    assert M.precision_recall_f1(list("ab"), list("ba")) == (1.0, 1.0, 1.0)
    assert M.precision_recall_f1(list("aaaa"), list("a")) == pytest.approx((0.25, 1.0, 0.4))


def test_precision_recall_f1_edge_cases():
    assert M.precision_recall_f1([], []) == (1.0, 1.0, 1.0)
    assert M.precision_recall_f1([], ["a"]) == (0.0, 0.0, 0.0)
    assert M.precision_recall_f1(["a"], []) == (0.0, 0.0, 0.0)
    assert M.precision_recall_f1(["a"], ["b"]) == (0.0, 0.0, 0.0)


def test_sentence_similarity_is_cosine_of_counts():
    # counts pred {a:2, b:1}, ref {a:1, c:1}: dot = 2, norms sqrt(5), sqrt(2) -> 2 / sqrt(10).
    assert M.sentence_similarity(list("aab"), list("ac")) == pytest.approx(2 / math.sqrt(10))
    assert M.sentence_similarity(list("abc"), list("cba")) == pytest.approx(1.0)
    assert M.sentence_similarity(list("aa"), list("a")) == pytest.approx(1.0)  # same direction
    assert M.sentence_similarity(list("ab"), list("cd")) == 0.0
    assert M.sentence_similarity([], []) == 1.0
    assert M.sentence_similarity([], ["a"]) == 0.0
    # Token ids are compared as symbols, not as vector coordinates (the original's bug).
    assert M.sentence_similarity([7], [8]) == 0.0


def test_pass_at_k_hand_values():
    assert M.pass_at_k(10, 0, 1) == 0.0
    assert M.pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert M.pass_at_k(10, 3, 5) == pytest.approx(1 - 21 / 252)  # 1 - C(7,5)/C(10,5)
    assert M.pass_at_k(10, 1, 10) == 1.0
    assert M.pass_at_k(10, 6, 5) == 1.0  # only 4 wrong: every 5-subset holds a correct one
    assert M.pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)


def test_pass_at_k_matches_binomials_and_is_stable():
    for n in (1, 7, 20):
        for c in range(n + 1):
            for k in range(1, n + 1):
                expected = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert M.pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)
    # Binomials of n = 2000 overflow floats; the product form does not.
    assert M.pass_at_k(2000, 1, 1) == pytest.approx(1 / 2000)
    assert 0.0 < M.pass_at_k(2000, 3, 100) < 1.0


@pytest.mark.parametrize("n,c,k", [(0, 0, 1), (5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_pass_at_k_rejects_bad_counts(n, c, k):
    with pytest.raises(ValueError, match="pass_at_k"):
        M.pass_at_k(n, c, k)


def test_perplexity():
    assert M.perplexity(0.0, 5) == 1.0
    assert M.perplexity(3 * math.log(4.0), 3) == pytest.approx(4.0)  # uniform over 4 tokens
    assert M.perplexity(math.log(2.0) + math.log(8.0), 2) == pytest.approx(4.0)  # geometric mean of 2 and 8
    with pytest.raises(ValueError, match="n_tokens"):
        M.perplexity(1.0, 0)
    with pytest.raises(ValueError, match=">= 0"):
        M.perplexity(-1.0, 3)


def test_score_program_and_pass_at_k_from_samples():
    row = M.score_program("12\n", "12\n", ["1", "2", "\n"], ["1", "2", "\n"],
                          sample_texts=["12\n", "13\n", None, "12\n", "0\n"], nll_sum=1.5, n_tokens=4)
    assert row["exact_match"] == 1.0 and row["f1"] == 1.0 and row["sentence_similarity"] == pytest.approx(1.0)
    assert row["pass_at_1"] == pytest.approx(2 / 5)
    assert row["pass_at_5"] == 1.0
    assert "pass_at_10" not in row  # needs n >= 10 samples
    assert row["nll_sum"] == 1.5 and row["n_tokens"] == 4
    greedy_only = M.score_program(None, "", [], [])
    assert greedy_only["exact_match"] == 0.0  # undecodable output never matches, even an empty stdout
    assert greedy_only["pass_at_1"] == 0.0
    assert greedy_only["token_exact_match"] == 1.0


def test_aggregate_overall_and_per_level():
    rows = [
        M.score_program("a", "a", ["a"], ["a"], nll_sum=math.log(2.0), n_tokens=1),
        M.score_program("b", "a", ["b"], ["a"], nll_sum=math.log(8.0), n_tokens=1),
        M.score_program("ab", "ab", ["a", "b"], ["a", "b"], nll_sum=2 * math.log(4.0), n_tokens=2),
    ]
    result = M.aggregate(rows, levels=[1, 1, 2])
    assert result["num_programs"] == 3
    assert result["exact_match"] == pytest.approx(2 / 3)
    assert result["f1"] == pytest.approx(2 / 3)
    assert result["pass_at_1"] == pytest.approx(2 / 3)
    # Per-token perplexity: exp((log 2 + log 8 + 2 log 4) / 4) = 4.
    assert result["perplexity"] == pytest.approx(4.0)
    assert set(result["per_level"]) == {"1", "2"}
    assert result["per_level"]["1"]["exact_match"] == pytest.approx(0.5)
    assert result["per_level"]["1"]["perplexity"] == pytest.approx(4.0)  # sqrt(2 * 8)
    assert result["per_level"]["2"]["num_programs"] == 1
    assert result["per_level"]["2"]["exact_match"] == 1.0
    assert json.loads(json.dumps(result)) == result
    with pytest.raises(ValueError, match="one level per row"):
        M.aggregate(rows, levels=[1])


def test_percentile_ms():
    assert M.percentile_ms([0.001, 0.002, 0.003], 50) == pytest.approx(2.0)
    assert M.percentile_ms([0.010] * 19 + [0.100], 95) == pytest.approx(14.5)  # linear interpolation
    with pytest.raises(ValueError):
        M.percentile_ms([], 50)


def test_unk_tokens_are_counted_overall_and_per_level():
    unk = 4
    programs = [np.array([1, 5, unk, 2, 6, unk, 3]), np.array([1, 5, 2, 6, 3]), np.array([1, unk, 2, 3])]
    counts = [M.count_unk(ids, unk) for ids in programs]
    assert counts == [2, 0, 1]
    rows = [M.score_program("1\n", "1\n", ["1"], ["1"], unk_tokens=c) for c in counts]
    result = M.aggregate(rows, [1, 2, 1])
    assert (result["unk_tokens"], result["unk_programs"]) == (3, 2)
    assert (result["per_level"]["1"]["unk_tokens"], result["per_level"]["1"]["unk_programs"]) == (3, 2)
    assert (result["per_level"]["2"]["unk_tokens"], result["per_level"]["2"]["unk_programs"]) == (0, 0)
    assert "unk_tokens" not in M.aggregate([M.score_program("1\n", "1\n", ["1"], ["1"])], [1])
    assert M.unk_warning(0, 0, 3) is None
    assert M.unk_warning(2, 3, 3).startswith("2 of 3 programs hold 3 <UNK> token(s)")
