"""Table calls: a diner's page or a call button opens one; floor staff acknowledge and close
it; an unanswered call escalates. The button's LED follows the table's open-call state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from hub.domain import calls as dc
from hub.domain.events import Call, CallEscalated, CallEvent, CallOpened, CallUpdated
from hub.domain.ports import Clock
from hub.errors import NotFound, StoreUnavailable
from hub.services.catalog import Catalog
from hub.store import repos
from hub.store.db import Event, Store, Tx

log = logging.getLogger("tablehub.calls")


def _state(row: Any) -> dc.CallState:
    return dc.CallState(row["state"], int(row["opened_ms"]), bool(row["escalated"]))


async def _emit(tx: Tx, call_id: int, event: type[CallEvent]) -> Call:
    row = await repos.tx_call(tx, call_id)
    assert row is not None
    call = repos.call_from_row(row)
    # the LED of the table's button: lit while any call of the table is open
    led = await repos.tx_table_has_open_call(tx, call.table)
    tx.emit(event(call=call, table_open=led))
    return call


class Calls:
    def __init__(
        self, store: Store, catalog: Catalog, clock: Clock, *, escalate_after_s: int = 120
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self.escalate_after_s = escalate_after_s
        # when each call opened in this run was opened, on the monotonic clock: its age does
        # not jump with the wall clock. Calls from before a restart fall back to wall time.
        self._opened_mono: dict[int, int] = {}

    async def open(self, table_id: str, kind: str, source: str) -> tuple[Call, bool]:
        """Open a call; (call, created). A second press while one is open returns it."""
        dc.check_kind(kind)
        if table_id not in self._catalog.tables:
            raise NotFound(f"no table '{table_id}'", field="table")
        now_ms = self._clock.now_ms()
        mono = self._clock.monotonic_ms()

        async def unit(tx: Tx) -> tuple[Call, bool]:
            existing = await repos.tx_open_call(tx, table_id, kind)
            if existing is not None:
                return repos.call_from_row(existing), False
            call_id = await repos.insert_call(tx, table_id, kind, source, now_ms)
            return await _emit(tx, call_id, CallOpened), True

        call, created = await self._store.write(unit)
        if created:
            self._opened_mono[call.id] = mono
            log.info("call %s: table %s wants %s (%s)", call.id, table_id, kind, source)
        return call, created

    async def _change(self, call_id: int, how: str) -> Call:
        async def unit(tx: Tx) -> Call:
            row = await repos.tx_call(tx, call_id)
            if row is None:
                raise NotFound(f"no call {call_id}", field="call")
            state = dc.acknowledge(_state(row)) if how == "ack" else dc.close(_state(row))
            await repos.update_call(tx, call_id, state.state, state.escalated)
            return await _emit(tx, call_id, CallUpdated)

        return await self._store.write(unit)

    async def acknowledge(self, call_id: int) -> Call:
        return await self._change(call_id, "ack")

    async def close(self, call_id: int) -> Call:
        return await self._change(call_id, "close")

    def _age_ms(self, call_id: int, opened_ms: int, now_ms: int, mono: int) -> int:
        if call_id in self._opened_mono:
            return mono - self._opened_mono[call_id]
        return now_ms - opened_ms

    async def escalate_due(self) -> int:
        """Mark every open call older than the limit as escalated; returns how many."""
        now_ms, mono = self._clock.now_ms(), self._clock.monotonic_ms()
        after_ms = self.escalate_after_s * 1000
        live = await repos.read_active_calls(self._store)
        for gone in set(self._opened_mono) - {c.id for c in live}:
            del self._opened_mono[gone]  # closed
        due = [
            c.id
            for c in live
            if c.state == "open"
            and not c.escalated
            and self._age_ms(c.id, c.opened_ms, now_ms, mono) >= after_ms
        ]
        if not due:
            return 0

        async def unit(tx: Tx) -> int:
            n = 0
            for call_id in due:
                row = await repos.tx_call(tx, call_id)
                if row is None:
                    continue
                # as if opened `age` ago on the wall clock: the rule stays the domain's
                age = self._age_ms(call_id, int(row["opened_ms"]), now_ms, mono)
                if not dc.due_for_escalation(
                    _state(row), row["opened_ms"] + age, self.escalate_after_s
                ):
                    continue
                await repos.update_call(tx, call_id, row["state"], True)
                await _emit(tx, call_id, CallEscalated)
                n += 1
            return n

        n: int = await self._store.write(unit)
        if n:
            log.warning("%d table call(s) unanswered for %ds: escalated", n, self.escalate_after_s)
        return n

    # ------------------------------------------------------------ as a consumer of the hub

    name = "call-escalation"

    def on_commit(self, events: Sequence[Event]) -> None:
        pass  # the age of a call is what counts: checked on a timer

    async def run(self, every_s: float = 5.0) -> None:
        """Escalate unanswered calls every `every_s`; a store that cannot save now (disk
        full) is tried again on the next round."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.escalate_due()
            except StoreUnavailable as exc:
                log.debug("call escalation waits for the store: %s", exc)

    async def stop(self) -> bool:
        return False
