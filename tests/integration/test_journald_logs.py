"""Under systemd, every log line starts with its syslog priority, so `journalctl -p err`
shows errors only. A real process logs through plumbing.logs with its stdout on a file whose
device and inode are in JOURNAL_STREAM, as systemd sets it for the journal's stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging, sys
from plumbing import logs
logs.setup("debug", json_lines=sys.argv[1] == "json")
log = logging.getLogger("tablehub.test")
log.debug("a detail")
log.info("order 7 placed")
log.warning("printer cold-1 offline: paper_out")
log.error("store cannot save")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("crashed")
log.critical("giving up")
logs.stop()
"""


def run(out: Path, fmt: str, journal_stream: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    with out.open("wb") as fh:
        if journal_stream == "this":
            st = os.fstat(fh.fileno())
            journal_stream = f"{st.st_dev}:{st.st_ino}"
        if journal_stream is not None:
            env["JOURNAL_STREAM"] = journal_stream
        subprocess.run(
            [sys.executable, "-c", SCRIPT, fmt],
            stdout=fh,
            env=env,
            cwd=ROOT,
            check=True,
            timeout=60,
        )
    return out.read_text().splitlines()


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_lines_to_the_journal_start_with_their_priority(tmp_path: Path, fmt: str) -> None:
    lines = run(tmp_path / "journal", fmt, "this")
    assert lines[0].startswith("<7>")  # debug
    assert lines[1].startswith("<6>")  # info
    heads = {line[:3] for line in lines}
    assert heads <= {"<2>", "<3>", "<4>", "<6>", "<7>"}
    by_prio = {p: [line[3:] for line in lines if line.startswith(p)] for p in heads}
    assert any("paper_out" in line for line in by_prio["<4>"])
    assert any("store cannot save" in line for line in by_prio["<3>"])
    assert any("giving up" in line for line in by_prio["<2>"])
    # a traceback is err on every line, so `journalctl -p err` shows all of it
    assert any("ZeroDivisionError" in line for line in by_prio["<3>"])
    # what `journalctl -p err` would keep: priorities 0-3 only
    errors_only = [line for line in lines if line[:3] in ("<2>", "<3>")]
    assert not any("order 7 placed" in line or "paper_out" in line for line in errors_only)
    if fmt == "json":
        for line in lines:
            json.loads(line[3:])  # the rest of the line is the JSON object, unchanged


@pytest.mark.parametrize("journal_stream", [None, "1:2", "garbage"])
def test_no_prefix_when_the_stream_is_not_the_journal(
    tmp_path: Path, journal_stream: str | None
) -> None:
    """Not under systemd, or output redirected (JOURNAL_STREAM names another stream)."""
    lines = run(tmp_path / "out", "json", journal_stream)
    assert len(lines) == 6
    for line in lines:
        assert line.startswith("{")
