"""Running an elementwise update in cache-sized chunks, on as many threads as there are cores.

An optimizer's update is elementwise: element i of every array it writes depends only on element i of the
arrays it reads, and every NumPy ufunc rounds each element on its own. So the update may run on any
partition of the elements, in any order, and write the same bits. `for_each_chunk` cuts the arrays of every
parameter into flat chunks of `CHUNK` elements, small enough to stay in a core's cache through the dozen
passes an update makes over them (instead of a dozen trips to memory for each whole array), and shares the
chunks out among up to `threads()` threads; NumPy releases the GIL inside each ufunc loop, so the threads
compute at the same time. Updates of fewer than `PARALLEL_MIN` elements in all run in the calling thread.

This is only an arrangement for speed: `suites/reference/test_oracle_optim.py` checks that the in-place
optimizers using it write the same bits as their readable versions, in one chunk and in many.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

CHUNK = 65536            # elements per chunk: five float64 streams of it fit a 2 MiB L2 cache
PARALLEL_MIN = 8 * CHUNK  # below this many elements per update, threads cost more than they save (measured)
MAX_THREADS = 8

Kernel = Callable[[Sequence[np.ndarray], list[np.ndarray]], None]
"""kernel(arrays, work): update one chunk; `arrays` are views of one parameter's arrays at the same
elements, `work` scratch buffers of the chunk's shape and dtype (their contents are undefined)."""

_local = threading.local()  # per thread: scratch arrays by (dtype, shape, count)
_pool: tuple[tuple[int, int], ThreadPoolExecutor] | None = None  # keyed by (process id, workers)
_pool_lock = threading.Lock()
_limit: int | None = None
_WORK_SHAPES = 64  # scratch kept for at most this many shapes per thread


def threads() -> int:
    """The cores this process may run on, at most MAX_THREADS and at most the limit set by `limit_threads`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_THREADS, _limit or MAX_THREADS))


def limit_threads(count: int | None) -> int | None:
    """Use at most `count` threads (None: as many as there are cores); returns the previous limit.
    `mlpbench bench --threads N` sets it, as it sets torch's and the BLAS libraries' thread counts."""
    global _limit
    if count is not None and count < 1:
        raise ValueError(f"the thread limit must be at least 1, got {count}")
    previous, _limit = _limit, count
    return previous


def _executor(workers: int) -> ThreadPoolExecutor:
    """The process's pool of `workers` threads; a forked child (conformance workers are forked) makes its own."""
    global _pool
    key = (os.getpid(), workers)
    with _pool_lock:
        if _pool is None or _pool[0] != key:
            if _pool is not None and _pool[0][0] == key[0]:
                _pool[1].shutdown(wait=False)
            _pool = (key, ThreadPoolExecutor(workers, thread_name_prefix="oracle-chunks"))
        return _pool[1]


def _work(count: int, like: np.ndarray) -> list[np.ndarray]:
    """`count` scratch arrays shaped and typed like `like`, kept per thread and reused."""
    cache = _local.__dict__.setdefault("work", {})
    key = (like.dtype, like.shape, count)
    if key not in cache:
        if len(cache) >= _WORK_SHAPES:
            cache.clear()
        cache[key] = [np.empty(like.shape, like.dtype) for _ in range(count)]
    return cache[key]


def _pieces(group: Sequence[np.ndarray]) -> list[Sequence[np.ndarray]]:
    """The group whole when it is one chunk or cannot be viewed flat (not C-contiguous), else its chunks."""
    if group[0].size <= CHUNK or not all(array.flags.c_contiguous for array in group):
        return [group]
    flat = [array.reshape(-1) for array in group]
    return [[array[start : start + CHUNK] for array in flat] for start in range(0, flat[0].size, CHUNK)]


def _run(kernel: Kernel, pieces: Sequence[Sequence[np.ndarray]], scratch: int) -> None:
    for arrays in pieces:
        kernel(arrays, _work(scratch, arrays[0]))


def _split(pieces: list[Sequence[np.ndarray]], parts: int) -> list[list[Sequence[np.ndarray]]]:
    """Consecutive runs of pieces with about the same number of elements each."""
    total = sum(piece[0].size for piece in pieces)
    runs: list[list[Sequence[np.ndarray]]] = [[]]
    done = 0
    for piece in pieces:
        if done >= total * len(runs) / parts and len(runs) < parts:
            runs.append([])
        runs[-1].append(piece)
        done += piece[0].size
    return runs


def for_each_chunk(kernel: Kernel, groups: Sequence[Sequence[np.ndarray]], scratch: int) -> None:
    """Call `kernel` on every chunk of every group (one group per parameter: arrays of one shape).

    A group of at most CHUNK elements, or whose arrays are not all C-contiguous, is one piece.
    """
    pieces = [piece for group in groups for piece in _pieces(group)]
    total = sum(piece[0].size for piece in pieces)
    runs = _split(pieces, threads()) if total >= PARALLEL_MIN else [pieces]
    if len(runs) <= 1:
        _run(kernel, pieces, scratch)
        return
    pool = _executor(threads() - 1)
    futures = [pool.submit(_run, kernel, run, scratch) for run in runs[1:]]
    try:
        _run(kernel, runs[0], scratch)
    finally:
        wait(futures)  # never return while a thread still writes into the caller's arrays
    for future in futures:
        future.result()
