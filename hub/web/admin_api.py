"""The admin page's own API: the kitchen's numbers, backups, the printable QR sheet and the
pairing link (with its QR code) of a new staff token. Admin token only (see docs/api.md)."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from hub.bus import contract
from hub.domain import stats
from hub.domain.ports import iso_from_ms
from hub.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from hub.services.container import Services
from hub.store import backup, repos
from hub.web import auth, qr
from hub.web.keys import SERVICES
from hub.web.schemas import PairingIn, decode

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger("tablehub.web.admin")

routes = web.RouteTableDef()
BACKUP_LOCK = web.AppKey("backup_lock", asyncio.Lock)


def setup(app: web.Application) -> None:
    app[BACKUP_LOCK] = asyncio.Lock()
    app.add_routes(routes)


def _svc(request: web.Request) -> Services:
    s: Services = request.app[SERVICES]
    return s


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=repos.dumps)


def _base_url(request: web.Request) -> str:
    return _svc(request).catalog.base_url or f"{request.scheme}://{request.host}"


# ---------------------------------------------------------------- the kitchen's numbers


def _hours(request: web.Request) -> int:
    raw = request.query.get("hours", "12")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not (
        1 <= int(raw) <= stats.MAX_HOURS
    ):
        raise InvalidInput(
            f"hours must be a whole number from 1 to {stats.MAX_HOURS}", field="hours"
        )
    return int(raw)


@routes.get("/api/v1/stats")
async def get_stats(request: web.Request) -> web.Response:
    """Orders per hour, ticket times (p50/p90) and late tickets per station."""
    await auth.require(request, "admin")
    s = _svc(request)
    hours = _hours(request)
    now_ms = s.clock.now_ms()
    since_ms = stats.window_start(now_ms, hours)
    placed = await repos.read_order_times(s.store, iso_from_ms(since_ms))
    orders = [stats.ms_from_iso(t) for t in placed]
    tickets = [
        stats.TicketTime(station, created, None if bumped is None else stats.ms_from_iso(bumped))
        for station, created, bumped in await repos.read_ticket_times(s.store, since_ms)
    ]
    limits = [
        stats.StationLimits(st["id"], st["name"], st["late_seconds"]) for st in s.catalog.stations()
    ]
    per_hour = stats.orders_per_hour(orders, now_ms, hours)
    return _json(
        {
            "hours": hours,
            "now_ms": now_ms,
            "since_ms": since_ms,
            "orders_total": sum(h["orders"] for h in per_hour),
            "orders_per_hour": per_hour,
            "stations": stats.station_numbers(tickets, limits, now_ms),
        }
    )


# ---------------------------------------------------------------- backups


def _backup_doc(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
    except OSError:  # pruned between listing and looking
        size = None
    return {
        "name": path.name,
        "created_at": backup.backup_time(path).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_ms": int(backup.backup_time(path).timestamp() * 1000),
        "size_bytes": size,
        "path": str(path),
    }


def _backups_folder(s: Services) -> Path:
    return backup.backups_dir(s.store.path.parent)


@routes.get("/api/v1/backups")
async def get_backups(request: web.Request) -> web.Response:
    await auth.require(request, "admin")
    s = _svc(request)
    folder = _backups_folder(s)
    found = await asyncio.to_thread(lambda: [_backup_doc(p) for p in backup.list_backups(folder)])
    last = found[0]["created_ms"] if found else None
    now_ms = s.clock.now_ms()
    plan = s.backup_schedule
    next_ms = None
    if plan is not None:
        now = datetime.fromtimestamp(now_ms / 1000, UTC)
        newest = None if last is None else datetime.fromtimestamp(last / 1000, UTC)
        next_ms = max(now_ms, int(plan.next_at(newest, now).timestamp() * 1000))
    return _json(
        {
            "backups": found,
            "keep": s.backup_keep,
            "folder": str(folder),
            "last_age_s": None if last is None else max(0, (now_ms - last) // 1000),
            "next_ms": next_ms,
            "running": request.app[BACKUP_LOCK].locked(),
            # how long closed business stays on the hub (hub/consumers/history_prune.py)
            "history": s.extra_health.get("history"),
        }
    )


@routes.post("/api/v1/backups")
async def post_backup(request: web.Request) -> web.Response:
    """Back the store up now (online, in a worker thread); one at a time."""
    staff = await auth.require(request, "admin")
    s = _svc(request)
    lock = request.app[BACKUP_LOCK]
    if lock.locked():
        raise Conflict("a backup is already running; wait for it to finish", field=None)
    async with lock:
        try:
            path = await asyncio.to_thread(
                backup.backup, s.store.path, _backups_folder(s), keep=s.backup_keep
            )
        except backup.BackupError as exc:
            log.error("backup asked by %s failed: %s", staff.label, exc.message)
            raise StoreUnavailable(f"the backup failed: {exc.message}", field=None) from exc
    log.info("store backed up by %s: %s", staff.label, path.name)
    return _json(_backup_doc(path), status=201)


# ---------------------------------------------------------------- tables: the printable sheet


def _labels(request: web.Request) -> tuple[list[tuple[str, str]], str]:
    """Each table's name and URL, and the store's name, for the sheet."""
    cat = _svc(request).catalog
    base = _base_url(request)
    labels = [(t.name, f"{base}/t/{cat.token_for(t.id)}") for t in cat.tables.values()]
    name = cat.menu.store.name if cat.menu is not None else "tablehub"
    return labels, name


def _sheet_pages(labels: list[tuple[str, str]], name: str) -> list[Image]:
    """The sheet's pages; run off the loop. The sheet draws with Pillow, about 4 MB of the
    hub's memory for as long as it runs once imported: it is imported here, for a page
    printed now and then, not with this module."""
    from hub.provision import sheet

    return sheet.render_pages(
        [sheet.Label(t, url) for t, url in labels], heading=f"{name}: scan to order"
    )


@routes.get("/api/v1/tables/qr-sheet.pdf")
async def get_qr_sheet_pdf(request: web.Request) -> web.Response:
    """Every table's QR code, twelve to an A4 page, ready to print."""
    await auth.require(request, "admin")
    labels, name = _labels(request)

    def render() -> bytes:
        from hub.provision import sheet

        return sheet.to_pdf(_sheet_pages(labels, name), title=f"{name} tables")

    return web.Response(
        body=await asyncio.to_thread(render),
        content_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="tables-qr.pdf"'},
    )


