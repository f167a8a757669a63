"""Batches for training: a resumable, deterministic, endless batch stream, and host prefetching.

`batches` shuffles each epoch with a permutation drawn from (seed, epoch) alone, so step s's batch
is a pure function of (arrays, batch, seed, s): a run resumed at `start_step` sees exactly the
batches an uninterrupted run would have.

`prefetch` runs an iterator in a background thread, a bounded queue ahead of its consumer, so
the host prepares the next batches while the device computes on the current one.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from seqnet.errors import UserError


class EmptyBatchError(UserError, ValueError):
    """The data has too few examples to fill one batch (a ValueError, as it always was)."""


def steps_per_epoch(n_examples: int, batch: int, drop_last: bool = True) -> int:
    """Batches in one pass over n_examples (a short last batch counts unless drop_last)."""
    return n_examples // batch if drop_last else -(-n_examples // batch)


def epoch_order(n_examples: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The example order of one epoch: a permutation drawn from (seed, epoch) only."""
    if not shuffle:
        return np.arange(n_examples)
    key = [seed & 0xFFFF_FFFF_FFFF_FFFF, epoch]
    return np.random.default_rng(np.random.SeedSequence(key)).permutation(n_examples)


def batches(
    arrays: dict[str, np.ndarray],
    batch: int,
    seed: int,
    epoch_shuffle: bool = True,
    drop_last: bool = True,
    start_step: int = 0,
) -> Iterator[dict[str, np.ndarray]]:
    """An endless iterator of {field: array[batch, ...]}, starting at step `start_step`.

    Epoch e visits the examples in `epoch_order(n, seed, e)` (index order without
    epoch_shuffle), `batch` at a time; with drop_last the examples left over at the end of an
    epoch are skipped (a different few each epoch when shuffling), otherwise the epoch ends
    with a short batch. Arguments are checked here, before the first batch is asked for.
    """
    if not arrays:
        raise ValueError("batches: no arrays")
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"batches: arrays differ in example count: {lengths}")
    n = next(iter(lengths.values()))
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batches: batch must be a positive integer, got {batch!r}")
    if isinstance(start_step, bool) or not isinstance(start_step, int) or start_step < 0:
        raise ValueError(f"batches: start_step must be a non-negative integer, got {start_step!r}")
    if n == 0 or (drop_last and n < batch):
        raise EmptyBatchError(f"batches: {n} examples cannot fill a batch of {batch}")
    per_epoch = steps_per_epoch(n, batch, drop_last)
    return _stream(dict(arrays), n, batch, seed, epoch_shuffle, per_epoch, start_step)


def curriculum_batches(stages: list, every: int, batch: int, seed: int, start: int):
    """The batches of a curriculum from step `start` on: stage s's arrays for the steps
    s * every .. (s + 1) * every - 1 (0-based), the last stage's for the rest of the run. Each
    stage's stream starts at its own step 0, so a resumed run draws what an unbroken one does."""
    first = min(start // every, len(stages) - 1)
    for s in range(first, len(stages)):
        offset = max(start - s * every, 0)
        stream = batches(stages[s], batch, seed, start_step=offset)
        if s == len(stages) - 1:
            yield from stream
        else:
            yield from itertools.islice(stream, every - offset)


def _stream(arrays, n, batch, seed, shuffle, per_epoch, start_step):
    epoch, first = divmod(start_step, per_epoch)
    while True:
        order = epoch_order(n, seed, epoch, shuffle)
        for i in range(first, per_epoch):
            if shuffle:
                idx = order[i * batch : (i + 1) * batch]
                yield {k: v[idx] for k, v in arrays.items()}
            else:  # slices: views, no copy
                yield {k: v[i * batch : (i + 1) * batch] for k, v in arrays.items()}
        first = 0
        epoch += 1


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


_END = object()


def _put(q: queue.Queue, stop: threading.Event, item) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _work(source, transform, q: queue.Queue, stop: threading.Event) -> None:
    try:
        for item in source:
            if transform is not None:
                item = transform(item)
            if not _put(q, stop, item):
                return
    except BaseException as e:  # handed to the consumer, raised there
        _put(q, stop, _Raised(e))
        return
    _put(q, stop, _END)


class Prefetcher:
    """Iterates `iterator` in a daemon thread, up to `size` items ahead (see `prefetch`)."""

    def __init__(self, iterator, size: int = 2, transform: Callable[[Any], Any] | None = None):
        if size < 1:
            raise ValueError(f"prefetch: size must be >= 1, got {size}")
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._done = False
        # The thread holds no reference to self, so an abandoned Prefetcher is collected and
        # its __del__ stops the thread.
        self._thread = threading.Thread(
            target=_work, args=(iter(iterator), transform, self._queue, self._stop),
            name="seqnet-prefetch", daemon=True,
        )  # fmt: skip
        self._thread.start()

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        while True:
            try:
                item = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self._done = True  # the worker was stopped by close()
                    raise StopIteration from None
        if item is _END:
            self._done = True
            self._thread.join()
            raise StopIteration
        if isinstance(item, _Raised):
            self._done = True
            self._thread.join()
            raise item.error
        return item

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker thread (it finishes the item in hand) and drop queued items."""
        self._done = True
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self._stop.set()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def prefetch(iterator, size: int = 2, transform: Callable[[Any], Any] | None = None) -> Prefetcher:
    """`iterator`'s items, produced by a background thread at most `size` ahead of the consumer.

    `transform` (e.g. jax.device_put) is applied to each item in that thread too. An exception
    raised by the iterator (or transform) is raised to the consumer by the `next` that would
    have returned the item. `close()` (or leaving a `with` block) stops the thread; an
    abandoned prefetcher stops when it is garbage-collected. The source iterator must not be
    used elsewhere meanwhile.
    """
    return Prefetcher(iterator, size, transform)
