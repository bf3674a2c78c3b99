"""Campaigns: many claims run sequentially, across local processes, or on a Dask cluster.

Every claim is one task whose only inputs are plain values (claim name, profile name, seed,
example budget), so the same seed gives the same :class:`~verify.report.ClaimRecord`
whichever executor ran it. Executors:

* sequential (``jobs=1``): in this process, with per-example progress;
* local processes (``jobs > 1``): :class:`concurrent.futures.ProcessPoolExecutor` with the
  ``spawn`` start method; workers report per-example progress through a manager queue and use
  single-threaded BLAS (the linear algebra is small; threads would oversubscribe the cores);
* Dask distributed (``scheduler``): ``"local"`` starts an in-process
  :class:`distributed.LocalCluster` with ``jobs`` single-threaded worker processes, any other
  value is a scheduler address for :class:`distributed.Client`. Needs the ``dask`` extra.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from verify import registry
from verify.claim import Outcome
from verify.profiles import get_profile
from verify.report import ClaimRecord, record_from_dict, record_from_result
from verify.runner import run_claim

_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Task:
    """One claim to run: everything a worker needs, as plain values."""

    claim: str
    profile: str
    seed: int
    max_examples: int | None = None


class ProgressSink(Protocol):
    def put(self, item: tuple[str, int, float]) -> None: ...


def run_task(task: Task, progress: ProgressSink | None = None) -> dict[str, Any]:
    """Run one claim and return its record as a dict (picklable, JSON-able)."""
    import dataclasses

    claim = registry.get(task.claim)
    profile = get_profile(task.profile)
    last = [0.0]

    def on_example(count: int, outcome: Outcome) -> None:
        now = time.monotonic()
        if progress is not None and (now - last[0] > 0.25 or not outcome.passed):
            last[0] = now
            progress.put((task.claim, count, outcome.ratio))

    result = run_claim(
        claim, profile, seed=task.seed, max_examples=task.max_examples, on_example=on_example
    )
    return dataclasses.asdict(record_from_result(result))


def _dask_task(task: Task) -> dict[str, Any]:
    return run_task(task)


@dataclass
class Progress:
    """Live state of a campaign: claims done, examples run, worst ratio so far."""

    total: int
    done: int = 0
    examples: dict[str, int] = field(default_factory=dict)
    worst: float = 0.0
    worst_claim: str = ""

    def example(self, claim: str, count: int, ratio: float) -> None:
        self.examples[claim] = max(self.examples.get(claim, 0), count)
        if ratio > self.worst or not self.worst_claim:
            self.worst, self.worst_claim = ratio, claim

    def finished(self, rec: ClaimRecord) -> None:
        self.done += 1
        self.examples[rec.name] = rec.examples
        self.example(rec.name, rec.examples, rec.worst_ratio if rec.worst is not None else 0.0)

    def line(self) -> str:
        return (
            f"[{self.done}/{self.total} claims] {sum(self.examples.values())} examples, "
            f"worst error/threshold so far {self.worst:.2f} ({self.worst_claim or '-'})"
        )


class Display:
    """Progress on stderr: one updating line on a terminal, plain lines otherwise."""

    def __init__(self, progress: Progress, stream: Any = None, enabled: bool = True) -> None:
        self.progress = progress
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self._last = 0.0

    def tick(self) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty and now - self._last > 0.1:
            self.stream.write("\r\033[K" + self.progress.line())
            self.stream.flush()
            self._last = now

    def claim_done(self, rec: ClaimRecord) -> None:
        if not self.enabled:
            return
        status = "PASS" if rec.passed else "FAIL"
        done = f"{status} {rec.name} ({rec.examples} examples, {rec.seconds:.1f}s)"
        text = f"{done}  {self.progress.line()}"
        if self.tty:
            self.stream.write("\r\033[K" + text + "\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Child processes inherit the environment: give them single-threaded BLAS."""
    saved = {k: os.environ.get(k) for k in _BLAS_VARS}
    os.environ.update({k: "1" for k in _BLAS_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _sequential(
    tasks: Sequence[Task],
    on_record: Callable[[ClaimRecord], None],
    progress: Progress,
    display: Display,
) -> None:
    class Sink:
        def put(self, item: tuple[str, int, float]) -> None:
            progress.example(*item)
            display.tick()

    for task in tasks:
        on_record(record_from_dict(run_task(task, Sink())))


def _processes(
    tasks: Sequence[Task],
    jobs: int,
    on_record: Callable[[ClaimRecord], None],
    progress: Progress,
    display: Display,
) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with _single_threaded_blas(), ctx.Manager() as manager:
        queue = manager.Queue()
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            pending: set[Future[dict[str, Any]]] = {pool.submit(run_task, t, queue) for t in tasks}
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                while not queue.empty():
                    progress.example(*queue.get_nowait())
                display.tick()
                for fut in finished:
                    on_record(record_from_dict(fut.result()))


def _dask(
    tasks: Sequence[Task],
    jobs: int,
    scheduler: str,
    on_record: Callable[[ClaimRecord], None],
    display: Display,
) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise RuntimeError(
            "--scheduler needs Dask distributed: pip install 'finetune-theory[dask]'"
        ) from exc
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(
            n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = [
            client.submit(_dask_task, t, pure=False, key=f"claim-{t.claim}-{t.seed}") for t in tasks
        ]
        for fut in as_completed(futures):
            on_record(record_from_dict(fut.result()))
            display.tick()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_campaign(
    names: Sequence[str],
    profile: str,
    seed: int,
    *,
    max_examples: int | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    display: bool = True,
    on_record: Callable[[ClaimRecord], None] | None = None,
) -> list[ClaimRecord]:
    """Run the named claims and return their records in the order of ``names``."""
    tasks = [Task(name, profile, seed, max_examples) for name in names]
    progress = Progress(total=len(tasks))
    screen = Display(progress, enabled=display)
    records: dict[str, ClaimRecord] = {}

    def collect(rec: ClaimRecord) -> None:
        records[rec.name] = rec
        progress.finished(rec)
        screen.claim_done(rec)
        if on_record is not None:
            on_record(rec)

    try:
        if scheduler is not None:
            _dask(tasks, jobs, scheduler, collect, screen)
        elif jobs <= 1 or len(tasks) <= 1:
            _sequential(tasks, collect, progress, screen)
        else:
            _processes(tasks, min(jobs, len(tasks)), collect, progress, screen)
    finally:
        screen.close()
    return [records[name] for name in names]
