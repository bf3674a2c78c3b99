"""Ctrl-C and SIGTERM stop a campaign on every executor, and bad scheduler addresses fail fast.

A real signal goes to a real ``python -m verify`` started in its own session (so its process
group holds it and every process it starts, as a terminal's foreground job would): SIGINT to
the whole group, as Ctrl-C in a terminal sends it (the workers get it too and must leave the
decision to the parent), SIGTERM to the parent only, as ``kill`` or a job scheduler sends it.
The run is interrupted once a first claim has finished, so the partial report has something
in it; the slow claims after it would keep the run going for minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from verify import cli
from verify.campaign import SCHEDULER_CONNECT_TIMEOUT, Interrupted, check_scheduler, run_campaign

#: From the signal to the exit of ``python -m verify``: up to POLL_SECONDS (0.2 s) until the
#: executor notices, WORKER_GRACE_SECONDS (2 s) or a LocalCluster close (3 s) to end the
#: workers, then the partial report (importing matplotlib and drawing one claim's PNGs takes
#: 2-4 s on a loaded 2-core machine). Measured: 3.5-6 s. Without the stop the run would last
#: minutes (the old code ignored SIGINT under the pool and ran on to exit 0).
STOP_SECONDS = 15.0
#: Until a first claim has finished: interpreter and worker start-up (each spawned worker
#: imports NumPy, SciPy, SymPy and Hypothesis) and a Dask LocalCluster's start. Measured
#: 5-30 s on the shared 2-core machine; the bound only guards against a hang.
FIRST_CLAIM_SECONDS = 120.0
#: After the exit, CPython's resource tracker (a child of every process using spawned
#: workers) sees its pipe close and exits on its own; allow for a loaded machine.
REAP_SECONDS = 5.0

#: A claim that finishes in well under a second (10 examples), then three that take about
#: 2 s per example each (60+ s of claim time at 10 examples: a run of a minute or more).
FIRST = "L-exact-cases"
SLOW = ["D3-pretrained", "D4-depth-limit", "D5-aligned-teacher"]
MAX_EXAMPLES = "10"


def _group_members(pgid: int) -> list[str]:
    """Live (non-zombie) processes of process group ``pgid``, as 'pid (comm) state'.

    Zombies are dead: an orphan's zombie waits for the container's init to reap it, which
    is none of the campaign's doing."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # exited meanwhile
            continue
        comm_end = stat.rindex(")")
        state, _ppid, group = stat[comm_end + 2 :].split()[:3]
        if int(group) == pgid and state != "Z":
            members.append(f"{stat[: comm_end + 1]} {state}")
    return members


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _interrupt(tmp_path: Path, executor: list[str], signum: int, to_group: bool) -> None:
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "verify", FIRST, *SLOW, "--profile", "quick"]
    argv += ["--max-examples", MAX_EXAMPLES, "--report", str(out), *executor]
    stdout = open(tmp_path / "stdout.txt", "w+")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        argv,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr or []])
    reader.start()
    err: list[str] = []
    try:
        deadline = time.monotonic() + FIRST_CLAIM_SECONDS
        while not any(x.startswith(("PASS ", "FAIL ")) for x in err):
            assert proc.poll() is None, f"exited early ({proc.returncode}): {''.join(err)}"
            assert time.monotonic() < deadline, f"no claim finished: {''.join(err)}"
            with contextlib.suppress(queue.Empty):
                err.append(lines.get(timeout=0.5))
        if to_group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        sent = time.monotonic()
        try:
            code = proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            while not lines.empty():
                err.append(lines.get())
            pytest.fail(
                f"still running {STOP_SECONDS} s after {signal.Signals(signum).name}; "
                f"stderr: {''.join(err)}"
            )
        stopped_after = time.monotonic() - sent
        reader.join(timeout=REAP_SECONDS)
        while not lines.empty():
            err.append(lines.get())
        deadline = time.monotonic() + REAP_SECONDS
        while _group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _group_members(proc.pid) == [], "processes outlived the campaign"
    finally:
        _kill_group(proc.pid)
        proc.wait()
        reader.join(timeout=REAP_SECONDS)
        if proc.stderr is not None:
            proc.stderr.close()
        stdout.close()
    stderr = "".join(err)
    assert code == 128 + signum, (code, stderr)
    assert stopped_after < STOP_SECONDS
    assert "Traceback" not in stderr, stderr
    assert " - WARNING - " not in stderr and " - ERROR - " not in stderr, stderr  # logging
    stops = [x for x in stderr.splitlines() if "interrupted" in x]
    assert len(stops) == 1, stderr
    name = signal.Signals(signum).name
    assert stops[0].startswith(f"interrupted by {name}: "), stops[0]
    doc = json.loads((out / "report.json").read_text())
    assert doc["complete"] is False
    finished = [x.split()[1] for x in stderr.splitlines() if x.startswith(("PASS ", "FAIL "))]
    reported = [c["name"] for c in doc["claims"]]
    assert FIRST in reported and sorted(reported) == sorted(finished)
    assert len(reported) < 1 + len(SLOW)
    assert f"{len(reported)}/{1 + len(SLOW)} claims finished" in stops[0]
    assert f"partial report {out / 'report.json'}" in stops[0]


