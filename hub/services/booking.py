"""The host stand: the day's book of reservations, seating a party (which opens its table and
its check), cancel and no-show; the waitlist of walk-ins with a quoted wait and a page of
their own; and the store forgetting its guests' personal data after their visit.

Every change is decided inside one write with its event; the client's id makes a repeat do
nothing twice. Two hosts seating the same table at once end with one party at it and the
other told the table is taken. A booking that would hold a table another booking holds is
refused (`409 double_booked`, naming the clash) unless the host books it anyway
(`override`), and then it carries the warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from hub.domain import booking as rules
from hub.domain.events import (
    DishIn,
    ReservationChanged,
    ReservationInfo,
    TableOpened,
    TableState,
    WaitlistChanged,
)
from hub.domain.orders import LineRequest, price_line
from hub.domain.ports import Clock, IdGen
from hub.errors import Conflict, InvalidInput, NotFound
from hub.services import stock
from hub.services.catalog import Catalog
from hub.services.ordering import Ordering
from hub.services.pacing import Pacer
from hub.store import booking as rows
from hub.store import checks as store_checks
from hub.store import repos
from hub.store.db import Store, Tx

log = logging.getLogger("tablehub.booking")

TURNS_TTL_S = 60.0  # learned turn times are read again at most this often
DAY_MS = 24 * 3600 * 1000


class DoubleBooked(Conflict):
    """A booking that would hold a table another booking holds; `clashes` names them."""

    code = "double_booked"

    def __init__(self, message: str, clashes: list[dict[str, Any]]) -> None:
        super().__init__(message, field="table")
        self.clashes = clashes

    def as_dict(self) -> dict[str, Any]:
        return dict(super().as_dict(), clashes=self.clashes)


@dataclass(frozen=True, slots=True)
class BookRequest:
    id: str
    name: str
    party: int
    at: str
    phone: str | None = None
    notes: str = ""
    table: str | None = None
    area: str = ""
    dishes: tuple[DishIn, ...] = ()
    override: bool = False
    source: str = "stand"


@dataclass(frozen=True, slots=True)
class BookingSettings:
    zone: str | None = None
    default_turn_s: int = rules.DEFAULT_TURN_S
    forget_after_days: int = 30
    require_pin: bool = False
    preorder_lead_s: int = 20 * 60  # pre-ordered dishes go to the kitchen this long before


class Booking:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        clock: Clock,
        ids: IdGen,
        ordering: Ordering,
        settings: BookingSettings = BookingSettings(),
        pacer: Pacer | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._ids = ids
        self._ordering = ordering
        self.settings = settings
        self._pacer = pacer
        self._turns: tuple[float, rules.TurnTimes] | None = None

    # ------------------------------------------------------------ turn times

    async def turn_times(self) -> rules.TurnTimes:
        """Turn times learned from the latest closed checks (read again once a minute)."""
        now = time.monotonic()
        if self._turns is not None and now - self._turns[0] < TURNS_TTL_S:
            return self._turns[1]
        turns = []
        for r in await rows.read_turns(self._store, rules.TURN_SAMPLES):
            opened, closed = _ms(r["opened_at"]), _ms(r["closed_at"])
            hour = rules.local(opened, self.settings.zone).hour
            turns.append(rules.Turn(int(r["party"] or 0), hour, max(0, (closed - opened) // 1000)))
        learned = rules.TurnTimes(tuple(turns), self.settings.default_turn_s)
        self._turns = (now, learned)
        return learned

    def _turn_of(self, turns: rules.TurnTimes, party: int, at_ms: int) -> int:
        return turns.expected_s(party, rules.local(at_ms, self.settings.zone).hour)

    # ------------------------------------------------------------ views

    def info(self, row: Any, turns: rules.TurnTimes) -> ReservationInfo:
        body = rows.res_body(row)
        at_ms = int(row["at_ms"])
        return ReservationInfo(
            id=row["id"],
            at=rules.local_iso(at_ms, self.settings.zone),
            at_ms=at_ms,
            day=row["day"],
            name=body.name,
            party=body.party,
            status=row["status"],
            source=row["source"],
            table=row["table_id"],
            area=body.area,
            notes=body.notes,
            phone=rules.mask_phone(body.phone),
            dishes=list(body.dishes),
            check_id=row["check_id"],
            turn_s=self._turn_of(turns, body.party, at_ms),
            conflict=body.conflict,
        )

    async def day_book(self, day_text: str | None) -> dict[str, Any]:
        """A day's reservations and each table's timeline of them (a clash shows as two
        bookings overlapping on one table's line)."""
        now_ms = self._clock.now_ms()
        day = (
            rules.parse_day(day_text)
            if day_text is not None
            else rules.parse_day(rules.day_of(now_ms, self.settings.zone))
        )
        turns = await self.turn_times()
        infos = [self.info(r, turns) for r in await rows.read_day(self._store, day.isoformat())]
        timeline = []
        for t in self._catalog.tables.values():
            mine = [i for i in infos if i.table == t.id and i.status in rules.ACTIVE]
            slots = [rules.Slot(i.id, t.id, i.at_ms, i.turn_s, i.name) for i in mine]
            timeline.append(
                {
                    "table": t.id,
                    "name": t.name,
                    "open": t.is_open,
                    "slots": [
                        {
                            "id": s.id,
                            "start_ms": s.start_ms,
                            "end_ms": s.end_ms,
                            "name": s.name,
                            "clash": bool(rules.clashes(s, slots)),
                        }
                        for s in slots
                    ],
                }
            )
        start, end = rules.day_bounds(day, self.settings.zone)
        return {
            "date": day.isoformat(),
            "day_start_ms": start,
            "day_end_ms": end,
            "now_ms": now_ms,
            "default_turn_s": self.settings.default_turn_s,
            "reservations": infos,
            "tables": timeline,
        }

    # ------------------------------------------------------------ booking

    def _check(self, req: BookRequest) -> tuple[int, BookRequest]:
        at_ms = rules.parse_at(req.at, self.settings.zone)
        name = rules.clean_text(req.name, "name", rules.MAX_NAME, required=True)
        party = rules.check_party(req.party)
        phone = rules.check_phone(req.phone)
        notes = rules.clean_text(req.notes, "notes", rules.MAX_NOTES)
        area = rules.clean_text(req.area, "area", 40)
        if req.table is not None and req.table not in self._catalog.tables:
            raise NotFound(f"no table '{str(req.table)[:40]}'", field="table")
        self._check_dishes(req.dishes)
        clean = BookRequest(
            req.id, name, party, req.at, phone, notes, req.table, area, req.dishes,
            req.override, req.source,
        )  # fmt: skip
        return at_ms, clean

    def _check_dishes(self, dishes: Sequence[DishIn]) -> None:
        menu = self._catalog.menu
        if len(dishes) > rules.MAX_DISHES:
            raise InvalidInput(f"at most {rules.MAX_DISHES} dishes", field="dishes")
        if menu is None or not dishes:
            return
        for i, d in enumerate(dishes):
            line = LineRequest(d.item, d.qty, tuple(d.modifiers), d.note)
            price_line(menu, line, f"dishes[{i}]")

    async def book(self, req: BookRequest, by: str) -> tuple[ReservationInfo, list[str]]:
        """Book (or, with the same id, edit while still booked). Returns the reservation and
        its warnings (a clash the host booked anyway)."""
        at_ms, req = self._check(req)
        turns = await self.turn_times()
        turn_s = self._turn_of(turns, req.party, at_ms)

        async def unit(tx: Tx) -> tuple[ReservationInfo, list[str]]:
            row = await rows.tx_reservation(tx, req.id)
            if row is not None and row["status"] != "booked":
                raise Conflict(f"this reservation is {row['status']}", field="id")
            warnings = await self._clashes(tx, req, at_ms, turn_s, turns)
            await self._reserve(tx, None if row is None else rows.res_body(row), req.dishes)
            # an edit that leaves the phone out keeps it: screens only ever show it masked
            kept = rows.res_body(row).phone if row is not None and req.phone is None else None
            body = rows.ResBody(
                name=req.name,
                party=req.party,
                phone=req.phone if req.phone is not None else kept,
                notes=req.notes,
                area=req.area,
                dishes=list(req.dishes),
                by=by,
                conflict="; ".join(warnings) if req.source == "online" else "",
            )
            await rows.put_reservation(
                tx,
                res_id=req.id,
                day=rules.day_of(at_ms, self.settings.zone),
                at_ms=at_ms,
                table_id=req.table,
                status="booked",
                source=req.source,
                check_id=None,
                body=body,
            )
            fresh = await rows.tx_reservation(tx, req.id)
            assert fresh is not None
            info = self.info(fresh, turns)
            change = "booked" if row is None else "edited"
            tx.emit(ReservationChanged(reservation=info, change=change, by=by))
            return info, warnings

        result: tuple[ReservationInfo, list[str]] = await self._store.write(unit)
        log.info("reservation %s %s by %s", req.id, "booked or edited", by)
        return result

    async def _reserve(self, tx: Tx, before: rows.ResBody | None, dishes: Sequence[DishIn]) -> None:
        """Pre-orders reserve their portions of counted dishes in the booking's write: an
        edit returns the old dishes' and takes the new ones' (refused naming `dishes` when
        fewer are left)."""
        if before is not None and before.fired_order is None:
            for d in before.dishes:
                await stock.put_back(tx, d.item, d.qty, reason="preorder")
        await stock.take(
            tx, self._catalog.menu, [(d.item, d.qty) for d in dishes], reason="preorder",
            field="dishes",
        )  # fmt: skip

    async def _clashes(
        self, tx: Tx, req: BookRequest, at_ms: int, turn_s: int, turns: rules.TurnTimes
    ) -> list[str]:
        if req.table is None:
            return []
        near = await rows.tx_active_near(
            tx, at_ms - rules.MAX_TURN_S * 1000, at_ms + rules.MAX_TURN_S * 1000
        )
        others = [
            rules.Slot(
                r["id"],
                r["table_id"],
                int(r["at_ms"]),
                self._turn_of(turns, rows.res_body(r).party, int(r["at_ms"])),
                rows.res_body(r).name,
            )
            for r in near
        ]
        found = rules.clashes(rules.Slot(req.id, req.table, at_ms, turn_s), others)
        if not found:
            return []
        said = [
            f"{self._catalog.tables[req.table].name} is booked for {o.name or 'a guest'} at "
            f"{rules.local_iso(o.start_ms, self.settings.zone)[11:]}"
            for o in found
        ]
        if not req.override and req.source != "online":
            raise DoubleBooked(
                "; ".join(said),
                [{"id": o.id, "name": o.name, "start_ms": o.start_ms} for o in found],
            )
        return said

    async def from_cloud(self, req: BookRequest, cancelled: bool) -> dict[str, Any]:
        """A booking from the chain's booking site (through the bridge): booked or edited
        like one made at the stand but never refused for its table — a clash with a stand
        booking (both made while the internet was down) is saved with its conflict for the
        host to see. A cancel cancels it while booked. One the stand has since seated,
        cancelled or marked is kept as the stand left it."""
        row = await rows.read_reservation(self._store, req.id)
        if row is not None and row["status"] != "booked":
            return {"id": req.id, "kept": row["status"], "conflict": ""}
        if cancelled:
            if row is None:
                return {"id": req.id, "kept": "unknown", "conflict": ""}
            await self.cancel(req.id, f"cloud-cancel-{_key(req.id)}", "booking site", no_show=False)
            return {"id": req.id, "status": "cancelled", "conflict": ""}
        online = BookRequest(
            req.id, req.name, req.party, req.at, req.phone, req.notes, req.table, req.area,
            req.dishes, False, "online",
        )  # fmt: skip
        info, warnings = await self.book(online, "booking site")
        if warnings:
            log.warning("ALERT booking %s from the cloud clashes: %s", req.id, "; ".join(warnings))
        return {"id": req.id, "status": info.status, "conflict": info.conflict}

    # ------------------------------------------------------------ seating, cancel, no-show

    async def _seat_table(
        self, tx: Tx, table_id: str, party: int, source: str, own_check: int | None = None
    ) -> int:
        """Open a free table and its check for a party (inside a write); the check's id.
        `own_check`: the check the party's pre-order already opened there (not a party)."""
        if table_id not in self._catalog.tables:
            raise NotFound(f"no table '{table_id[:40]}'", field="table")
        trow = await tx.one("SELECT opened_at FROM tables WHERE id=?", (table_id,))
        busy = await tx.one(
            "SELECT id FROM checks WHERE table_id=? AND closed_at IS NULL", (table_id,)
        )
        if busy is not None and own_check is not None and int(busy[0]) == own_check:
            busy = None
            trow = None
        if (trow is not None and trow[0] is not None) or busy is not None:
            name = self._catalog.tables[table_id].name
            raise Conflict(f"{name} already has a party", field="table")
        pin = self._ids.pin(4) if self.settings.require_pin else None
        await repos.set_table_open(tx, table_id, pin, True)
        check_id, _ = await repos.open_check(tx, table_id)
        await rows.insert_seating(tx, check_id, party, source)
        tx.emit(TableOpened(table=TableState(table_id, True)))
        return check_id

    async def _after_seating(self, table_id: str) -> None:
        row = await self._store.read_one("SELECT pin FROM tables WHERE id=?", (table_id,))
        self._catalog.mark_open(table_id, True, None if row is None else row[0])

    async def seat(self, res_id: str, table_id: str, action_id: str, by: str) -> dict[str, Any]:
        """Seat a booked party at a free table: the table opens with its check. Pre-ordered
        dishes become the table's first order."""
        op = f"seat:{res_id}"
        turns = await self.turn_times()

        async def unit(tx: Tx) -> Any:
            done, first = await store_checks.done_action(tx, action_id, op)
            if done:
                return first
            row = await rows.tx_reservation(tx, res_id)
            if row is None:
                raise NotFound(f"no reservation '{res_id[:40]}'", field="id")
            if row["status"] != "booked":
                raise Conflict(f"this reservation is {row['status']}", field="id")
            body = rows.res_body(row)
            own = row["check_id"] if body.fired_order is not None else None
            check_id = await self._seat_table(tx, table_id, body.party, "reservation", own)
            await rows.put_reservation(
                tx,
                res_id=res_id,
                day=row["day"],
                at_ms=int(row["at_ms"]),
                table_id=table_id,
                status="seated",
                source=row["source"],
                check_id=check_id,
                body=msgspec.structs.replace(body, conflict=""),
            )
            fresh = await rows.tx_reservation(tx, res_id)
            info = self.info(fresh, turns)
            tx.emit(ReservationChanged(reservation=info, change="seated", by=by))
            result = msgspec.to_builtins(info)
            await store_checks.save_action(tx, action_id, op, result)
            return result

        result = await self._store.write(unit)
        await self._after_seating(table_id)
        if not await self._fire_dishes(res_id, by):
            await self._fire_held(table_id, res_id, by)
        log.info("reservation %s seated at %s by %s", res_id, table_id, by)
        return dict(result)

    async def _fire_held(self, table_id: str, res_id: str, by: str) -> None:
        """The party is seated: the course its pre-order holds fires now (pacing's fire)."""
        if self._pacer is None:
            return
        # nothing held (the pre-order had one course, or it fired already): a Conflict
        with contextlib.suppress(Conflict):
            await self._pacer.fire(table_id, None, f"seated-{_key(res_id)}", by or "host")

    async def _fire_dishes(self, res_id: str, by: str) -> bool:
        """The pre-ordered dishes become the table's order through Ordering (once: its key is
        the reservation's), where pacing holds the later courses; the order is noted on the
        reservation. False when there is nothing to send (no dishes, no table, sent)."""
        row = await rows.read_reservation(self._store, res_id)
        if row is None or row["table_id"] is None:
            return False
        body = rows.res_body(row)
        if not body.dishes or body.fired_order is not None:
            return False
        lines = [LineRequest(d.item, d.qty, tuple(d.modifiers), d.note) for d in body.dishes]
        order, _ = await self._ordering.place_for_staff(
            row["table_id"],
            f"preorder-{_key(res_id)}",
            lines,
            by or "pre-order",
            stock_taken=True,  # reserved when booked
        )

        async def unit(tx: Tx) -> None:
            fresh = await rows.tx_reservation(tx, res_id)
            if fresh is None:
                return
            await rows.put_reservation(
                tx,
                res_id=res_id,
                day=fresh["day"],
                at_ms=int(fresh["at_ms"]),
                table_id=fresh["table_id"],
                status=fresh["status"],
                source=fresh["source"],
                check_id=order.check_id,
                body=msgspec.structs.replace(rows.res_body(fresh), fired_order=order.order_id),
            )

        await self._store.write(unit)
        log.info("reservation %s: pre-ordered dishes sent as order %d", res_id, order.order_id)
        return True

    async def fire_due_preorders(self) -> int:
        """Send the pre-orders of bookings starting within the lead time (and not yet sent)
        to the kitchen; how many were sent."""
        now = self._clock.now_ms()
        sent = 0
        due = await rows.read_due(
            self._store, now - DAY_MS, now + self.settings.preorder_lead_s * 1000
        )
        for row in due:
            body = rows.res_body(row)
            if body.dishes and body.fired_order is None and row["table_id"] is not None:
                try:
                    sent += await self._fire_dishes(row["id"], "pre-order")
                except (Conflict, InvalidInput, NotFound) as exc:
                    log.warning("pre-order of reservation %s not sent: %s", row["id"], exc)
        return sent

    async def run_preorders(self, every_s: float = 15.0) -> None:
        """Send pre-orders at their lead time for the hub's life (a failed round is logged)."""
        while True:
            try:
                await self.fire_due_preorders()
            except Exception:
                log.exception("sending pre-orders failed; trying again in %.0f s", every_s)
            await asyncio.sleep(every_s)

    async def cancel(self, res_id: str, action_id: str, by: str, *, no_show: bool) -> Any:
        status = "no_show" if no_show else "cancelled"
        op = f"{status}:{res_id}"
        turns = await self.turn_times()

        async def unit(tx: Tx) -> Any:
            done, first = await store_checks.done_action(tx, action_id, op)
            if done:
                return first
            row = await rows.tx_reservation(tx, res_id)
            if row is None:
                raise NotFound(f"no reservation '{res_id[:40]}'", field="id")
            if row["status"] != "booked":
                raise Conflict(f"this reservation is {row['status']}", field="id")
            body = rows.res_body(row)
            if body.fired_order is None:  # the dishes were not made: their portions go back
                for d in body.dishes:
                    await stock.put_back(tx, d.item, d.qty, reason="preorder", by=by)
            await rows.put_reservation(
                tx,
                res_id=res_id,
                day=row["day"],
                at_ms=int(row["at_ms"]),
                table_id=row["table_id"],
                status=status,
                source=row["source"],
                check_id=None,
                body=rows.res_body(row),
            )
            info = self.info(await rows.tx_reservation(tx, res_id), turns)
            tx.emit(ReservationChanged(reservation=info, change=status, by=by))
            result = msgspec.to_builtins(info)
            await store_checks.save_action(tx, action_id, op, result)
            return result

        return await self._store.write(unit)

    # ------------------------------------------------------------ the waitlist

    async def _free_times(self, now_ms: int) -> list[int]:
        """When each table is expected free: now for a free one, its check's opening plus
        the expected turn for a seated one."""
        turns = await self.turn_times()
        busy = {}
        for r in await rows.read_open_checks(self._store):
            opened = _ms(r["opened_at"])
            busy[r["table_id"]] = opened + self._turn_of(turns, int(r["party"] or 2), opened) * 1000
        return [
            busy.get(
                t.id, now_ms if not t.is_open else now_ms + self.settings.default_turn_s * 1000
            )
            for t in self._catalog.tables.values()
        ]

    async def join_wait(
        self, wait_id: str, name: str, party: int, phone: str | None, by: str
    ) -> dict[str, Any]:
        name = rules.clean_text(name, "name", rules.MAX_NAME, required=True)
        party = rules.check_party(party)
        phone = rules.check_phone(phone)
        now_ms = self._clock.now_ms()
        free = await self._free_times(now_ms)
        token = self._ids.token(18)

        async def unit(tx: Tx) -> Any:
            row = await rows.tx_wait(tx, wait_id)
            if row is not None:
                return row
            position = len(await rows.tx_waiting(tx)) + 1
            quoted = rules.quote_wait_s(free, position, now_ms)
            body = rows.WaitBody(name=name, phone=phone)
            await rows.insert_wait(
                tx, wait_id=wait_id, token=token, party=party, created_ms=now_ms,
                quoted_wait_s=quoted, body=body,
            )  # fmt: skip
            tx.emit(WaitlistChanged(id=wait_id, status="waiting", party=party,
                                    quoted_wait_s=quoted, change="joined"))  # fmt: skip
            fresh = await rows.tx_wait(tx, wait_id)
            assert fresh is not None
            return fresh

        row = await self._store.write(unit)
        waiting = await rows.read_waiting(self._store)
        return self._wait_doc(row, waiting, staff=True)

    def _wait_doc(self, row: Any, waiting: Sequence[Any], *, staff: bool) -> dict[str, Any]:
        body = rows.wait_body(row)
        ids = [w["id"] for w in waiting]
        position = ids.index(row["id"]) + 1 if row["id"] in ids else None
        doc: dict[str, Any] = {
            "id": row["id"],
            "status": row["status"],
            "party": row["party"],
            "position": position,
            "quoted_wait_s": row["quoted_wait_s"],
            "joined_ms": row["created_ms"],
            "table": row["table_id"],
            "message": body.message,
        }
        if staff:
            doc.update(
                name=body.name,
                phone=rules.mask_phone(body.phone),
                token=row["token"],
                url=f"{self._catalog.base_url}/w/{row['token']}",
            )
        else:
            doc["first_name"] = rules.first_name(body.name)
        return doc

    async def waitlist(self) -> dict[str, Any]:
        waiting = await rows.read_waiting(self._store)
        return {
            "now_ms": self._clock.now_ms(),
            "waiting": [self._wait_doc(r, waiting, staff=True) for r in waiting],
        }

    async def guest_view(self, token: str) -> dict[str, Any]:
        """The walk-in's own page: position, quoted wait and the host's message; the first
        name only."""
        if not isinstance(token, str) or not 10 <= len(token) <= 64:
            raise NotFound("no such place in the queue", field="token")
        row = await rows.read_wait_by_token(self._store, token)
        if row is None:
            raise NotFound("no such place in the queue", field="token")
        waiting = await rows.read_waiting(self._store)
        doc = self._wait_doc(row, waiting, staff=False)
        doc["now_ms"] = self._clock.now_ms()
        return doc

    async def _wait_action(
        self, wait_id: str, action_id: str, op: str, change: Any
    ) -> dict[str, Any]:
        async def unit(tx: Tx) -> Any:
            done, first = await store_checks.done_action(tx, action_id, op)
            if done:
                return first
            row = await rows.tx_wait(tx, wait_id)
            if row is None:
                raise NotFound(f"no walk-in '{wait_id[:40]}'", field="id")
            await change(tx, row)
            fresh = await rows.tx_wait(tx, wait_id)
            assert fresh is not None
            result = {"id": wait_id, "status": fresh["status"], "table": fresh["table_id"]}
            await store_checks.save_action(tx, action_id, op, result)
            return result

        result: dict[str, Any] = await self._store.write(unit)
        return result

    async def seat_walkin(self, wait_id: str, table_id: str, action_id: str) -> dict[str, Any]:
        async def change(tx: Tx, row: Any) -> None:
            if row["status"] != "waiting":
                raise Conflict(f"this walk-in has {row['status']}", field="id")
            await self._seat_table(tx, table_id, int(row["party"]), "waitlist")
            await rows.set_wait(tx, wait_id, "seated", table_id, rows.wait_body(row))
            tx.emit(WaitlistChanged(id=wait_id, status="seated", party=int(row["party"]),
                                    table=table_id, change="seated"))  # fmt: skip

        result = await self._wait_action(wait_id, action_id, f"seat-walkin:{wait_id}", change)
        await self._after_seating(table_id)
        return result

    async def leave_wait(self, wait_id: str, action_id: str) -> dict[str, Any]:
        async def change(tx: Tx, row: Any) -> None:
            if row["status"] != "waiting":
                raise Conflict(f"this walk-in has {row['status']}", field="id")
            await rows.set_wait(tx, wait_id, "left", None, rows.wait_body(row))
            tx.emit(WaitlistChanged(id=wait_id, status="left", party=int(row["party"]),
                                    change="left"))  # fmt: skip

        return await self._wait_action(wait_id, action_id, f"leave:{wait_id}", change)

    async def message_guest(self, wait_id: str, text: str, action_id: str) -> dict[str, Any]:
        text = rules.clean_text(text, "message", 160, required=True)

        async def change(tx: Tx, row: Any) -> None:
            body = msgspec.structs.replace(rows.wait_body(row), message=text)
            await rows.set_wait(tx, wait_id, row["status"], row["table_id"], body)
            tx.emit(WaitlistChanged(id=wait_id, status=row["status"], party=int(row["party"]),
                                    change="message"))  # fmt: skip

        return await self._wait_action(wait_id, action_id, f"message:{wait_id}:{text}", change)

    # ------------------------------------------------------------ forgetting guests

    async def run_forgetting(self, every_s: float = 3600.0) -> None:
        """Forget old guests now and then for the hub's life (a failed round is logged)."""
        while True:
            try:
                await self.forget_old()
            except Exception:
                log.exception("forgetting old guests failed; trying again in %.0f s", every_s)
            await asyncio.sleep(every_s)

    async def forget_old(self) -> int:
        """Blank the personal data of guests whose visit is older than the store keeps it."""
        days = self.settings.forget_after_days
        before = self._clock.now_ms() - days * DAY_MS

        async def unit(tx: Tx) -> int:
            return await rows.forget_before(tx, before, 500)

        n: int = await self._store.write(unit)
        if n:
            log.info("forgot the personal data of %d guests (visits over %d days ago)", n, days)
        return n


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _key(res_id: str) -> str:
    """An order key from a reservation id (8-64 of letters, digits, '-', '_')."""
    clean = "".join(c if c.isalnum() or c in "-_" else "_" for c in res_id)
    return clean[:54]
