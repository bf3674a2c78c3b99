"""Campaigns: many claims run sequentially, across local processes, or on a Dask cluster.

Every claim is one task whose only inputs are plain values (claim name, profile name, seed,
example budget), so the same seed gives the same :class:`~verify.report.ClaimRecord`
whichever executor ran it. Executors:

* sequential (``jobs=1``): in this process, with per-example progress;
* local processes (``jobs > 1``): :class:`concurrent.futures.ProcessPoolExecutor` with the
  ``spawn`` start method; workers report per-example progress through a queue handed to them
  when they start and use single-threaded BLAS (the linear algebra is small; threads would
  oversubscribe the cores);
* Dask distributed (``scheduler``): ``"local"`` starts an in-process
  :class:`distributed.LocalCluster` with ``jobs`` single-threaded worker processes, any other
  value is a scheduler address ``tcp://host:port`` for :class:`distributed.Client` (checked
  before anything starts; an unreachable scheduler fails after
  :data:`SCHEDULER_CONNECT_TIMEOUT` seconds). Needs the ``dask`` extra.

Stopping. While :func:`run_campaign` runs in the main thread it handles SIGINT (Ctrl-C) and
SIGTERM: the first one stops the campaign, the executor is shut down, worker processes that
do not exit within :data:`WORKER_GRACE_SECONDS` of SIGTERM are killed, and
:class:`Interrupted` is raised carrying the claims that finished (the previous handlers are
restored). Worker processes ignore SIGINT from their first instruction on (a terminal sends
Ctrl-C to the whole foreground process group; the parent decides), so an interrupted run
prints no worker tracebacks. Whether it finishes or is interrupted, a campaign leaves no
process it started running (pool workers, Dask nannies' worker processes). A Dask cluster
reached by address is not ours: its running tasks are cancelled, not killed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol
from urllib.parse import urlsplit

from finetune_theory.errors import InputError
from verify import registry
from verify.claim import Outcome
from verify.profiles import get_profile
from verify.report import ClaimRecord, record_from_dict, record_from_result
from verify.runner import run_claim

_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Seconds between two looks at the workers (results, progress, a pending stop request).
#: Bounds the delay between a signal and the start of the shutdown.
POLL_SECONDS = 0.2
#: Seconds a worker process gets to exit after SIGTERM before it is killed (SIGKILL). Pool
#: workers keep SIGTERM's default action and die at once; the grace only covers a process
#: stuck in the kernel or a loaded machine scheduling it late.
WORKER_GRACE_SECONDS = 2.0
#: Seconds allowed for closing a Dask client and a LocalCluster after an interruption; the
#: nannies' worker processes still alive afterwards are terminated, then killed.
DASK_CLOSE_SECONDS = 3.0
#: Seconds allowed to reach a Dask scheduler by address. A scheduler answers a connection in
#: milliseconds even across a network; refused connections are retried until this runs out.
SCHEDULER_CONNECT_TIMEOUT = 5.0


class Interrupted(Exception):  # noqa: N818 (a stop, not an error: no Error suffix)
    """The campaign was stopped by a signal; ``records`` are the claims that finished."""

    records: list[ClaimRecord]  #: finished claims, in the order of the requested names
    signum: int  #: signal.SIGINT or signal.SIGTERM
    total: int  #: claims requested

    def __init__(self, records: Sequence[ClaimRecord], signum: int, total: int) -> None:
        self.records = list(records)
        self.signum = int(signum)
        self.total = total
        super().__init__(
            f"interrupted by {self.signame}: {len(self.records)}/{total} claims finished"
        )

    @property
    def signame(self) -> str:
        """``"SIGINT"``, ``"SIGTERM"``, ..."""
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"

    @property
    def exit_code(self) -> int:
        """The shell convention 128 + signal number: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