@pytest.mark.parametrize(
    ("executor", "signum", "to_group"),
    [
        pytest.param(["--jobs", "1"], signal.SIGINT, True, id="sequential-SIGINT"),
        pytest.param(["--jobs", "1"], signal.SIGTERM, False, id="sequential-SIGTERM"),
        pytest.param(["--jobs", "2"], signal.SIGINT, True, id="processes-SIGINT"),
        pytest.param(
            ["--scheduler", "local", "--jobs", "2"], signal.SIGINT, True, id="dask-local-SIGINT"
        ),
    ],
)
def test_a_signal_stops_the_campaign(
    tmp_path: Path, executor: list[str], signum: int, to_group: bool
) -> None:
    _interrupt(tmp_path, executor, signum, to_group)


def test_interrupted_exit_codes() -> None:
    assert Interrupted([], signal.SIGINT, 3).exit_code == 130
    stop = Interrupted([], signal.SIGTERM, 3)
    assert (stop.exit_code, stop.signame, stop.total, stop.records) == (143, "SIGTERM", 3, [])
    assert str(stop) == "interrupted by SIGTERM: 0/3 claims finished"


@pytest.mark.parametrize(
    "address", ["not-an-address", "127.0.0.1:8786", "tcp://host", "tcp://h:0", "tls://h:1"]
)
def test_a_malformed_scheduler_address_is_a_usage_error(
    address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([FIRST, "--scheduler", address]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before anything started
    assert captured.err.count("\n") == 1
    assert "--scheduler" in captured.err and "tcp://host:port" in captured.err


def test_well_formed_scheduler_addresses() -> None:
    for address in ["local", "tcp://127.0.0.1:8786", "tcp://[::1]:8786", "tcp://node-7:1"]:
        assert check_scheduler(address) == address


#: SCHEDULER_CONNECT_TIMEOUT plus the client's set-up and tear-down (about a second).
UNREACHABLE_SECONDS = SCHEDULER_CONNECT_TIMEOUT + 5.0


def test_an_unreachable_scheduler_fails_fast_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    start = time.monotonic()
    code = cli.main([FIRST, "--max-examples", "1", "--scheduler", "tcp://127.0.0.1:1"])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2
    assert elapsed < UNREACHABLE_SECONDS
    assert err.count("\n") == 1 and err.startswith("error: --scheduler tcp://127.0.0.1:1: ")


def test_a_bad_report_folder_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli.main([*SLOW, "--jobs", "1", "--report", str(blocker / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # not even the run's header line: no claim started
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"error: --report {blocker / 'out'}: ")


def test_a_signal_in_process_raises_interrupted_with_the_finished_claims() -> None:
    """The record keeping without a subprocess: SIGINT arrives while the first claim's
    record is collected, so the second claim never starts."""
    assert threading.current_thread() is threading.main_thread()  # pytest(-xdist) runs here
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    def on_record(rec: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted) as caught:
        run_campaign(
            [FIRST, *SLOW], "quick", 0, max_examples=2, jobs=1, display=False, on_record=on_record
        )
    stop = caught.value
    assert [r.name for r in stop.records] == [FIRST]
    assert (stop.signum, stop.total, stop.exit_code) == (signal.SIGINT, 4, 130)
    # The previous handlers are back.
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
