"""When the hub's scheduled backups are made: at the store's quiet hour, from the newest backup
there is, so restarts add none and a box that was off at its hour catches up at once."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hub.store import backup
from hub.store.backup import backup_hours, next_backup_at

LISBON = ZoneInfo("Europe/Lisbon")  # UTC+0 in winter, +1 in summer
DAY = 86_400.0


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LISBON).astimezone(UTC)


def local(when: datetime) -> str:
    return when.astimezone(LISBON).strftime("%Y-%m-%d %H:%M")


def test_daily_at_four_whenever_the_hub_restarts_and_after_a_backup_by_hand() -> None:
    newest = at("2026-12-07 04:00:03")
    for now in ("2026-12-07 04:10", "2026-12-07 12:30", "2026-12-08 03:59"):
        due = next_backup_at(newest, at(now), every_s=DAY, at_hour=4, tz=LISBON)
        assert local(due) == "2026-12-08 04:00", now
    # a copy made by hand at 16:00 does not move the night's one
    by_hand = at("2026-12-07 16:00")
    due = next_backup_at(by_hand, at("2026-12-07 16:05"), every_s=DAY, at_hour=4, tz=LISBON)
    assert local(due) == "2026-12-08 04:00"


def test_none_yet_or_an_hour_missed_while_the_box_was_off_is_due_at_once() -> None:
    now = at("2026-12-08 10:00")
    assert next_backup_at(None, now, every_s=DAY, at_hour=4, tz=LISBON) == now
    missed = next_backup_at(at("2026-12-07 04:00"), now, every_s=DAY, at_hour=4, tz=LISBON)
    assert local(missed) == "2026-12-08 04:00"  # passed: the loop makes it at once
    assert missed < now


def test_every_six_hours_from_the_hour_and_every_two_days() -> None:
    assert backup_hours(6 * 3600, 4) == [4, 10, 16, 22]
    assert backup_hours(DAY, 4) == [4]
    newest = at("2026-12-07 10:00")
    due = next_backup_at(newest, at("2026-12-07 11:00"), every_s=6 * 3600, at_hour=4, tz=LISBON)
    assert local(due) == "2026-12-07 16:00"
    late = at("2026-12-07 22:00")
    due = next_backup_at(late, at("2026-12-07 23:00"), every_s=6 * 3600, at_hour=4, tz=LISBON)
    assert local(due) == "2026-12-08 04:00"
    due = next_backup_at(
        at("2026-12-07 04:00"), at("2026-12-07 05:00"), every_s=2 * DAY, at_hour=4, tz=LISBON
    )
    assert local(due) == "2026-12-09 04:00"


def test_the_hour_is_the_stores_own_across_a_clock_change() -> None:
    # Lisbon goes to summer time on 2027-03-28 at 01:00 UTC: 04:00 local is 03:00 UTC after
    newest = at("2027-03-27 04:00")
    due = next_backup_at(newest, at("2027-03-27 12:00"), every_s=DAY, at_hour=4, tz=LISBON)
    assert local(due) == "2027-03-28 04:00"
    assert due.hour == 3  # UTC


def test_without_an_hour_it_is_every_s_after_the_newest() -> None:
    newest = datetime(2026, 12, 7, 13, 17, tzinfo=UTC)
    now = newest + timedelta(hours=1)
    assert next_backup_at(newest, now, every_s=6 * 3600) == newest + timedelta(hours=6)
    assert next_backup_at(None, now, every_s=6 * 3600) == now


async def test_the_loop_makes_the_first_backup_and_a_restart_makes_none(tmp_path: Path) -> None:
    db = tmp_path / "tablehub.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
    folder = backup.backups_dir(tmp_path)

    async def run_for(seconds: float) -> None:
        task = asyncio.create_task(
            backup.run_schedule(db, every_s=DAY, at_hour=4, tz=LISBON, first_after_s=0.2)
        )
        await asyncio.sleep(seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    await run_for(1.5)
    made = backup.list_backups(folder)
    assert len(made) == 1
    await run_for(1.0)  # the hub started again: its newest backup is minutes old
    assert backup.list_backups(folder) == made


def test_a_backup_named_ahead_of_the_clock_does_not_stop_the_backups() -> None:
    """A clock once set a month ahead named a backup then; put right, the next backup is the
    night's, not a month away."""
    now = at("2026-12-07 12:00")
    ahead = now + timedelta(days=30)
    due = next_backup_at(ahead, now, every_s=DAY, at_hour=4, tz=LISBON)
    assert local(due) == "2026-12-08 04:00"
    assert next_backup_at(ahead, now, every_s=DAY) == now + timedelta(days=1)
