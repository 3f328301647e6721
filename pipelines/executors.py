"""Where units of work run: a process pool on this machine (``local``) or a Ray cluster (``ray``).

Both take units with ``submit(name, fn, *args)``. A unit runs ``fn(*args, progress)`` on a
worker, where ``progress(event, name, value)`` reaches the driver's display, and comes back from
``results()`` as soon as it finishes, in any order, as an :class:`Outcome`: its value or its
one-line error, the node that ran it and for how long. Units write their outputs themselves,
atomically, into a folder every node can reach (on a cluster: a shared filesystem path); what
they return is small.

- ``local``: ``workers`` spawned processes, started when a second unit waits; with one worker,
  or a single unit, units run in this process. A worker that dies breaks the pool: its unit and
  those not finished fail, a re-run resumes.
- ``ray``: one task per unit, one CPU each, on the cluster at ``ray_address`` (default
  ``$RAY_ADDRESS``), or on a Ray instance started here with ``workers`` CPUs. A task whose worker
  or node dies, or that raises ``OSError`` (a shared filesystem's hiccup), is tried again, up to
  ``RETRIES`` more times (Ray's ``max_retries``); then it fails with its error. Every node needs
  atdkit installed (``pip install 'atdkit[ray]'``), and the films and the dataset folder at the
  same paths as the driver.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

Progress = Callable[[str, str, float], None]  # (event, name, value), see atdkit.pipelines.extraction.scan
EXECUTORS = ("local", "ray")
RETRIES = 3


class ExecutorError(Exception):
    """An executor that cannot start; the message is the one-line reason."""


@dataclass(frozen=True)
class Outcome:
    name: str
    value: Any = None
    error: str | None = None  # one line: why the unit failed (after its retries)
    node: str = ""
    seconds: float = 0.0  # the unit's own time on its worker

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class ExecutorChoice:
    """What the command line asked for: ``--executor``, ``--workers``, ``--ray-address``."""

    kind: str = "local"
    workers: int = 1  # local processes, or the CPUs of a Ray instance started here
    ray_address: str | None = None

    def check(self) -> None:
        """Fail now, before any work, when this executor is unknown or Ray is missing."""
        if self.kind not in EXECUTORS:
            raise ExecutorError(f"unknown executor {self.kind!r}; choose one of {', '.join(EXECUTORS)}")
        if self.kind == "ray":
            import_ray()

    def open(self, progress: Progress) -> Executor:
        self.check()
        if self.kind == "ray":
            return RayExecutor(self.workers, progress, self.ray_address or os.environ.get("RAY_ADDRESS"))
        return LocalExecutor(self.workers, progress)


class Executor:
    kind: str
    workers: int  # units that can run at once

    def submit(self, name: str, fn: Callable, *args) -> None:
        raise NotImplementedError

    def results(self) -> Iterator[Outcome]:
        """Outcomes as units finish, until none is left (units submitted meanwhile included)."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _timed(fn: Callable, args: tuple, progress: Progress, node: str) -> tuple[Any, str, float]:
    started = time.perf_counter()
    value = fn(*args, progress)
    return value, node, time.perf_counter() - started


def _single_threaded_libraries() -> None:
    """A pooled worker is one unit on one core: OpenCV's own threads would only compete."""
    import cv2

    cv2.setNumThreads(1)


# --------------------------------------------------------------------------- local


_worker_queue = None


def _init_pool_worker(queue) -> None:
    global _worker_queue
    _worker_queue = queue
    _single_threaded_libraries()


def _run_in_pool(fn: Callable, args: tuple) -> tuple[Any, str, float]:
    return _timed(fn, args, lambda *event: _worker_queue.put(event), socket.gethostname())


class LocalExecutor(Executor):
    kind = "local"

    def __init__(self, workers: int, progress: Progress):
        self.workers, self._progress = max(1, workers), progress
        self._node = socket.gethostname()
        self._waiting: deque[tuple[str, Callable, tuple]] = deque()  # run here, in order, while there is no pool
        self._futures: dict[Future, str] = {}
        self._pool = self._queue = self._relay = None

    def _start_pool(self) -> None:
        """The worker processes, started once a second unit waits (one unit alone runs here, without their start-up)."""
        context = multiprocessing.get_context("spawn")
        self._queue = context.Queue()
        self._relay = threading.Thread(target=self._relay_events, daemon=True)
        self._relay.start()
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_init_pool_worker, initargs=(self._queue,)
        )
        while self._waiting:
            name, fn, args = self._waiting.popleft()
            self._futures[self._pool.submit(_run_in_pool, fn, args)] = name

    def _relay_events(self) -> None:
        while (event := self._queue.get()) is not None:
            self._progress(*event)

    def submit(self, name: str, fn: Callable, *args) -> None:
        if self._pool is None:
            self._waiting.append((name, fn, args))
            if self.workers > 1 and len(self._waiting) > 1:
                self._start_pool()
        else:
            self._futures[self._pool.submit(_run_in_pool, fn, args)] = name

    def results(self) -> Iterator[Outcome]:
        while self._waiting or self._futures:
            if self._pool is None:
                name, fn, args = self._waiting.popleft()
                try:
                    value, node, seconds = _timed(fn, args, self._progress, self._node)
                except Exception as error:  # the unit's bug: reported like a pooled unit's
                    yield Outcome(name, error=_one_line(error), node=self._node)
                else:
                    yield Outcome(name, value, None, node, seconds)
                continue
            finished, _ = wait(self._futures, return_when=FIRST_COMPLETED)
            for future in finished:
                name = self._futures.pop(future)
                try:
                    value, node, seconds = future.result()
                except Exception as error:  # the unit's bug, or its worker died (BrokenProcessPool)
                    yield Outcome(name, error=_one_line(error), node=self._node)
                else:
                    yield Outcome(name, value, None, node, seconds)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._queue.put(None)
            self._relay.join()
            self._pool = None


