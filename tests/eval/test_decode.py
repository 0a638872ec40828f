"""Jit decoding and teacher-forced NLL against step-by-step references on toy models."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxlua.eval.decode import Decoder, decode_rows, length_bucket, score_rows, strip_output
from tests.eval.fakes import BigramLM, RecurrentLM, ToyVocab

MAX_LEN = 16
VOCAB = ToyVocab(["w", "a", "b", "x", "y"])
W, A, B, X, Y = (VOCAB.stoi[t] for t in "wabxy")
EOS, SEP, BOS, PAD = VOCAB.eos_id, VOCAB.sep_id, VOCAB.bos_id, VOCAB.pad_id


def scripted_table() -> np.ndarray:
    """After SEP: a (0.6) or x (0.4); a -> b -> EOS; x -> y -> EOS; everything else nearly impossible."""
    probs = np.full((len(VOCAB), len(VOCAB)), 1e-12)
    probs[SEP, A], probs[SEP, X] = 0.6, 0.4
    probs[A, B] = probs[X, Y] = probs[B, EOS] = probs[Y, EOS] = 1.0
    probs[W, W] = probs[BOS, W] = 1.0
    return np.log(probs / probs.sum(axis=1, keepdims=True))


def prompt(n_words: int, width: int = MAX_LEN) -> np.ndarray:
    row = np.full(width, PAD, np.int32)
    row[: n_words + 2] = [BOS] + [W] * n_words + [SEP]
    return row


def test_length_bucket():
    assert [length_bucket(n, 64) for n in (1, 16, 17, 33, 64)] == [16, 16, 32, 64, 64]
    assert length_bucket(40, 48) == 48  # capped at max_len
    with pytest.raises(ValueError, match="outside"):
        length_bucket(65, 64)


def test_strip_output():
    assert strip_output([5, 6, EOS, PAD], EOS) == [5, 6]
    assert strip_output([5, 6], EOS) == [5, 6]


def test_greedy_follows_argmax_and_stops_at_eos_in_eval_mode():
    model = BigramLM(scripted_table(), rngs=nnx.Rngs(0))
    decoder = Decoder(model, eos_id=EOS, pad_id=PAD, max_len=MAX_LEN)
    prompts = np.stack([prompt(1), prompt(4), prompt(2)])
    out = decoder.generate(prompts, np.array([3, 6, 4]), max_new_tokens=6)
    expected = [A, B, EOS, PAD, PAD, PAD]
    np.testing.assert_array_equal(out, np.array([expected] * 3))
    assert model.dropout.deterministic is False  # the caller's model keeps its training mode
    np.testing.assert_array_equal(decoder.generate(prompts, np.array([3, 6, 4]), max_new_tokens=1), [[A]] * 3)


def test_rows_stop_when_prompt_and_output_fill_max_len():
    decoder = Decoder(BigramLM(scripted_table(), rngs=nnx.Rngs(0)), eos_id=EOS, pad_id=PAD, max_len=MAX_LEN)
    long_prompt = prompt(MAX_LEN - 4)  # prompt length MAX_LEN - 2: room for two output tokens
    out = decoder.generate(np.stack([long_prompt, prompt(1)]), np.array([MAX_LEN - 2, 3]), max_new_tokens=5)
    np.testing.assert_array_equal(out, [[A, B, PAD, PAD, PAD], [A, B, EOS, PAD, PAD]])
    with pytest.raises(ValueError, match="prompt lengths"):
        decoder.generate(np.stack([prompt(MAX_LEN - 2)]), np.array([MAX_LEN]), max_new_tokens=2)


_prefill = nnx.jit(lambda m, t, n: m.prefill(t, n))
_decode_step = nnx.jit(lambda m, s, t: m.decode_step(s, t))


def reference_greedy(model, prompt_row, prompt_length, steps):
    """One row, no bucketing, no while_loop: prefill then decode_step, argmax each time."""
    state, logits = _prefill(model, jnp.asarray(prompt_row[None]), jnp.asarray([prompt_length]))
    out = []
    for _ in range(steps):
        token = jnp.argmax(logits, axis=-1).astype(jnp.int32)
        out.append(int(token[0]))
        if out[-1] == EOS:
            break
        logits, state = _decode_step(model, state, token)
    return strip_output(out, EOS)


def test_batched_bucketed_decoding_equals_one_row_reference():
    model = RecurrentLM(len(VOCAB), rngs=nnx.Rngs(3), scale=3.0)
    rng = np.random.default_rng(0)
    lengths = [3, 9, 5, 14, 4, 7]
    tokens = np.zeros((len(lengths), 32), np.int32)
    for row, n in enumerate(lengths):
        tokens[row, :n] = [BOS, *rng.integers(5, len(VOCAB), size=n - 2), SEP]
    decoder = Decoder(model, eos_id=EOS, pad_id=PAD, max_len=32)
    output_start = np.array(lengths, np.int32)
    got = decode_rows(decoder, tokens, output_start, np.array([0, 1, 2, 3, 4, 5, 1]), batch_size=4,
                      max_new_tokens=8)
    expected = [reference_greedy(model, tokens[r], n, 8) for r, n in enumerate(lengths)]
    assert got == expected + [expected[1]]


def test_sampling_is_seeded_and_cold_sampling_is_greedy():
    model = RecurrentLM(len(VOCAB), rngs=nnx.Rngs(1), scale=3.0)
    decoder = Decoder(model, eos_id=EOS, pad_id=PAD, max_len=MAX_LEN)
    prompts, lengths = np.stack([prompt(2)] * 8), np.full(8, 4)
    greedy = decoder.generate(prompts, lengths, max_new_tokens=6)
    cold = decoder.generate(prompts, lengths, max_new_tokens=6, temperature=1e-4, key=jax.random.key(0))
    np.testing.assert_array_equal(cold, greedy)
    hot_a = decoder.generate(prompts, lengths, max_new_tokens=6, temperature=3.0, key=jax.random.key(1))
    hot_b = decoder.generate(prompts, lengths, max_new_tokens=6, temperature=3.0, key=jax.random.key(1))
    np.testing.assert_array_equal(hot_a, hot_b)
    assert len({tuple(row) for row in hot_a}) > 1  # rows draw different samples
    with pytest.raises(ValueError, match="PRNG key"):
        decoder.generate(prompts, lengths, max_new_tokens=2, temperature=1.0)


def test_sampling_frequencies_follow_the_model():
    decoder = Decoder(BigramLM(scripted_table(), rngs=nnx.Rngs(0)), eos_id=EOS, pad_id=PAD, max_len=MAX_LEN)
    out = decoder.generate(np.stack([prompt(1)] * 512), np.full(512, 3), max_new_tokens=4, temperature=1.0,
                           key=jax.random.key(7))
    first = out[:, 0]
    assert set(first) == {A, X}
    assert abs(np.mean(first == A) - 0.6) < 0.07
    assert np.all(out[first == A, :3] == [A, B, EOS]) and np.all(out[first == X, :3] == [X, Y, EOS])


def test_output_nll_matches_stepwise_teacher_forcing():
    model = RecurrentLM(len(VOCAB), rngs=nnx.Rngs(2))
    sequences = [[BOS, W, SEP, A, B, EOS], [BOS, W, W, W, SEP, X, EOS], [BOS, SEP, EOS]]
    tokens = np.zeros((3, MAX_LEN), np.int32)
    for row, seq in enumerate(sequences):
        tokens[row, : len(seq)] = seq
    lengths = np.array([len(s) for s in sequences], np.int32)
    output_start = np.array([s.index(SEP) + 1 for s in sequences], np.int32)
    nll, count = score_rows(Decoder(model, eos_id=EOS, pad_id=PAD, max_len=MAX_LEN), tokens, lengths,
                            output_start, batch_size=2)
    np.testing.assert_array_equal(count, [3, 2, 1])  # output tokens with EOS
    for row, seq in enumerate(sequences):
        state = jnp.zeros((1, model.hidden))
        expected = 0.0
        for t in range(len(seq) - 1):
            logits, state = model.decode_step(state, jnp.asarray([seq[t]]))
            if t + 1 >= output_start[row]:
                expected -= float(jax.nn.log_softmax(logits[0])[seq[t + 1]])
        assert nll[row] == pytest.approx(expected, rel=1e-5)


def test_uniform_model_has_perplexity_vocab_size():
    model = RecurrentLM(len(VOCAB), rngs=nnx.Rngs(0), scale=0.0)
    tokens = np.stack([np.array([BOS, W, SEP, A, B, EOS] + [PAD] * 10, np.int32)] * 2)
    nll, count = Decoder(model, eos_id=EOS, pad_id=PAD, max_len=MAX_LEN).output_nll(
        tokens, np.array([6, 4]), np.array([3, 3]))
    np.testing.assert_allclose(np.exp(nll / count), len(VOCAB), rtol=1e-6)


def test_decoder_needs_prefill_and_decode_step():
    with pytest.raises(TypeError, match="prefill"):
        Decoder(nnx.Linear(2, 2, rngs=nnx.Rngs(0)), eos_id=EOS, pad_id=PAD, max_len=MAX_LEN)


def test_one_compilation_serves_every_batch_and_decoder_of_a_shape():
    from jaxlua.eval.decode import _generate

    model = BigramLM(scripted_table(), rngs=nnx.Rngs(0))
    tokens = np.stack([prompt(n % 5) for n in range(7)])
    output_start = np.array([n % 5 + 2 for n in range(7)], np.int32)
    before = _generate._cache_size()
    for _ in range(2):  # a fresh Decoder (fresh split of the model) must reuse the compiled function
        decoder = Decoder(model, eos_id=EOS, pad_id=PAD, max_len=MAX_LEN)
        out = decode_rows(decoder, tokens, output_start, np.arange(7), batch_size=3, max_new_tokens=5)
        assert out == [[A, B]] * 7
    assert _generate._cache_size() == before + 1  # 3 batches x 2 decoders, one bucket: one trace
