"""The data side of a run, ahead of the forwards: a bounded queue filled by one background thread.

Decoding, view selection, pair making and the adapter's ``prepare`` of batch k + 1 run while the
model computes batch k. Model forwards (torch) and most of the data side (decoders, numpy, OpenCV,
torch kernels) release the GIL, so one thread is enough to overlap them; a single producer keeps
every sampler call in one thread and in plan order, so the result is the same whatever the queue
depth. The thread's own torch work (resizes, restyles) runs on one intra-op thread: the forwards
already use every core, and a second OpenMP team would only contend with them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

import torch

__all__ = ["prefetched"]

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetched(items: Iterable[T], depth: int) -> Generator[T, None, None]:
    """``items`` in order, produced up to ``depth`` ahead by a background thread (``depth`` <= 0:
    in the caller's thread, as a plain loop).

    An exception raised while producing is raised again here, in order, as it was; stopping early
    (``close()``, an exception or Ctrl-C in the consumer) stops the producer after the item it is
    making.

    Examples:
        >>> list(prefetched(iter(range(5)), depth=2))
        [0, 1, 2, 3, 4]
        >>> def bad():
        ...     yield 1
        ...     raise ValueError("clip 2 cannot be read")
        >>> it = prefetched(bad(), 2); next(it)
        1
        >>> next(it)
        Traceback (most recent call last):
        ...
        ValueError: clip 2 cannot be read
    """
    if depth <= 0:
        yield from items
        return
    box: queue.Queue[object] = queue.Queue(maxsize=int(depth))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        # This thread's OpenMP setting; torch also keeps it as the default of threads started
        # later, so it is put back when the thread ends.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it in its own thread
            put(_Failure(exc))
        finally:
            torch.set_num_threads(threads)

    worker = threading.Thread(target=produce, name="sdinterp-data", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=5.0)