class _StopRequest(BaseException):
    """Raised inside the campaign when a signal asks it to stop (never escapes it).

    A BaseException, like KeyboardInterrupt, so that neither Hypothesis nor a claim's
    ``except Exception`` turns it into a failed example."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Signals:
    """SIGINT/SIGTERM handlers for the duration of a campaign (main thread only).

    The first signal is recorded; executors poll :meth:`check` (at least every
    :data:`POLL_SECONDS`; the sequential executor at every reported example). Inside
    :meth:`raising` (the sequential executor, whose claim runs in this thread) the handler
    also raises :class:`_StopRequest` at once. Later signals are ignored: the shutdown is
    bounded anyway.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.active = threading.current_thread() is threading.main_thread()
        self._raise_now = False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if self.active:
            for sig in _SIGNALS:
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._saved.items():
            # None: the previous handler was not installed from Python; default it.
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._saved.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            if self._raise_now:
                self._raise_now = False
                raise _StopRequest(signum)

    def check(self) -> None:
        """Raise :class:`_StopRequest` if a signal arrived."""
        if self.signum is not None:
            raise _StopRequest(self.signum)

    @contextmanager
    def raising(self) -> Iterator[None]:
        """A signal arriving inside this block raises :class:`_StopRequest` immediately."""
        self.check()
        self._raise_now = True
        try:
            yield
        finally:
            self._raise_now = False

    @contextmanager
    def sigint_blocked(self) -> Iterator[None]:
        """Processes (and threads) started in this block begin with SIGINT blocked.

        A child inherits the signal mask of the thread that starts it, and keeps it across
        exec; so a pool or Dask worker cannot be hit by the terminal's Ctrl-C even while the
        interpreter starts, before it can set SIGINT to ignored itself. This process loses
        nothing: a SIGINT arriving meanwhile is delivered to another thread's C-level handler
        or stays pending until the block ends, and the Python handler runs as usual.
        """
        if not self.active or not hasattr(signal, "pthread_sigmask"):
            yield
            return
        # Started lazily by the first lock or queue, the resource tracker *unblocks* SIGINT
        # in the thread that starts it (CPython 3.11-3.13): start it now, outside the block.
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _ignore_sigint() -> None:
    """In a worker process: Ctrl-C is the parent's business."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass(frozen=True)
class Task:
    """One claim to run: everything a worker needs, as plain values."""

    claim: str
    profile: str
    seed: int
    max_examples: int | None = None


class ProgressSink(Protocol):
    """Where workers send progress: a queue of (claim, examples so far, ratio)."""

    def put(self, item: tuple[str, int, float]) -> None:
        """Send one progress item."""


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
    # Runs in a worker thread (no signal.signal there): the worker process ignores Ctrl-C
    # because it started with SIGINT blocked (see _Signals.sigint_blocked).
    return run_task(task)


_WORKER_PROGRESS: list[ProgressSink] = []


def _pool_worker_init(progress: ProgressSink) -> None:
    """Initializer of a pool worker: ignore SIGINT, keep the progress queue."""
    _ignore_sigint()
    _WORKER_PROGRESS[:] = [progress]


def _pool_task(task: Task) -> dict[str, Any]:
    return run_task(task, _WORKER_PROGRESS[0] if _WORKER_PROGRESS else None)


@dataclass
class Progress:
    """Live state of a campaign: claims done, examples run, worst ratio so far."""

    total: int
    done: int = 0
    examples: dict[str, int] = field(default_factory=dict)
    worst: float = 0.0
    worst_claim: str = ""

    def example(self, claim: str, count: int, ratio: float) -> None:
        """Record that ``claim`` has run ``count`` examples, the latest at ``ratio``."""
        self.examples[claim] = max(self.examples.get(claim, 0), count)
        if ratio > self.worst or not self.worst_claim:
            self.worst, self.worst_claim = ratio, claim

    def finished(self, rec: ClaimRecord) -> None:
        """Record a finished claim."""
        self.done += 1
        self.examples[rec.name] = rec.examples
        self.example(rec.name, rec.examples, rec.worst_ratio if rec.worst is not None else 0.0)

    def line(self) -> str:
        """One status line: claims done, examples run, worst ratio so far."""
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
        """Refresh the status line on a terminal (at most every 0.1 s)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty and now - self._last > 0.1:
            self.stream.write("\r\033[K" + self.progress.line())
            self.stream.flush()
            self._last = now

    def claim_done(self, rec: ClaimRecord) -> None:
        """Print PASS/FAIL for a finished claim, followed by the status line."""
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
        """Clear the status line."""
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


