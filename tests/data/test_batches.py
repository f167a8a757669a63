"""Batch streams: epochs, determinism, resuming mid-run; prefetching in a background thread."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest
from hang_guard import HANG_GUARD_S
from hypothesis import given
from hypothesis import strategies as st

from seqnet.data.batches import batches, prefetch, steps_per_epoch


def _arrays(n=37):
    return {"x": np.arange(n * 3).reshape(n, 3).astype(np.float32), "id": np.arange(n)}


def _take(it, k):
    return list(itertools.islice(it, k))


def _same(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b, strict=True):
        assert p.keys() == q.keys()
        for k in p:
            np.testing.assert_array_equal(p[k], q[k])


@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize("shuffle", [True, False])
def test_epochs_visit_every_example(drop_last, shuffle):
    n, b = 37, 5
    per = steps_per_epoch(n, b, drop_last)
    assert per == (7 if drop_last else 8)
    out = _take(batches(_arrays(n), b, seed=0, epoch_shuffle=shuffle, drop_last=drop_last),
                3 * per)  # fmt: skip
    for epoch in range(3):
        ids = np.concatenate([o["id"] for o in out[epoch * per : (epoch + 1) * per]])
        assert len(ids) == len(set(ids.tolist())) == (35 if drop_last else 37)
        if not shuffle:
            np.testing.assert_array_equal(ids, np.arange(len(ids)))
    for o in out:
        np.testing.assert_array_equal(o["x"][:, 0], o["id"] * 3)  # fields stay aligned
        assert len(o["id"]) == 5 or (not drop_last and len(o["id"]) == 2)
    if shuffle:  # epochs are shuffled differently
        first = np.concatenate([o["id"] for o in out[:per]])
        second = np.concatenate([o["id"] for o in out[per : 2 * per]])
        assert not np.array_equal(first, second)


def test_seeds():
    a = _take(batches(_arrays(), 4, seed=1), 20)
    b = _take(batches(_arrays(), 4, seed=1), 20)
    c = _take(batches(_arrays(), 4, seed=2), 20)
    _same(a, b)
    assert any(not np.array_equal(p["id"], q["id"]) for p, q in zip(a, c, strict=True))


@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize("shuffle", [True, False])
def test_resume_matches_uninterrupted_run(drop_last, shuffle):
    arrays, b = _arrays(23), 4
    full = _take(batches(arrays, b, seed=7, epoch_shuffle=shuffle, drop_last=drop_last), 40)
    for start in [0, 1, 5, 6, 7, 12, 23, 39]:
        resumed = batches(arrays, b, seed=7, epoch_shuffle=shuffle, drop_last=drop_last,
                          start_step=start)  # fmt: skip
        _same(_take(resumed, 40 - start), full[start:])


@given(
    n=st.integers(1, 30), batch=st.integers(1, 8), seed=st.integers(-5, 2**40),
    start=st.integers(0, 60), drop_last=st.booleans(),
)  # fmt: skip
def test_resume_property(n, batch, seed, start, drop_last):
    if drop_last and n < batch:
        with pytest.raises(ValueError):
            batches(_arrays(n), batch, seed, drop_last=drop_last)
        return
    full = _take(batches(_arrays(n), batch, seed, drop_last=drop_last), start + 3)
    resumed = _take(batches(_arrays(n), batch, seed, drop_last=drop_last, start_step=start), 3)
    _same(resumed, full[start:])


def test_bad_arguments():
    with pytest.raises(ValueError, match="example count"):
        batches({"a": np.zeros(3), "b": np.zeros(4)}, 2, 0)
    with pytest.raises(ValueError, match="cannot fill"):
        batches(_arrays(3), 4, 0)
    with pytest.raises(ValueError):
        batches(_arrays(3), 0, 0)
    with pytest.raises(ValueError):
        batches(_arrays(3), 1, 0, start_step=-1)
    with pytest.raises(ValueError):
        batches({}, 1, 0)


# --- prefetch ----------------------------------------------------------------------------------


def test_prefetch_yields_the_same_items_in_order():
    src = _take(batches(_arrays(), 4, seed=3), 25)
    with prefetch(iter(src), size=3) as p:
        got = list(p)
    _same(got, src)
    assert not p.running


def test_prefetch_propagates_exceptions_after_earlier_items():
    def source():
        yield 1
        yield 2
        raise KeyError("broken loader")

    p = prefetch(source())
    assert next(p) == 1 and next(p) == 2
    with pytest.raises(KeyError, match="broken loader"):
        next(p)
    with pytest.raises(StopIteration):
        next(p)
    assert not p.running


def test_prefetch_transform_runs_in_the_worker_thread():
    seen = []

    def transform(item):
        seen.append(threading.current_thread().name)
        return item * 10

    assert list(prefetch(range(5), transform=transform)) == [0, 10, 20, 30, 40]
    assert set(seen) == {"seqnet-prefetch"}


def test_prefetch_is_bounded_and_closes_an_endless_stream():
    produced = []
    full = threading.Event()

    def endless():
        for i in itertools.count():
            produced.append(i)
            if i == 3:
                full.set()
            yield i

    p = prefetch(endless(), size=2)
    assert next(p) == 0
    # The worker fills up: the one consumed, `size` queued, and one in the worker's hand.
    assert full.wait(HANG_GUARD_S), "the worker never ran ahead"
    time.sleep(0.2)  # room to overrun the bound, if it did not hold (a bug could only add items)
    assert len(produced) == 1 + 2 + 1
    assert p.running
    p.close(timeout=HANG_GUARD_S)
    assert not p.running
    with pytest.raises(StopIteration):
        next(p)
    count = len(produced)
    time.sleep(0.1)
    assert len(produced) == count


def test_prefetch_runs_ahead_of_a_slow_consumer():
    """While the consumer still holds item 0, the worker goes on to produce items 1 and 2 (the
    queue's size): the source's work overlaps the consumer's. Shown with an event, not a clock:
    a prefetcher that only fetched on demand would never reach item 2 and fail at the guard."""
    reached_2 = threading.Event()

    def source():
        for i in range(10):
            if i == 2:
                reached_2.set()
            yield i

    with prefetch(source(), size=2) as p:
        first = next(p)
        assert reached_2.wait(HANG_GUARD_S), "the worker did not run ahead of the consumer"
        rest = list(p)
    assert [first, *rest] == list(range(10))


def test_abandoned_prefetcher_stops_its_thread():
    p = prefetch(itertools.count(), size=1)
    next(p)
    thread = p._thread
    del p
    thread.join(HANG_GUARD_S)  # returns as soon as the thread ends; the bound only guards a hang
    assert not thread.is_alive()
