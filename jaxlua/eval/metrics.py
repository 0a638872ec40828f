"""Per-program metrics and their aggregation (NumPy only; each metric is defined once, here).

Every metric is computed for one program and then averaged over programs, overall and per level.
Token metrics take sequences of output tokens (strings or ids); text metrics take decoded stdout.

Edge cases, fixed here once:
- precision/recall/f1 and sentence_similarity: both sequences empty -> 1.0 (a program that prints
  nothing, predicted to print nothing, is fully correct); exactly one empty -> 0.0.
- pass_at_k: if fewer than k samples are wrong, every k-subset holds a correct one -> 1.0.
- unk_tokens / unk_programs are totals, not means: how many `<UNK>` ids (tokens missing from the run's
  vocabulary) the encoded programs and reference outputs hold, and how many programs hold any; an `<UNK>`
  in a reference output cannot be decoded back to its text, so such a program cannot be an exact match.
- perplexity is aggregated per token (total NLL over total output tokens), not as a mean of
  per-program perplexities, so long outputs weigh by their length as in a language-model corpus.
"""
from __future__ import annotations

import collections
import math
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np

PASS_AT_KS: tuple[int, ...] = (1, 5, 10)

# Per-program keys that aggregate() averages; perplexity is built from nll_sum / n_tokens instead.
AVERAGED_KEYS: tuple[str, ...] = (
    "exact_match",
    "token_exact_match",
    "precision",
    "recall",
    "f1",
    "sentence_similarity",
) + tuple(f"pass_at_{k}" for k in PASS_AT_KS)