def _end_processes(processes: Sequence[Any], grace: float = WORKER_GRACE_SECONDS) -> None:
    """SIGTERM every live process, wait up to ``grace`` seconds in all, SIGKILL the rest."""
    alive = [p for p in processes if p.is_alive()]
    for p in alive:
        with suppress(OSError, ValueError):  # exited meanwhile, or already closed
            p.terminate()
    deadline = time.monotonic() + grace
    for p in alive:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in alive:
        if p.is_alive():
            with suppress(OSError, ValueError):
                p.kill()
            p.join(1.0)


def _own_children(before: set[int]) -> list[Any]:
    """multiprocessing children started since ``before`` (a set of pids) was taken."""
    return [p for p in multiprocessing.active_children() if p.pid not in before]


@contextmanager
def _quiet() -> Iterator[None]:
    """No log records (``distributed``, ``tornado``, ``asyncio``) and no warnings: for the
    shutdown after an interruption, whose complaints about cancelled work are expected."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def _sequential(
    tasks: Sequence[Task],
    on_record: Callable[[ClaimRecord], None],
    progress: Progress,
    display: Display,
    signals: _Signals,
) -> None:
    class Sink:
        def put(self, item: tuple[str, int, float]) -> None:
            # Again at every reported example, should the handler's raise have landed
            # where it was swallowed (a finaliser run by the garbage collector, say).
            signals.check()
            progress.example(*item)
            display.tick()

    for task in tasks:
        try:
            with signals.raising():
                data = run_task(task, Sink())
        except BaseException:
            # The stop is raised wherever the claim happens to be; landing inside one of
            # Hypothesis' own ``finally`` blocks it can surface as another exception (seen:
            # IndexError from its capture stack). Once a signal arrived, any exception out
            # of the claim is that stop.
            if signals.signum is not None:
                raise _StopRequest(signals.signum) from None
            raise
        on_record(record_from_dict(data))
    signals.check()


def _processes(
    tasks: Sequence[Task],
    jobs: int,
    on_record: Callable[[ClaimRecord], None],
    progress: Progress,
    display: Display,
    signals: _Signals,
) -> None:
    from queue import Empty

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()

    def drain() -> None:
        try:
            while True:
                progress.example(*queue.get_nowait())
        except Empty:
            pass

    with _single_threaded_blas(), signals.sigint_blocked():
        pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=ctx,
            initializer=_pool_worker_init,
            initargs=(queue,),
        )
        # With spawn, submit() starts the workers (up to max_workers): all of them here.
        pending: set[Future[dict[str, Any]]] = {pool.submit(_pool_task, t) for t in tasks}
    # The worker processes, to end them on a stop: shutdown() neither interrupts a running
    # task nor kills its worker before Python 3.14 (terminate_workers); ``_processes`` has
    # held them since Python 3.2.
    workers = list(getattr(pool, "_processes", {}).values())
    finished_normally = False
    try:
        while pending:
            signals.check()
            finished, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            drain()
            display.tick()
            for fut in finished:
                on_record(record_from_dict(fut.result()))
        finished_normally = True
    finally:
        if finished_normally:
            pool.shutdown(wait=True)
        else:
            # Results that arrived before the stop still count.
            for fut in [f for f in pending if f.done() and not f.cancelled()]:
                if fut.exception() is None:
                    on_record(record_from_dict(fut.result()))
            pool.shutdown(wait=False, cancel_futures=True)
            _end_processes(workers)
        queue.close()
        queue.cancel_join_thread()


def check_scheduler(scheduler: str) -> str:
    """Return ``scheduler`` if it is ``"local"`` or a Dask address ``tcp://host:port``.

    Raises :class:`~finetune_theory.errors.InputError` naming ``--scheduler`` otherwise, so a
    mistyped address fails before anything starts.
    """
    if scheduler == "local":
        return scheduler
    try:
        parts = urlsplit(scheduler)
        port = parts.port
    except ValueError:  # a port that is not a number or outside 0..65535, a broken [IPv6]
        parts, port = urlsplit(""), None
    if (
        parts.scheme != "tcp"
        or not parts.hostname
        or port is None
        or not 1 <= port <= 65535
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise InputError(
            f"--scheduler must be 'local' or a Dask scheduler address tcp://host:port "
            f"(port 1-65535), got {scheduler!r}"
        )
    return scheduler


def connect_scheduler(client_class: Any, address: str) -> Any:
    """A Client of the scheduler at ``address``, or a one-line RuntimeError within
    :data:`SCHEDULER_CONNECT_TIMEOUT` seconds."""
    try:
        with _quiet():
            return client_class(address, timeout=SCHEDULER_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RuntimeError(
            f"--scheduler {address}: cannot reach a Dask scheduler within "
            f"{SCHEDULER_CONNECT_TIMEOUT:g} s ({reason})"
        ) from None


def _dask(
    tasks: Sequence[Task],
    jobs: int,
    scheduler: str,
    on_record: Callable[[ClaimRecord], None],
    display: Display,
    signals: _Signals,
) -> None:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise RuntimeError('--scheduler needs Dask distributed: pip install ".[dask]"') from exc
    before = {p.pid for p in multiprocessing.active_children() if p.pid is not None}
    cluster: Any = None
    client: Any = None
    pending: dict[Any, Task] = {}
    finished_normally = False
    try:
        if scheduler == "local":
            # The loop thread and the worker processes start here, with SIGINT blocked.
            with signals.sigint_blocked():
                cluster = LocalCluster(
                    n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
                client = Client(cluster)
        else:
            client = connect_scheduler(Client, scheduler)
        signals.check()
        pending = {
            client.submit(_dask_task, t, pure=False, key=f"claim-{t.claim}-{t.seed}"): t
            for t in tasks
        }
        while pending:
            signals.check()
            finished = [f for f in pending if f.done()]
            if not finished:
                time.sleep(POLL_SECONDS)
                display.tick()
                continue
            for fut in finished:
                del pending[fut]
                on_record(record_from_dict(fut.result()))
            display.tick()
        finished_normally = True
    finally:
        if finished_normally:
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
        else:
            with _quiet():
                _stop_dask(client, cluster, list(pending), before)


def _stop_dask(client: Any, cluster: Any, pending: list[Any], before: set[int]) -> None:
    """Stop after an interruption, within bounds: our LocalCluster's worker processes get
    SIGTERM at once (they run claim code that cannot be interrupted more gently; a graceful
    close would wait for it), the client and the cluster are closed, stragglers killed. On a
    scheduler reached by address the pending claims are cancelled."""
    # Best effort throughout: a failure here (a dead scheduler, a timeout) must not hide the
    # stop, and the processes are swept at the end whatever happened.
    workers = _own_children(before) if cluster is not None else []
    if cluster is not None:
        for nanny in list(getattr(cluster, "workers", {}).values()):
            with suppress(Exception):
                nanny.auto_restart = False  # a dead worker is not to be replaced
        for proc in workers:
            # os.kill, not terminate()+join(): the nanny reaps its own process.
            with suppress(OSError, TypeError):
                os.kill(proc.pid, signal.SIGTERM)
    if client is not None:
        if pending:
            with suppress(Exception):
                client.cancel(pending, force=True)
        with suppress(Exception):
            client.close(timeout=DASK_CLOSE_SECONDS)
    if cluster is not None:
        with suppress(Exception):
            cluster.close(timeout=DASK_CLOSE_SECONDS)
        _end_processes(workers + _own_children(before))


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
    """Run the named claims and return their records in the order of ``names``.

    ``scheduler`` is ``None`` (local: sequential for ``jobs=1``, else a process pool),
    ``"local"`` or ``"tcp://host:port"`` (see :func:`check_scheduler`). Called from the main
    thread, SIGINT and SIGTERM stop the campaign: the executor is shut down and
    :class:`Interrupted` is raised with the finished claims. Raises RuntimeError when Dask is
    missing or the scheduler does not answer.
    """
    if scheduler is not None:
        check_scheduler(scheduler)
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

    stopped: int | None = None
    with _Signals() as signals:
        try:
            if scheduler is not None:
                _dask(tasks, jobs, scheduler, collect, screen, signals)
            elif jobs <= 1 or len(tasks) <= 1:
                _sequential(tasks, collect, progress, screen, signals)
            else:
                _processes(tasks, min(jobs, len(tasks)), collect, progress, screen, signals)
        except _StopRequest as stop:
            stopped = stop.signum
        finally:
            screen.close()
    finished = [records[name] for name in names if name in records]
    if stopped is not None:
        raise Interrupted(finished, stopped, len(tasks))
    return finished
