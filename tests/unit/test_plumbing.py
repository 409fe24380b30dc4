"""The shared plumbing: the one backoff, the clock's ISO form, the JSON log line, log-once
transitions, the outbox's lanes, and the entry points the `tablehub` command finds."""

from __future__ import annotations

import io
import json
import logging
import random
import sqlite3
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plumbing import logs, outbox, plugins
from plumbing.backoff import Backoff
from plumbing.clock import SystemClock, iso_from_ms, ms_from_iso

# ---------------------------------------------------------------- backoff


class MaxRng(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_grows_by_three_caps_at_sixty_and_resets() -> None:
    b = Backoff(1.0, 60.0, MaxRng())

    assert [b.next() for _ in range(6)] == [3.0, 9.0, 27.0, 60.0, 60.0, 60.0]
    b.reset()
    assert b.next() == 3.0
    assert b.failures == 1


@given(st.integers(0, 2**32), st.integers(1, 200))
def test_backoff_stays_between_base_and_cap(seed: int, n: int) -> None:
    b = Backoff(1.0, 60.0, random.Random(seed))

    delays = [b.next() for _ in range(n)]

    assert all(1.0 <= d <= 60.0 for d in delays)


def test_backoff_with_jitter_reaches_the_cap_in_a_bounded_number_of_failures() -> None:
    b = Backoff(1.0, 60.0, random.Random(7))

    delays = [b.next() for _ in range(40)]

    assert max(delays) > 30  # long outages do back off to about a minute
    assert len(set(delays)) > 30  # and two processes do not retry in lockstep


def test_a_loopback_reconnect_backoff_never_waits_past_its_cap() -> None:
    b = Backoff(0.5, 2.0, random.Random(3))

    assert max(b.next() for _ in range(100)) <= 2.0


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_backoff_refuses_a_base_that_is_not_below_its_cap(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="0 < base <= cap"):
        Backoff(base, cap)


# ---------------------------------------------------------------- clock


@given(st.integers(0, 4_102_444_800_000))
def test_iso_and_ms_round_trip(ms: int) -> None:
    assert ms_from_iso(iso_from_ms(ms)) == ms


def test_iso_is_utc_with_three_decimals() -> None:
    assert iso_from_ms(1_795_370_591_007) == "2026-11-22T18:03:11.007Z"


def test_the_system_clock_agrees_with_itself() -> None:
    clock = SystemClock()
    before = clock.now_ms()
    assert abs(ms_from_iso(clock.now_iso()) - before) < 60_000
    first = clock.monotonic_ms()
    assert clock.monotonic_ms() >= first


# ---------------------------------------------------------------- logs


def test_a_log_record_is_one_json_line() -> None:
    fmt = logs.JsonFormatter()
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("tablehub.x").makeRecord(
            "tablehub.x", logging.ERROR, __file__, 1, "printer %s jammed", ("k1",), None
        )
        record.exc_info = sys.exc_info()
    line = fmt.format(record)

    doc = json.loads(line)
    assert "\n" not in line
    assert doc["level"] == "error"
    assert doc["logger"] == "tablehub.x"
    assert doc["msg"] == "printer k1 jammed"
    assert "RuntimeError: boom" in doc["exc"]
    assert doc["ts"].endswith("Z")


def test_setup_writes_json_lines_through_its_thread() -> None:
    out = io.StringIO()
    logs.setup("info", stream=out)
    try:
        logging.getLogger("tablehub.test").info("hello %d", 7)
    finally:
        logs.stop()  # writes what is queued
        logging.getLogger().handlers[:] = []
    assert json.loads(out.getvalue().splitlines()[-1])["msg"] == "hello 7"


def test_transitions_log_a_trouble_once_and_its_end_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = logs.Transitions(logging.getLogger("tablehub.test"), "broker b")
    with caplog.at_level(logging.INFO, "tablehub.test"):
        assert t.ok() is False
        assert t.trouble("refused") is True
        assert t.trouble("refused") is False
        assert t.trouble("timed out") is True
        assert t.ok() is True
        assert t.ok() is False

    assert [r.getMessage() for r in caplog.records] == [
        "broker b offline: refused",
        "broker b offline: timed out",
        "broker b recovered",
    ]


# ---------------------------------------------------------------- outbox


def test_telemetry_has_its_own_lane() -> None:
    assert outbox.lane_of("telemetry") == outbox.TELEMETRY
    assert outbox.lane_of("orders") == outbox.PRIORITY
    assert set(outbox.LANES) == {outbox.PRIORITY, outbox.TELEMETRY}


def test_a_missing_state_file_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(outbox.StateUnreadable, match="has not run yet"):
        outbox.read_state(tmp_path / "none.db")
    with pytest.raises(outbox.StateUnreadable, match="has not run yet"):
        outbox.prune_plan(tmp_path / "none.db")


def test_a_state_file_without_the_bridge_tables_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).close()

    with pytest.raises(outbox.StateUnreadable, match="cannot read the bridge's state"):
        outbox.prune_plan(path)


# ---------------------------------------------------------------- entry points


def test_the_bridge_adds_its_commands_through_an_entry_point() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    for register in plugins.commands():
        register(sub)

    assert {"bridge", "cloud-receiver"} <= set(sub.choices)


def test_the_demo_cloud_is_found_through_an_entry_point() -> None:
    pytest.importorskip("asyncpg", reason="the demo cloud needs the cloud extra")
    maker = plugins.demo_cloud()

    assert maker is not None
    assert callable(maker.open)