def _stdout_bytes(text: str | bytes) -> bytes:
    """The bytes of a stdout text: UTF-8 with surrogate escapes (bytes Lua printed that were not UTF-8) restored,
    as `jaxlua.lua.sandbox` decodes them; any other lone surrogate (a model can write one) kept as its code."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="surrogatepass")


def exact_match(pred_text: str | bytes, ref_text: str | bytes) -> float:
    """1.0 if the predicted stdout equals the true stdout byte for byte (the headline metric)."""
    return float(_stdout_bytes(pred_text) == _stdout_bytes(ref_text))


def token_exact_match(pred_tokens: Sequence[Hashable], ref_tokens: Sequence[Hashable]) -> float:
    """1.0 if the two output token sequences are identical (the dissertation's EM)."""
    return float(list(pred_tokens) == list(ref_tokens))


def _overlap(pred_tokens: Iterable[Hashable], ref_tokens: Iterable[Hashable]) -> tuple[int, int, int]:
    """(multiset overlap, len(pred), len(ref)): each token counts at most min(count_pred, count_ref)."""
    pred_counts = collections.Counter(pred_tokens)
    ref_counts = collections.Counter(ref_tokens)
    common = sum((pred_counts & ref_counts).values())
    return common, sum(pred_counts.values()), sum(ref_counts.values())


def precision_recall_f1(
    pred_tokens: Sequence[Hashable], ref_tokens: Sequence[Hashable]
) -> tuple[float, float, float]:
    """QA-style multiset precision, recall and F1 of the predicted against the reference tokens."""
    common, n_pred, n_ref = _overlap(pred_tokens, ref_tokens)
    if n_pred == 0 and n_ref == 0:
        return 1.0, 1.0, 1.0
    if n_pred == 0 or n_ref == 0 or common == 0:
        return 0.0, 0.0, 0.0
    precision = common / n_pred
    recall = common / n_ref
    return precision, recall, 2.0 * precision * recall / (precision + recall)


def precision(pred_tokens: Sequence[Hashable], ref_tokens: Sequence[Hashable]) -> float:
    """Fraction of predicted tokens found in the reference (multiset overlap / len(pred))."""
    return precision_recall_f1(pred_tokens, ref_tokens)[0]


def recall(pred_tokens: Sequence[Hashable], ref_tokens: Sequence[Hashable]) -> float:
    """Fraction of reference tokens found in the prediction (multiset overlap / len(ref))."""
    return precision_recall_f1(pred_tokens, ref_tokens)[1]


def f1(pred_tokens: Sequence[Hashable], ref_tokens: Sequence[Hashable]) -> float:
    """Harmonic mean of precision and recall."""
    return precision_recall_f1(pred_tokens, ref_tokens)[2]


def sentence_similarity(pred_tokens: Sequence[Hashable], ref_tokens: Sequence[Hashable]) -> float:
    """Cosine similarity of the bag-of-token count vectors (not of raw token-id vectors)."""
    pred_counts = collections.Counter(pred_tokens)
    ref_counts = collections.Counter(ref_tokens)
    if not pred_counts and not ref_counts:
        return 1.0
    if not pred_counts or not ref_counts:
        return 0.0
    dot = sum(count * ref_counts[token] for token, count in pred_counts.items())
    norm_pred = math.sqrt(sum(c * c for c in pred_counts.values()))
    norm_ref = math.sqrt(sum(c * c for c in ref_counts.values()))
    return dot / (norm_pred * norm_ref)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k = 1 - C(n-c, k) / C(n, k) from n samples of which c are correct (Chen et al. 2021).

    Uses the stable product form 1 - prod_{i=n-c+1}^{n} (1 - k / i), which never forms the binomials.
    """
    if n < 1 or not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs n >= 1, 0 <= c <= n and 1 <= k <= n; got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def count_unk(token_ids: Sequence[int] | np.ndarray, unk_id: int) -> int:
    """Number of `<UNK>` ids in one encoded program (pass only its real tokens, not the padding)."""
    return int(np.count_nonzero(np.asarray(token_ids) == unk_id))


def unk_warning(unk_programs: int, unk_tokens: int, num_programs: int) -> str | None:
    """The one warning line for programs holding `<UNK>` tokens, or None when there are none."""
    if unk_programs == 0:
        return None
    return (f"{unk_programs} of {num_programs} programs hold {unk_tokens} <UNK> token(s), tokens missing from "
            "the run's vocabulary; an exact match is impossible where one sits in the output")


def perplexity(nll_sum: float, n_tokens: int) -> float:
    """exp(mean negative log-likelihood per token); the NLL is in nats."""
    if n_tokens <= 0:
        raise ValueError(f"perplexity needs at least one token; got n_tokens={n_tokens}")
    if nll_sum < -1e-3 * n_tokens:  # float rounding may leave tiny negatives when p(token) ~ 1
        raise ValueError(f"a negative log-likelihood sum must be >= 0; got {nll_sum}")
    return float(math.exp(nll_sum / n_tokens))


def score_program(
    pred_text: str | None,
    ref_text: str,
    pred_tokens: Sequence[Hashable],
    ref_tokens: Sequence[Hashable],
    sample_texts: Sequence[str | None] | None = None,
    nll_sum: float | None = None,
    n_tokens: int | None = None,
    unk_tokens: int | None = None,
) -> dict[str, float]:
    """Every per-program metric for one program.

    pred_text None means the predicted tokens could not be turned into text: never an exact match.
    sample_texts: the n sampled outputs for pass@k (k in PASS_AT_KS with k <= n); when None, pass@1 is the
    greedy exact match (n = 1). nll_sum / n_tokens: teacher-forced NLL of the reference output, kept for
    the per-token perplexity in aggregate(). unk_tokens: `<UNK>` ids in the encoded program and reference
    output (count_unk), summed by aggregate() into unk_tokens and unk_programs.
    """
    p, r, f = precision_recall_f1(pred_tokens, ref_tokens)
    row = {
        "exact_match": 0.0 if pred_text is None else exact_match(pred_text, ref_text),
        "token_exact_match": token_exact_match(pred_tokens, ref_tokens),
        "precision": p,
        "recall": r,
        "f1": f,
        "sentence_similarity": sentence_similarity(pred_tokens, ref_tokens),
    }
    if sample_texts is None:
        row["pass_at_1"] = row["exact_match"]
    else:
        n = len(sample_texts)
        c = sum(int(text is not None and exact_match(text, ref_text) == 1.0) for text in sample_texts)
        for k in PASS_AT_KS:
            if k <= n:
                row[f"pass_at_{k}"] = pass_at_k(n, c, k)
    if nll_sum is not None and n_tokens is not None:
        row["nll_sum"] = float(nll_sum)
        row["n_tokens"] = int(n_tokens)
    if unk_tokens is not None:
        row["unk_tokens"] = int(unk_tokens)
    return row


def _summarise(rows: Sequence[Mapping[str, float]]) -> dict[str, float | int]:
    """Mean of every averaged key present in all rows, the per-token perplexity and the `<UNK>` totals."""
    summary: dict[str, float | int] = {"num_programs": len(rows)}
    for key in AVERAGED_KEYS:
        if rows and all(key in row for row in rows):
            summary[key] = float(np.mean([row[key] for row in rows]))
    if rows and all("nll_sum" in row and "n_tokens" in row for row in rows):
        total_tokens = int(sum(row["n_tokens"] for row in rows))
        summary["nll_per_token"] = float(sum(row["nll_sum"] for row in rows) / total_tokens)
        summary["perplexity"] = perplexity(sum(row["nll_sum"] for row in rows), total_tokens)
    if rows and all("unk_tokens" in row for row in rows):
        summary["unk_tokens"] = int(sum(row["unk_tokens"] for row in rows))
        summary["unk_programs"] = int(sum(row["unk_tokens"] > 0 for row in rows))
    return summary


def aggregate(rows: Sequence[Mapping[str, float]], levels: Sequence[int]) -> dict:
    """Average per-program rows overall and per level: {metric: value, ..., "per_level": {"1": {...}}}.

    Level keys are strings so that the result round-trips through JSON unchanged.
    """
    if len(rows) != len(levels):
        raise ValueError(f"aggregate needs one level per row; got {len(rows)} rows and {len(levels)} levels")
    result: dict = _summarise(rows)
    by_level: dict[int, list[Mapping[str, float]]] = collections.defaultdict(list)
    for row, level in zip(rows, levels):
        by_level[int(level)].append(row)
    result["per_level"] = {str(level): _summarise(by_level[level]) for level in sorted(by_level)}
    return result


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """The q-th percentile of a list of durations in seconds, in milliseconds."""
    if len(seconds) == 0:
        raise ValueError("percentile_ms needs at least one duration")
    return float(np.percentile(np.asarray(seconds, dtype=np.float64), q) * 1000.0)
