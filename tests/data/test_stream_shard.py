"""The sharded program stream: threads of this process stand in for the processes of a run (in-memory exchange).

Each "process" opens a stream of its own, with its own workers, sharing one exchange; together they must give
exactly the batches, held-out sets and vocabulary of one unsharded stream, with each making only its share of
the slots, through collision rounds (level 0 repeats itself often) and a resume from key logs of unequal length.
"""
import collections
import dataclasses
import threading

import numpy as np
import pytest

from jaxlua.data.stream import StreamConfig, StreamError, open_stream
from jaxlua.data.stream_exchange import KeyValueExchange, MemoryStore, memory_exchanges
from jaxlua.data.stream_order import SeenKeys
from jaxlua.data.stream_shard import ShardedProducer, colliding, decode_payload, encode_payload
from jaxlua.data.stream_worker import Candidate, program_seed
from tests.data.fake_workers import FakeWorkers

CONFIG = StreamConfig(levels=(4, 5), batch_size=8, sort_window=2, heldout_per_level=10, vocab_per_level=20,
                      workers=1, buffer_batches=4)
REPEATS = dataclasses.replace(CONFIG, levels=(0, 4), sort_window=4)  # level 0 has few distinct programs
MIXED = dataclasses.replace(REPEATS, batch_size=16, sort_window=1, initial_mix=(1.0, 1.0))  # a curriculum's mix
MIX_SETTINGS = [(1, (1.0, 0.0)), (4, (0.25, 0.75))]


def take(stream, count, start=0):
    it = stream.batches(start)
    out = []
    for step in range(start, start + count):
        if stream.config.initial_mix:
            stream.set_mix([s for s in MIX_SETTINGS if s[0] <= step], step)
        out.append(next(it))
    return out


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for name in x:
            np.testing.assert_array_equal(x[name], y[name])


def in_threads(count, function):
    """`function(process)` in `count` threads at once; their results in process order (an error is raised)."""
    results, errors = [None] * count, []

    def run(process):
        try:
            results[process] = function(process)
        except BaseException as exc:  # pylint: disable=broad-except
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if errors:
        raise errors[0]
    return results


def sharded(config, count, steps, start=0, state_dirs=None, exchanges=None, restart=None):
    """(batches, stream stats, val tokens, vocab tokens, regenerated) of each of `count` sharded streams;
    `restart`: then restart in place at that step and take 3 more batches, appended."""
    exchanges = exchanges or memory_exchanges(count, timeout_s=60)

    def one(process):
        state_dir = state_dirs[process] if state_dirs else None
        with open_stream(config, progress=False, exchange=exchanges[process], state_dir=state_dir) as stream:
            batches = take(stream, steps, start)
            stats = stream.stats()
            if restart is not None:
                batches += take(stream, 3, restart)
            return batches, stats, stream.val.tokens, stream.vocab.tokens, stream.regenerated

    return in_threads(count, one)


@pytest.fixture(scope="module")
def reference():
    """One unsharded stream's first batches, held-out set and vocabulary, for CONFIG, REPEATS and MIXED."""
    out = {}
    for name, config, steps in (("plain", CONFIG, 8), ("repeats", REPEATS, 8), ("mixed", MIXED, 12)):
        with open_stream(config, progress=False) as stream:
            out[name] = take(stream, steps), stream.val.tokens, stream.vocab.tokens
    return out


@pytest.mark.parametrize("count", [2, 3])
def test_sharded_streams_give_the_batches_of_one_stream(reference, count):
    batches, val, vocab = reference["plain"]
    exchanges = memory_exchanges(count, timeout_s=60)
    results = sharded(CONFIG, count, 8, exchanges=exchanges, restart=5)
    for got, stats, got_val, got_vocab, regenerated in results:
        assert_same(got, batches + batches[5:])  # and again after a restart in place at step 5
        assert regenerated == 2 * CONFIG.block_size
        np.testing.assert_array_equal(got_val, val)
        assert got_vocab == vocab
        accepted = sum(stats["accepted"].values())
        assert accepted >= 4 * CONFIG.block_size
        # Its own share of the blocks it started (at most 3 past the accepted ones) and its retries, no more.
        share = (accepted + 3 * CONFIG.block_size) / count + 1 + sum(stats["duplicates"].values())
        assert sum(stats["made"].values()) <= share < accepted
    assert len(exchanges[0].store.values) <= 2 * count  # each process's newest key (and one it left waiting)


@pytest.mark.parametrize("name, config, steps", [("repeats", REPEATS, 8), ("mixed", MIXED, 12)])
def test_collision_rounds_resolve_to_the_batches_of_one_stream(reference, name, config, steps):
    batches, val, vocab = reference[name]
    results = sharded(config, 2, steps)
    for got, stats, got_val, got_vocab, _ in results:
        assert_same(got, batches)
        np.testing.assert_array_equal(got_val, val)
        assert got_vocab == vocab
        assert stats["collision_rounds"] > 0 and stats["duplicates"]["0"] > 0  # rounds really happened


