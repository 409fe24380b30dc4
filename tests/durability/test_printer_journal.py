"""The printer agent's journal on disk, in a process of its own under the fsync shim: a job
is on disk with its document (fsync'd) when it is started, that is before any paper moves;
marking the last run printed costs no fsync of its own (the next start's fsync carries it),
and a run of jobs is started with one fsync and printed, with the next run started, in one.
A job started or printed by a process killed with -9 is still there when the journal opens
again, its document with it. (A job only queued is kept in memory: nothing is written.)"""

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
from devices.printers.journal import Journal

path, steps = Path(sys.argv[1]), sys.argv[2].split(",")
journal = Journal(path)
print("opened", time.monotonic_ns(), flush=True)

def docs(ids):
    return [(j, {"kind": "kitchen", "table": "T" + j, "lines": []}) for j in ids.split("+")]

for step in steps:
    kind, job, *then = step.split(":")
    if kind == "printed":
        journal.printed(job.split("+"), time.time(), docs(then[0]) if then else ())
    elif kind in ("start", "started"):
        journal.start(docs(job), time.time())
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
    for _ in ["opened", *steps.split(",")]:
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


def _docs(work: Path) -> dict[str, str | None]:
    """Each job's table, from the document the journal on disk keeps for it."""
    conn = sqlite3.connect(work / "printer.sqlite")
    try:
        rows = conn.execute("SELECT job_id, json_extract(doc, '$.table') FROM jobs").fetchall()
    finally:
        conn.close()
    return dict(rows)


def test_a_start_is_fsyncd_before_it_returns_and_a_last_print_is_not(
    fsync_shim: Path, tmp_path: Path
) -> None:
    steps = "started:a,printed:a,started:b,printed:b"
    marks, fsyncs = _run(fsync_shim, tmp_path, steps)
    order = list(marks)
    opened = min(f.start_ns for f in fsyncs) if fsyncs else 0

    def wal(step: str) -> list[str]:
        """The journal's WAL fsyncs between the step before `step` and `step` returning."""
        i = order.index(step)
        found = _journal_fsyncs(fsyncs, marks[order[i - 1]], marks[step])
        return [f.path for f in found if f.path.endswith("-wal")]

    for step in ("started:a", "started:b"):  # before any paper moves
        assert len(wal(step)) == 1, f"{step}: {wal(step)}"
    for step in ("printed:a", "printed:b"):  # the paper is out: the next start carries it
        assert wal(step) == [], f"{step}: {wal(step)}"
    assert opened  # the journal was fsync'd at all
    conn = sqlite3.connect(tmp_path / "printer.sqlite")
    try:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 1024
    finally:
        conn.close()
    assert _states(tmp_path) == {"a": "printed", "b": "printed"}


def test_a_job_started_by_a_killed_process_is_there_with_its_document(
    fsync_shim: Path, tmp_path: Path
) -> None:
    _run(fsync_shim, tmp_path, "started:a", kill=True)
    assert _states(tmp_path) == {"a": "started"}
    assert _docs(tmp_path) == {"a": "Ta"}  # what it needs to print again, as REPRINT


def test_a_job_printed_by_a_killed_process_is_printed_when_the_journal_opens_again(
    fsync_shim: Path, tmp_path: Path
) -> None:
    # the mark had no fsync of its own: the page cache keeps it when the process dies
    _run(fsync_shim, tmp_path, "started:a,printed:a", kill=True)
    assert _states(tmp_path) == {"a": "printed"}


def test_a_job_printed_and_the_next_one_started_share_one_fsync(
    fsync_shim: Path, tmp_path: Path
) -> None:
    marks, fsyncs = _run(fsync_shim, tmp_path, "started:a,printed:a:b", kill=True)
    wal = _journal_fsyncs(fsyncs, marks["started:a"], marks["printed:a:b"])
    assert len([f for f in wal if f.path.endswith("-wal")]) == 1, [f.path for f in wal]
    assert _states(tmp_path) == {"a": "printed", "b": "started"}
    assert _docs(tmp_path) == {"a": "Ta", "b": "Tb"}


def test_a_run_is_started_with_one_fsync_and_printed_with_the_next_run_started_in_one(
    fsync_shim: Path, tmp_path: Path
) -> None:
    steps = "start:a+b+c,printed:a+b+c:d+e"
    marks, fsyncs = _run(fsync_shim, tmp_path, steps)

    def wal(after: str, step: str) -> list[str]:
        found = _journal_fsyncs(fsyncs, marks[after], marks[step])
        return [f.path for f in found if f.path.endswith("-wal")]

    assert len(wal("opened", "start:a+b+c")) == 1, wal("opened", "start:a+b+c")
    assert len(wal("start:a+b+c", "printed:a+b+c:d+e")) == 1
    states = _states(tmp_path)
    assert states == {"a": "printed", "b": "printed", "c": "printed"} | {
        "d": "started",
        "e": "started",
    }
