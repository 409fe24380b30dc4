"""The printer agent's journal on disk, in a process of its own under the fsync shim: a job
is on disk (fsync'd) before it is marked started, that is before any paper moves; queueing a
job costs no fsync of its own, nor does marking the last run printed (the next start's fsync
carries it), and a run of jobs is started with one fsync and printed, with the next run
started, in one. A job queued or printed by a process killed with -9 is still there when the
journal opens again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.durability.conftest import Fsync

SCRIPT = """
import sys, time
from pathlib import Path
from devices.printers.agent import Journal

path, steps = Path(sys.argv[1]), sys.argv[2].split(",")
journal = Journal(path)
for step in steps:
    kind, job, *then = step.split(":")
    if kind == "printed":
        journal.printed(job.split("+"), time.time(), then[0].split("+") if then else ())
    elif kind == "start":
        journal.start(job.split("+"), time.time())
    elif kind == "add":
        journal.add(job, {"kind": "kitchen", "lines": []}, time.time())
    else:
        journal.mark(job, kind, time.time())
    print(step, time.monotonic_ns(), flush=True)
if "hang" in sys.argv[3:]:
    time.sleep(60)
journal.close()
"""


def _run(
    shim: Path, work: Path, steps: str, *, kill: bool = False
) -> tuple[dict[str, int], list[Fsync]]:
    log = work / "fsync.log"
    log.unlink(missing_ok=True)
    env = dict(os.environ, LD_PRELOAD=str(shim), FSYNCSHIM_LOG=str(log))
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(work / "printer.sqlite"), steps, "hang" if kill else ""],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    marks: dict[str, int] = {}
    for _ in steps.split(","):
        step, at = proc.stdout.readline().split()
        marks[step] = int(at)
    if kill:
        proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    fsyncs = []
    for line in log.read_text().splitlines() if log.exists() else []:
        start, end, call, rc, _err, path = line.split(" ", 5)
        fsyncs.append(Fsync(int(start), int(end), call, rc == "0", path))
    return marks, fsyncs


def _states(work: Path) -> dict[str, str]:
    """Each job's state as the journal on disk says, read by another connection."""
    conn = sqlite3.connect(work / "printer.sqlite")
    try:
        return dict(conn.execute("SELECT job_id, state FROM jobs").fetchall())
    finally:
        conn.close()


def _journal_fsyncs(fsyncs: list[Fsync], after: int, before: int) -> list[Fsync]:
    return [
        f
        for f in fsyncs
        if f.ok and "printer.sqlite" in f.path and after < f.start_ns and f.end_ns < before
    ]


def test_a_start_is_fsyncd_before_it_returns_and_queueing_and_a_last_print_are_not(
    fsync_shim: Path, tmp_path: Path
) -> None:
    steps = "add:a,add:b,started:a,printed:a,started:b,printed:b"
    marks, fsyncs = _run(fsync_shim, tmp_path, steps)
    order = list(marks)
    opened = min(f.start_ns for f in fsyncs) if fsyncs else 0

    def wal(step: str) -> list[str]:
        """The journal's WAL fsyncs between the step before `step` and `step` returning."""
        i = order.index(step)
        found = _journal_fsyncs(fsyncs, marks[order[i - 1]], marks[step])
        return [f.path for f in found if f.path.endswith("-wal")]

    # queueing: no fsync between the journal being open and the second job queued
    queued = _journal_fsyncs(fsyncs, marks["add:a"], marks["add:b"])
    assert queued == [], f"queueing a job fsync'd {[f.path for f in queued]}"
    for step in ("started:a", "started:b"):  # before any paper moves
        assert len(wal(step)) == 1, f"{step}: {wal(step)}"
    for step in ("printed:a", "printed:b"):  # the paper is out: the next start carries it
        assert wal(step) == [], f"{step}: {wal(step)}"
    assert opened  # the journal was fsync'd at all
    conn = sqlite3.connect(tmp_path / "printer.sqlite")
    try:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 1024
        states = dict(conn.execute("SELECT job_id, state FROM jobs").fetchall())
    finally:
        conn.close()
    assert states == {"a": "printed", "b": "printed"}


def test_a_job_queued_by_a_killed_process_is_there_when_the_journal_opens_again(
    fsync_shim: Path, tmp_path: Path
) -> None:
    _run(fsync_shim, tmp_path, "add:a,add:b,started:a", kill=True)
    states = _states(tmp_path)
    assert states == {"a": "started", "b": "queued"}


def test_a_job_printed_by_a_killed_process_is_printed_when_the_journal_opens_again(
    fsync_shim: Path, tmp_path: Path
) -> None:
    # the mark had no fsync of its own: the page cache keeps it when the process dies
    _run(fsync_shim, tmp_path, "add:a,add:b,started:a,printed:a", kill=True)
    states = _states(tmp_path)
    assert states == {"a": "printed", "b": "queued"}


def test_a_job_printed_and_the_next_one_started_share_one_fsync(
    fsync_shim: Path, tmp_path: Path
) -> None:
    marks, fsyncs = _run(fsync_shim, tmp_path, "add:a,add:b,started:a,printed:a:b")
    wal = _journal_fsyncs(fsyncs, marks["started:a"], marks["printed:a:b"])
    assert len([f for f in wal if f.path.endswith("-wal")]) == 1, [f.path for f in wal]
    states = _states(tmp_path)
    assert states == {"a": "printed", "b": "started"}


def test_a_run_is_started_with_one_fsync_and_printed_with_the_next_run_started_in_one(
    fsync_shim: Path, tmp_path: Path
) -> None:
    steps = "add:a,add:b,add:c,add:d,add:e,start:a+b+c,printed:a+b+c:d+e"
    marks, fsyncs = _run(fsync_shim, tmp_path, steps)

    def wal(after: str, step: str) -> list[str]:
        found = _journal_fsyncs(fsyncs, marks[after], marks[step])
        return [f.path for f in found if f.path.endswith("-wal")]

    assert len(wal("add:e", "start:a+b+c")) == 1, wal("add:e", "start:a+b+c")
    assert len(wal("start:a+b+c", "printed:a+b+c:d+e")) == 1
    states = _states(tmp_path)
    assert states == {"a": "printed", "b": "printed", "c": "printed"} | {
        "d": "started",
        "e": "started",
    }
