"""The program stream: static shapes, determinism across workers, exact resume, no repeats, held-out sets
disjoint from it, options passed to the tokenizer, and workers that never outlive the stream."""
import collections
import dataclasses
import os
import signal

import chex
import numpy as np
import pytest

from jaxlua.data.stream import StreamConfig, StreamError, open_stream, stream_widths
from jaxlua.data.stream_order import KeyLog, OrderedProducer, SeenKeys
from jaxlua.data.stream_worker import program_seed
from jaxlua.tokenize import Tokenizer
from tests.data.fake_workers import FakeWorkers

SMALL = StreamConfig(levels=(4, 5), batch_size=8, sort_window=2, heldout_per_level=10, vocab_per_level=20,
                     workers=1, buffer_batches=4)


def take(stream, count, start=0):
    it = stream.batches(start)
    return [next(it) for _ in range(count)]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for name in x:
            np.testing.assert_array_equal(x[name], y[name])


def rows(batches):
    """The token sequence of every row, as tuples."""
    return [tuple(b["tokens"][i, :b["lengths"][i]]) for b in batches for i in range(len(b["lengths"]))]


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture(scope="module")
def small():
    with open_stream(SMALL, progress=False) as stream:
        yield stream, take(stream, 8)


def test_batches_have_static_shapes_and_valid_rows(small):
    stream, batches = small
    vocab = stream.vocab
    for batch in batches:
        assert set(batch) == {"tokens", "lengths", "output_start"}
        assert all(v.dtype == np.int32 for v in batch.values())
        width = batch["tokens"].shape[1]
        assert width in stream.widths
        chex.assert_shape(batch["tokens"], (SMALL.batch_size, width))
        chex.assert_shape([batch["lengths"], batch["output_start"]], (SMALL.batch_size,))
        for tokens, length, start in zip(batch["tokens"], batch["lengths"], batch["output_start"]):
            assert tokens[0] == vocab.bos_id and tokens[length - 1] == vocab.eos_id
            assert tokens[start - 1] == vocab.sep_id and 2 <= start < length
            assert (tokens[length:] == vocab.pad_id).all()
        assert stream.widths.index(width) == 0 or batch["lengths"].max() > stream.widths[stream.widths.index(width) - 1]
    assert len(stream.val) == len(stream.test) == SMALL.heldout_per_level * len(SMALL.levels)
    assert collections.Counter(stream.val.level.tolist()) == {4: 10, 5: 10}


def test_same_batches_for_any_number_of_workers(small):
    stream, batches = small
    with open_stream(dataclasses.replace(SMALL, workers=2, buffer_batches=16), progress=False) as two:
        assert two.vocab == stream.vocab
        np.testing.assert_array_equal(two.val.tokens, stream.val.tokens)
        assert_same(take(two, 8), batches)


def test_resume_at_step_k_regenerating_or_from_the_key_log(small, tmp_path):
    stream, batches = small
    assert_same(take(stream, 3, start=5), batches[5:])  # restart in place, no key log: regenerates 2 blocks
    assert stream.regenerated == 2 * SMALL.block_size
    with open_stream(SMALL, progress=False, state_dir=tmp_path) as first:
        assert_same(take(first, 8), batches)
    assert (tmp_path / "stream_keys.u64").stat().st_size >= 8 * 4 * SMALL.block_size
    with open_stream(SMALL, progress=False, state_dir=tmp_path) as resumed:  # a killed run's log runs ahead
        assert_same(take(resumed, 3, start=5), batches[5:])
        assert resumed.regenerated == 0
    with open(tmp_path / "stream_keys.u64", "r+b") as f:  # a log cut short (and mid-key) is completed
        f.truncate(8 * 10 + 3)
    with open_stream(SMALL, progress=False, state_dir=tmp_path) as resumed:
        assert_same(take(resumed, 3, start=5), batches[5:])
        assert resumed.regenerated == 2 * SMALL.block_size - 10


def test_key_log_of_other_settings_is_refused(tmp_path):
    KeyLog(tmp_path, {"seed": 0})
    with pytest.raises(ValueError, match="other settings"):
        KeyLog(tmp_path, {"seed": 1})


def test_no_repeats_and_disjoint_from_heldout():
    config = StreamConfig(levels=(4,), batch_size=32, sort_window=4, heldout_per_level=300, vocab_per_level=200,
                          workers=2, buffer_batches=8)
    with open_stream(config, progress=False) as stream:
        batches = take(stream, 64)
        stats = stream.stats()
        val, test = stream.val, stream.test
    # Preconditions, so the checks below can fail: the raw stream repeats itself and hits held-out programs.
    assert stats["duplicates"]["4"] > 0 and stats["rejected"]["4"].get("heldout", 0) > 0
    streamed = rows(batches)
    assert len(set(streamed)) == len(streamed) == 64 * 32
    heldout = {tuple(t[:n]) for ds in (val, test) for t, n in zip(ds.tokens, ds.lengths)}
    assert len(heldout) == len(val) + len(test)
    assert not heldout & set(streamed)