# --------------------------------------------------------------------------- Ray


def import_ray():
    try:
        import ray
    except ImportError:
        raise ExecutorError(
            "--executor ray needs Ray, which is not installed here: pip install 'atdkit[ray]'"
        ) from None
    return ray


class _Inbox:
    """A Ray actor keeping the units' progress events until the driver takes them."""

    def __init__(self):
        self._events: list[tuple] = []

    def put(self, event: tuple) -> None:
        self._events.append(event)

    def take(self) -> list[tuple]:
        events, self._events = self._events, []
        return events


def _run_on_ray(fn: Callable, args: tuple, inbox) -> tuple[Any, str, float]:
    import ray

    _single_threaded_libraries()
    node = f"{socket.gethostname()} ({ray.get_runtime_context().get_node_id()[:8]})"
    return _timed(fn, args, lambda *event: inbox.put.remote(event), node)  # events are sent, not awaited


class RayExecutor(Executor):
    kind = "ray"

    def __init__(self, workers: int, progress: Progress, address: str | None = None):
        ray = self._ray = import_ray()
        self._progress = progress
        self._owns_session = not ray.is_initialized()
        if self._owns_session:
            quiet = dict(logging_level=logging.ERROR, log_to_driver=False)
            try:
                if address:
                    ray.init(address=address, **quiet)
                else:
                    ray.init(address="local", num_cpus=max(1, workers), include_dashboard=False, **quiet)
            except (ConnectionError, RuntimeError, ValueError) as error:
                what = f"reach the Ray cluster at {address}" if address else "start a local Ray instance"
                raise ExecutorError(f"cannot {what}: {_one_line(error)}") from None
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self._inbox = ray.remote(num_cpus=0)(_Inbox).remote()
        self._task = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=[OSError])(_run_on_ray)
        self._pending: dict[Any, str] = {}

    def submit(self, name: str, fn: Callable, *args) -> None:
        self._pending[self._task.options(name=f"atdkit {name}").remote(fn, args, self._inbox)] = name

    def _relay_events(self) -> None:
        for event in self._ray.get(self._inbox.take.remote()):
            self._progress(*event)

    def results(self) -> Iterator[Outcome]:
        ray = self._ray
        while self._pending:
            finished, _ = ray.wait(list(self._pending), num_returns=1, timeout=0.25)
            self._relay_events()
            for ref in finished:
                name = self._pending.pop(ref)
                try:
                    value, node, seconds = ray.get(ref)
                except ray.exceptions.RayTaskError as error:  # the unit raised (on its last try)
                    yield Outcome(name, error=_one_line(error.cause if error.cause is not None else error))
                except ray.exceptions.RayError as error:  # its worker or node kept dying
                    yield Outcome(name, error=f"failed {RETRIES + 1} times: {_one_line(error)}")
                else:
                    yield Outcome(name, value, None, node, seconds)
        self._relay_events()

    def close(self) -> None:
        for ref in self._pending:
            self._ray.cancel(ref, force=True)
        self._pending.clear()
        if self._owns_session:
            self._ray.shutdown()


# --------------------------------------------------------------------------- per node


@dataclass
class NodeFacts:
    units: int = 0
    failed: int = 0
    seconds: float = 0.0  # busy time: the sum of its units' times
    amount: float = 0.0  # work done: frames, triplets


@dataclass
class NodeTally:
    """What each node did in a run, from the outcomes of its units."""

    nodes: dict[str, NodeFacts] = field(default_factory=dict)

    def add(self, outcome: Outcome, amount: float = 0) -> None:
        facts = self.nodes.setdefault(outcome.node or "unknown", NodeFacts())
        facts.units += 1
        facts.failed += outcome.failed
        facts.seconds += outcome.seconds
        facts.amount += amount

    def table(self, unit: str) -> Table:
        """A per-node summary: units, failures, busy seconds, ``unit`` done and per second."""
        table = Table(title="per node", title_justify="left")
        for column in ("node", "units", "failed", "busy s", unit, f"{unit}/s"):
            table.add_column(column, justify="left" if column == "node" else "right")
        for node, facts in sorted(self.nodes.items()):
            rate = facts.amount / facts.seconds if facts.seconds else 0.0
            table.add_row(
                node,
                str(facts.units),
                str(facts.failed),
                f"{facts.seconds:.1f}",
                f"{facts.amount:,.0f}",
                f"{rate:,.1f}",
            )
        return table
