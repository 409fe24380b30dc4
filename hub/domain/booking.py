"""Reservations and the waitlist, as pure rules: checking a booking, when it holds its table,
which bookings clash, how long a table turns (learned from how long checks stayed open, by
party size and hour), the wait to quote a walk-in, and how a guest's phone is shown.

Times are epoch milliseconds; a booking's `at` comes as local ISO time in the store's zone
(or with an offset). Pure: the standard library only.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.errors import InvalidInput

MAX_PARTY = 40
MAX_NAME = 80
MAX_NOTES = 500
MAX_PHONE = 32
MAX_DISHES = 30
DEFAULT_TURN_S = 75 * 60  # a table's turn when nothing is learned yet
MIN_TURN_S = 20 * 60
MAX_TURN_S = 5 * 3600
TURN_SAMPLES = 500  # the latest closed checks a turn time is learned from
MIN_SAMPLES = 3  # fewer than this in a bucket: use the wider one
QUOTE_STEP_S = 5 * 60  # quotes are rounded up to five minutes
STATUSES = ("booked", "seated", "cancelled", "no_show")
ACTIVE = ("booked", "seated")
# the years a booking or a day's book may name: outside them a local day's bounds can fall
# off the calendar datetime can count (0001-01-01 east of Greenwich, 9999-12-31 plus a day)
YEARS = range(2000, 2200)


def _zone(zone: str | None) -> ZoneInfo | None:
    return ZoneInfo(zone) if zone else None


def parse_at(text: object, zone: str | None, field: str = "at") -> int:
    """A booking time: ISO 8601 local time in the store's zone (`2026-12-24T19:30`), or with
    an offset; epoch ms."""
    if not isinstance(text, str) or not 10 <= len(text) <= 40:
        raise InvalidInput("give the time as 2026-12-24T19:30", field=field)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput("give the time as 2026-12-24T19:30", field=field) from exc
    if when.year not in YEARS:
        raise InvalidInput(_years_message("time"), field=field)
    if when.tzinfo is None:
        tz = _zone(zone)
        when = when.replace(tzinfo=tz) if tz else when.astimezone()
    return int(when.timestamp() * 1000)


def parse_day(text: object, field: str = "date") -> date:
    # YYYY-MM-DD only: fromisoformat would also take a week date (2026-W49-7)
    if not (isinstance(text, str) and len(text) == 10 and text.isascii()) or (
        text[4] != "-" or text[7] != "-" or not (text[:4] + text[5:7] + text[8:]).isdigit()
    ):
        raise InvalidInput("give the day as YYYY-MM-DD", field=field)
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput("give the day as YYYY-MM-DD", field=field) from exc
    if day.year not in YEARS:
        raise InvalidInput(_years_message("day"), field=field)
    return day


def _years_message(what: str) -> str:
    return f"give a {what} in the years {YEARS.start} to {YEARS.stop - 1}"


def local(ms: int, zone: str | None) -> datetime:
    when = datetime.fromtimestamp(ms / 1000, UTC)
    tz = _zone(zone)
    return when.astimezone(tz) if tz else when.astimezone()


def day_of(ms: int, zone: str | None) -> str:
    return local(ms, zone).date().isoformat()


def local_iso(ms: int, zone: str | None) -> str:
    return local(ms, zone).replace(tzinfo=None).isoformat(timespec="minutes")


def day_bounds(day: date, zone: str | None) -> tuple[int, int]:
    """The first and the last-plus-one millisecond of a local day."""
    tz = _zone(zone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz) if tz else None
    if start is None:
        start = datetime(day.year, day.month, day.day).astimezone()
    end = start + timedelta(days=1)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def first_name(name: str) -> str:
    """What a public page may show of a guest: the first word of the name, at most 20."""
    parts = name.split()
    return parts[0][:20] if parts else ""


def mask_phone(phone: str | None) -> str | None:
    """A phone as shared screens show it: the last two digits only."""
    if not phone:
        return None
    digits = [c for c in phone if c.isdigit()]
    if len(digits) < 4:
        return "•••"
    return "••• ••" + "".join(digits[-2:])


def clean_text(value: object, field: str, limit: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput("must be text", field=field)
    text = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    if required and not text:
        raise InvalidInput("must not be empty", field=field)
    if len(text) > limit:
        raise InvalidInput(f"must be at most {limit} characters", field=field)
    return text


def check_party(party: object, field: str = "party") -> int:
    if not isinstance(party, int) or isinstance(party, bool) or not 1 <= party <= MAX_PARTY:
        raise InvalidInput(f"party must be a whole number from 1 to {MAX_PARTY}", field=field)
    return party


def check_phone(phone: object, field: str = "phone") -> str | None:
    if phone is None or phone == "":
        return None
    text = clean_text(phone, field, MAX_PHONE)
    if not all(c.isdigit() or c in "+-() ." for c in text) or sum(c.isdigit() for c in text) < 4:
        raise InvalidInput("a phone number: digits, spaces, + - ( ) only", field=field)
    return text


# ---------------------------------------------------------------- turn times


def party_bucket(party: int) -> str:
    if party <= 2:
        return "1-2"
    if party <= 4:
        return "3-4"
    if party <= 6:
        return "5-6"
    return "7+"


@dataclass(frozen=True, slots=True)
class Turn:
    """A closed check: how big the party was (0: not known), the local hour it opened, and
    how long it stayed open."""

    party: int
    hour: int
    seconds: int


@dataclass(frozen=True, slots=True)
class TurnTimes:
    """Expected table turn times learned from closed checks; `default_s` where too few."""

    turns: tuple[Turn, ...] = ()
    default_s: int = DEFAULT_TURN_S

    def expected_s(self, party: int, hour: int) -> int:
        """The median turn of checks of this party size near this hour, widening to the size
        at any hour, then every check, then the store's default."""
        bucket = party_bucket(party)
        near = [
            t.seconds
            for t in self.turns
            if t.party and party_bucket(t.party) == bucket and _hours_apart(t.hour, hour) <= 1
        ]
        sized = [t.seconds for t in self.turns if t.party and party_bucket(t.party) == bucket]
        for sample in (near, sized, [t.seconds for t in self.turns]):
            if len(sample) >= MIN_SAMPLES:
                return int(min(MAX_TURN_S, max(MIN_TURN_S, statistics.median(sample))))
        return self.default_s