@routes.get("/api/v1/tables/qr-sheet.png")
async def get_qr_sheet_png(request: web.Request) -> web.Response:
    await auth.require(request, "admin")
    labels, name = _labels(request)

    def render() -> bytes:
        from hub.provision import sheet

        return sheet.to_png(_sheet_pages(labels, name))

    return web.Response(
        body=await asyncio.to_thread(render),
        content_type="image/png",
        headers={"Content-Disposition": 'attachment; filename="tables-qr.png"'},
    )


# ---------------------------------------------------------------- pairing a screen


def _safe_next(value: str) -> bool:
    return value.startswith("/") and not value.startswith("//") and "\\" not in value


@routes.post("/api/v1/admin/pairing")
async def post_pairing(request: web.Request) -> web.Response:
    """The pairing link of a live staff token, and its QR code (an SVG data URI) for a tablet
    to scan: opening the link signs that screen in and sends it to `next`."""
    await auth.require(request, "admin")
    body = decode(await request.read(), PairingIn)
    if not _safe_next(body.next) or any(c.isspace() for c in body.next):
        raise InvalidInput("next must be a path on this hub, like /kds/grill", field="next")
    if await auth.staff_from_token(_svc(request).store, body.token) is None:
        raise NotFound("no active staff token like this", field="token")
    url = f"{_base_url(request)}/pair?token={quote(body.token, safe='')}&next={quote(body.next)}"
    code = qr.svg(url, title="pairing", scale=5)
    data = "data:image/svg+xml;base64," + base64.b64encode(code).decode("ascii")
    return _json({"url": url, "next": body.next, "qr": data})


# ---------------------------------------------------------------- devices gone for good


@routes.post("/api/v1/admin/devices/{device_id}/forget")
async def post_forget_device(request: web.Request) -> web.Response:
    """Forget a device that has gone away for good (see `Devices.forget`)."""
    staff = await auth.require(request, "admin")
    device_id = request.match_info["device_id"]
    if not contract.SEGMENT_RE.fullmatch(device_id):
        raise InvalidInput("device must be a device id like printer-grill-1", field="device")
    gone = await _svc(request).devices.forget(device_id)
    log.info("device %s forgotten by %s", device_id, staff.label)
    return _json({"forgotten": gone.id, "device": gone})