@pytest.mark.parametrize("workers,seed", [(1, 0), (3, 1), (4, 2)])
def test_ordered_acceptance_ignores_arrival_order(workers, seed):
    expected = []
    seen = set()
    for index in range(40):  # the rule, written out: the first attempt whose key no earlier slot took
        attempt = 0
        while program_seed(0, "train", index, attempt) % 60 in seen:
            attempt += 1
        seen.add(program_seed(0, "train", index, attempt) % 60)
        expected.append((index, attempt))
    producer = OrderedProducer(FakeWorkers(workers, 60, seed), chunk=3, window=10)
    got = [(c.position, c.attempt) for c in producer.run((("train", i) for i in range(40)), SeenKeys())]
    assert got == expected
    assert sum(producer.duplicates.values()) == sum(a for _, a in expected) > 0


def test_a_level_that_runs_out_of_programs_is_one_clear_error():
    producer = OrderedProducer(FakeWorkers(2, 5, 0), chunk=2, max_attempts=50)
    with pytest.raises(StreamError, match="no new unique program in 50 attempts"):
        list(producer.run((("train", i) for i in range(6)), SeenKeys()))


def test_seen_keys_across_tiers(monkeypatch):
    monkeypatch.setattr(SeenKeys, "_FLUSH", 8)
    keys = [program_seed(1, "k", i, 0) for i in range(100)]
    seen = SeenKeys(keys[:50])
    for key in keys[50:]:
        seen.add(key)
    assert len(seen) == 100 and all(k in seen for k in keys)
    assert not any(program_seed(2, "k", i, 0) in seen for i in range(100))


@pytest.mark.parametrize("tokenizer", [{"identifiers": "spelled"}, Tokenizer(identifiers="spelled")])
def test_tokenizer_options_pass_through(tokenizer):
    with open_stream(SMALL, tokenizer, progress=False) as stream:
        assert stream.tokenizer.settings() == Tokenizer(identifiers="spelled").settings()
        assert stream.info["settings"]["tokenizer"] == stream.tokenizer.settings()
        assert "NAME" in stream.vocab
        assert not any(t.startswith("IDENTIFIER(") for t in stream.vocab.tokens)
        name = stream.vocab.token_id("NAME")
        assert any((b["tokens"] == name).any() for b in take(stream, 2))


def test_bad_settings_are_one_clear_error():
    with pytest.raises(ValueError, match="stream sort_window must be a positive int"):
        StreamConfig(sort_window=0)
    with pytest.raises(ValueError, match="stream vocab_per_level"):
        StreamConfig(vocab_per_level=-1)
    with pytest.raises(ValueError, match="one weight per level"):
        StreamConfig(levels=(4, 5), initial_mix=(1.0,))
    with pytest.raises(ValueError, match="not all zero"):
        StreamConfig(levels=(4, 5), initial_mix=(0.0, 0.0))
    with pytest.raises(ValueError, match="unknown tokenizer mode"):
        open_stream(SMALL, {"mode": "bogus"})


@pytest.mark.parametrize("how", ["close", "exception", "keyboard_interrupt"])
def test_workers_are_reaped(how):
    stream = open_stream(SMALL, progress=False)
    pids = stream.worker_pids
    assert pids and not any(gone(p) for p in pids)
    error = {"close": None, "exception": RuntimeError, "keyboard_interrupt": KeyboardInterrupt}[how]
    if error is None:
        take(stream, 2)
        stream.close()
        stream.close()
    else:
        with pytest.raises(error):
            with stream:
                take(stream, 2)
                raise error("stop")
    assert all(gone(p) for p in pids)
    with pytest.raises(StreamError, match="closed"):
        stream.batches(0)


def test_a_dead_worker_is_reported_and_the_rest_reaped():
    with open_stream(dataclasses.replace(SMALL, workers=2), progress=False) as stream:
        pids = stream.worker_pids
        it = stream.batches(0)
        next(it)
        os.kill(pids[0], signal.SIGKILL)
        with pytest.raises(StreamError, match="died"):
            for _ in range(10_000):
                next(it)
    assert all(gone(p) for p in pids)


def test_widths_cover_every_length_up_to_max_len():
    widths = stream_widths(np.array([10, 20, 30, 41]), 2, 512)
    assert widths == (32, 48, 96, 192, 384, 512)
    assert stream_widths(np.array([500, 510]), 4, 512) == (504, 512)


def test_a_level_mix_with_small_blocks_does_not_stall():
    """Blocks of 8 slots with one worker: the producer keeps every worker busy with 64 slots in flight, but a
    level mix decides slots only MIX_LAG_BLOCKS blocks ahead of the trainer; reading further ahead waited for the
    trainer, which waited for those slots (it hung before the producer's window was capped)."""
    import threading

    config = dataclasses.replace(SMALL, sort_window=1, initial_mix=(1.0, 1.0))
    got, failed = [], []

    def train():
        try:
            with open_stream(config, progress=False) as stream:
                batches = stream.batches(0)
                for step in range(12):
                    stream.set_mix([], step)
                    got.append(next(batches))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failed.append(exc)

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    thread.join(90)
    assert not failed and len(got) == 12, (f"stalled after {len(got)} of 12 batches" if thread.is_alive()
                                           else failed)