def _hours_apart(a: int, b: int) -> int:
    d = abs(a - b) % 24
    return min(d, 24 - d)


# ---------------------------------------------------------------- clashes


@dataclass(frozen=True, slots=True)
class Slot:
    """A booking's hold on a table: from `start_ms` for `turn_s`."""

    id: str
    table: str
    start_ms: int
    turn_s: int
    name: str = ""

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.turn_s * 1000


def clashes(slot: Slot, others: Iterable[Slot]) -> list[Slot]:
    """The other bookings of the same table whose time overlaps this one's."""
    return [
        o
        for o in others
        if o.id != slot.id
        and o.table == slot.table
        and o.start_ms < slot.end_ms
        and slot.start_ms < o.end_ms
    ]


# ---------------------------------------------------------------- the waitlist quote


def quote_wait_s(free_at_ms: Sequence[int], position: int, now_ms: int) -> int:
    """The wait to quote the walk-in at `position` (1: next): when the position-th table is
    expected free (tables free now count as now), rounded up to five minutes; with fewer
    tables than parties ahead, each further party waits one more turn of the soonest."""
    if position < 1:
        raise ValueError("position starts at 1")
    times = sorted(max(now_ms, t) for t in free_at_ms) or [now_ms]
    if position <= len(times):
        at = times[position - 1]
    else:
        laps, rest = divmod(position - 1, len(times))
        turn = max(MIN_TURN_S * 1000, (times[-1] - now_ms) or DEFAULT_TURN_S * 1000)
        at = times[rest] + laps * turn
    wait_s = max(0, (at - now_ms) // 1000)
    return -(-wait_s // QUOTE_STEP_S) * QUOTE_STEP_S
