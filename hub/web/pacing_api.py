"""Pacing under /api/v1: fire a table's held course, each table's courses, the kitchen's
load, and the admin's quote errors (see docs/api.md)."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from aiohttp import web

from hub.domain.events import Ticket
from hub.domain.pacing import error_stats
from hub.errors import InvalidInput
from hub.services.pacing import ms_of
from hub.store import repos
from hub.web import auth
from hub.web.api import _json, svc
from hub.web.schemas import FireIn, decode

routes = web.RouteTableDef()


@routes.post("/api/v1/tables/{table_id}/fire")
async def post_fire(request: web.Request) -> web.Response:
    """Fire the table's held course (`course`, or the next one held): its tickets go to their
    stations and their chits print. Once per action id."""
    staff = await auth.require(request, "fire")
    body = decode(await request.read(), FireIn)
    result = await svc(request).pacer.fire(
        request.match_info["table_id"], body.course, body.id, f"staff:{staff.label}"
    )
    return _json(result)


@routes.get("/api/v1/pacing")
async def get_pacing(request: web.Request) -> web.Response:
    """Each station's projected wait, cooks, open and held tickets, limit and pause."""
    await auth.require(request, "read")
    return _json(svc(request).pacer.load_view())


@routes.get("/api/v1/pacing/tables")
async def get_pacing_tables(request: web.Request) -> web.Response:
    """Each table with an open order: its courses' states, the next held course, and how
    long it has waited for it since its last course was ready (flagged past the limit)."""
    await auth.require(request, "read")
    s = svc(request)
    orders = await repos.read_open_orders(s.store)
    tickets = await repos.read_tickets_of_orders(s.store, [o.order_id for o in orders])
    by_table: dict[str, list[Ticket]] = defaultdict(list)
    for t in tickets:
        by_table[t.table.id].append(t)
    now = s.clock.now_ms()
    menu = s.catalog.menu
    flag_after = s.pacer.config.flag_after_s
    out = []
    for table, ts in sorted(by_table.items()):
        rank = (lambda c: menu.course_rank(c)) if menu is not None else (lambda c: 0)
        courses: dict[str | None, list[Ticket]] = defaultdict(list)
        for t in ts:
            courses[t.course].append(t)
        states = []
        for c in sorted(courses, key=rank):
            states.append({"course": c, "state": _state(courses[c])})
        held = [st["course"] for st in states if st["state"] == "held"]
        busy = any(st["state"] == "fired" for st in states)
        ready_at = max((_ms(t.bumped_at) for t in ts if t.status == "bumped"), default=0)
        waiting = (now - ready_at) // 1000 if held and not busy and ready_at else 0
        out.append(
            {
                "table": table,
                "courses": states,
                "next": held[0] if held else None,
                "waiting_s": waiting,
                "flagged": bool(flag_after) and waiting > flag_after,
            }
        )
    return _json({"tables": out, "flag_after_s": flag_after})


def _state(ts: list[Ticket]) -> str:
    if any(t.status == "held" for t in ts):
        return "held"
    if all(t.status == "bumped" for t in ts):
        return "ready"
    return "fired"


def _ms(iso: str | None) -> int:
    return ms_of(iso) or 0


@routes.get("/api/v1/admin/pacing/quotes")
async def get_quote_errors(request: web.Request) -> web.Response:
    """How far the quoted waits were from the actual ready times: overall and per hour (of
    the quote, local time), p50 and p90 of the absolute error in seconds."""
    await auth.require(request, "admin")
    raw = request.query.get("hours", "24")
    if not raw.isdigit() or not 1 <= int(raw) <= 24 * 31:
        raise InvalidInput("must be a whole number of hours from 1 to 744", field="hours")
    s = svc(request)
    since = s.clock.now_ms() - int(raw) * 3_600_000
    quotes = await repos.read_quotes(s.store, since) if s.pacer.records_quotes else []
    done = [(q, by, r) for q, by, r in quotes if r is not None]
    per_hour: dict[int, list[float]] = defaultdict(list)
    for quoted, by, ready in done:
        per_hour[quoted // 3_600_000].append((ready - by) / 1000)
    hours: list[dict[str, Any]] = [
        dict(
            error_stats(errs),
            hour=time.strftime("%Y-%m-%dT%H:00", time.localtime(h * 3600)),
            hour_ms=h * 3_600_000,
        )
        for h, errs in sorted(per_hour.items())
    ]
    overall = error_stats([(r - by) / 1000 for _, by, r in done])
    return _json(
        {"overall": overall, "hours": hours, "pending": len(quotes) - len(done), "since_ms": since}
    )


def setup(app: web.Application) -> None:
    app.add_routes(routes)