def test_resume_from_key_logs_of_unequal_length(reference, tmp_path):
    batches, _, _ = reference["repeats"]
    dirs = [tmp_path / "p0", tmp_path / "p1"]
    sharded(REPEATS, 2, 8, state_dirs=dirs)
    logs = [(d / "stream_keys.u64").read_bytes() for d in dirs]
    assert logs[0][:len(logs[1])] == logs[1][:len(logs[0])]  # every process logs every key of the run
    assert min(map(len, logs)) >= 8 * 2 * REPEATS.block_size
    with open(dirs[1] / "stream_keys.u64", "r+b") as f:  # process 1 was killed before writing most of its log
        f.truncate(8 * 10)
    results = sharded(REPEATS, 2, 3, start=5, state_dirs=dirs)
    for got, _, _, _, regenerated in results:
        assert_same(got, batches[5:])
        assert regenerated == REPEATS.block_size - 10  # both start from the shorter log
    results = sharded(REPEATS, 2, 3, start=5, state_dirs=dirs)  # now both logs are complete
    assert [r[4] for r in results] == [0, 0]
    assert_same(results[1][0], batches[5:])


# --- The producer alone, with in-process workers: the rule written out, errors, the exchange. -----------------


def expected_attempts(slots, keys):
    """The sequential rule: each slot takes its first accepted attempt whose key no earlier slot took."""
    seen, out = set(), []
    for index in range(slots):
        attempt = 0
        while True:
            seed = program_seed(0, "train", index, attempt)
            if seed % 5 and seed % keys not in seen:
                break
            attempt += 1
        seen.add(program_seed(0, "train", index, attempt) % keys)
        out.append((index, attempt))
    return out


def produce(count, slots, keys, block_size=8, fail=(), max_attempts=1000):
    exchanges = memory_exchanges(count, timeout_s=30)

    def one(process):
        producer = ShardedProducer(FakeWorkers(2, keys, process, fail, reject_multiple=5), exchanges[process], block_size, chunk=3,
                                   max_attempts=max_attempts)
        got = [(c.position, c.attempt) for c in producer.run((("train", i) for i in range(slots)), SeenKeys())]
        return got, producer

    return in_threads(count, one), exchanges


@pytest.mark.parametrize("count", [2, 3])
def test_the_sharded_producer_follows_the_sequential_rule(count):
    results, exchanges = produce(count, 40, 60)
    expected = expected_attempts(40, 60)
    # Attempts before a slot's own are either rejected by its worker or duplicates of earlier slots.
    rejected = sum(program_seed(0, "train", i, a) % 5 == 0 for i, final in expected for a in range(final))
    duplicates = sum(final for _, final in expected) - rejected
    for got, producer in results:
        assert got == expected
        assert sum(producer.duplicates.values()) == duplicates > 0 and producer.collision_rounds > 0
        assert sum(producer.rejected.values()) == rejected > 0  # every process counts every worker's
    made = [sum(p.made.values()) for _, p in results]
    assert sum(made) == 40 + duplicates and max(made) < 40 / count + duplicates  # each made its share
    assert len(exchanges[0].store.values) <= count  # only the last round's keys remain


def test_a_slot_without_any_program_stops_every_process_with_its_message():
    with pytest.raises(StreamError, match="no acceptable program for slot 13"):
        produce(2, 40, 1000, fail=(13,))
    with pytest.raises(StreamError, match="no new unique program in 3 attempts"):
        produce(2, 12, 4, max_attempts=3)


def test_colliding_and_payloads():
    assert colliding([5, 6, 5, 7, 6, 1], SeenKeys([7])) == [2, 3, 4]
    candidates = {3: Candidate(3, 2, 2**64 - 1, 4, ids=np.array([1, 7, 2], np.int32), output_start=2, unknown=1),
                  0: Candidate(0, 0, 12, 5, record={"id": "x", "source": "print(1)", "stdout": "1\n"})}
    rows, rejected, error = decode_payload(encode_payload(candidates, collections.Counter({(4, "lua"): 2}), None), 10)
    assert [o for o, _ in rows] == [0, 3] and rejected == [[4, "lua", 2]] and error is None
    assert rows[1][1].key == 2**64 - 1 and rows[1][1].position == 13 and rows[1][1].ids.tolist() == [1, 7, 2]
    assert rows[0][1].record == candidates[0].record and rows[0][1].ids is None


def test_an_exchange_names_the_process_that_does_not_answer_and_stops_on_request():
    store = MemoryStore()
    lonely = KeyValueExchange(store, 1, 3, "run", timeout_s=0.3)
    KeyValueExchange(store, 0, 3, "run").store.set("run/t/0", b"here")
    with pytest.raises(StreamError, match="process 2 of 3 sent nothing for 't' in 0.3 s"):
        lonely.all_gather("t", b"x")
    stop = threading.Event()
    stop.set()
    assert KeyValueExchange(store, 1, 2, "other").all_gather("t", b"x", stop) is None
