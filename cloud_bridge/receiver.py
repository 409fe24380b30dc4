"""The reference cloud receiver: an aiohttp app over PostgreSQL (asyncpg).

It keeps no state in memory (only its tokens, read at start), so any number of receivers
behind a load balancer serve a whole chain over one database:

- `POST /v1/stores/{store}/events` stores a batch in one transaction. Events are keyed by
  (store_id, seq) and inserted with `ON CONFLICT DO NOTHING`: a resent batch or event is
  dropped, never doubled. Batches of one store are serialised by a row lock on the store's
  row, so the first copy of each event is stored in the order the bridge sent it, and the
  store's `contiguous_seq` (every seq up to it is present, or shed on purpose) is advanced
  in the same transaction. Telemetry the bridge shed is recorded as placeholder rows
  (`shed = true`, no body), so intended gaps do not look like losses.
- `GET /v1/stores/{store}/status` reports contiguous_seq, the highest seq, missing seqs
  (count and the first ranges), duplicates dropped, shed events and the menu's state.
- `GET /v1/stores/{store}/menu` serves the newest menu version with an ETag (If-None-Match
  gives 304); `PUT` of a new version is for the chain admin; the bridge reports each
  version's fate to `POST /v1/stores/{store}/menu/results`.
- `PUT /v1/stores/{store}/bookings/{id}` is the chain's booking site (admin token) booking,
  editing or cancelling a reservation; `GET /v1/stores/{store}/bookings?after=<seq>` gives the
  store's bridge those changed since, oldest first. The host stand's own changes come up as
  `reservation.changed` events like any other.

The wire protocol is in docs/cloud-protocol.md. Tokens come from a TOML file (mode 0600)::

    admin = "chain admin token"
    [stores]
    demo = "store token"
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import msgspec
from aiohttp import web

from cloud_bridge.config import read_secret_file
from cloud_bridge.errors import ConfigError
from hub.domain import events

log = logging.getLogger("tablehub.receiver")


def accepted_streams() -> frozenset[str]:
    """Every stream of the hub's event catalogue (hub/domain/events.py, the one hub module
    the cloud shares); anything else is refused as unknown. Read at each check, so an event
    class registered with the catalogue is accepted with no edit here."""
    return events.streams()


MAX_BODY = 16 * 1024 * 1024  # decompressed; aiohttp inflates gzip request bodies
MAX_EVENTS = 5000
WINDOW = 10_000  # rows looked at per step when advancing contiguous_seq
GAP_LIST = 100
KIND_RE = re.compile(r"[a-z0-9._-]{1,100}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS stores (
    store_id         TEXT PRIMARY KEY,
    contiguous_seq   BIGINT NOT NULL DEFAULT 0,
    max_seq          BIGINT NOT NULL DEFAULT 0,
    events           BIGINT NOT NULL DEFAULT 0,
    duplicates       BIGINT NOT NULL DEFAULT 0,
    shed             BIGINT NOT NULL DEFAULT 0,
    batches          BIGINT NOT NULL DEFAULT 0,
    replayed_batches BIGINT NOT NULL DEFAULT 0,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS events (
    store_id    TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    stream      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    at          TEXT NOT NULL,
    body        JSONB,
    shed        BOOLEAN NOT NULL DEFAULT false,
    rid         BIGINT GENERATED ALWAYS AS IDENTITY,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, seq)
);
CREATE TABLE IF NOT EXISTS batches (
    store_id    TEXT NOT NULL,
    idem_key    TEXT NOT NULL,
    events      INTEGER NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, idem_key)
);
CREATE TABLE IF NOT EXISTS shed_notices (
    store_id    TEXT NOT NULL,
    lo          BIGINT NOT NULL,
    hi          BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    ranges      JSONB NOT NULL,
    at          TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, lo)
);
CREATE TABLE IF NOT EXISTS menus (
    store_id   TEXT NOT NULL,
    version    INTEGER NOT NULL,
    body       JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, version)
);
CREATE TABLE IF NOT EXISTS menu_results (
    store_id    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    hub_version INTEGER,
    error       TEXT,
    field       TEXT,
    message     TEXT,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, version)
);
-- Reservations made on the chain's booking site, for the store's bridge to bring down in
-- the order they changed (`seq` grows on every change).
CREATE SEQUENCE IF NOT EXISTS booking_seq;
CREATE TABLE IF NOT EXISTS bookings (
    store_id   TEXT NOT NULL,
    id         TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    body       JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, id)
);
CREATE INDEX IF NOT EXISTS bookings_by_seq ON bookings(store_id, seq);
"""
SCHEMA_LOCK = 7_242_001  # advisory lock id: receivers starting together create it once


# ---------------------------------------------------------------- wire types

Seq = Annotated[int, msgspec.Meta(ge=1)]


class EventIn(msgspec.Struct, forbid_unknown_fields=False):
    store: str
    seq: int
    stream: str
    kind: str
    key: str
    at: str
    body: msgspec.Raw


class ShedIn(msgspec.Struct, forbid_unknown_fields=False):
    lo: Seq
    hi: Seq
    count: Annotated[int, msgspec.Meta(ge=1)]
    bytes: Annotated[int, msgspec.Meta(ge=0)]
    ranges: Annotated[list[tuple[Seq, Seq]], msgspec.Meta(min_length=1)]
    at: Annotated[str, msgspec.Meta(max_length=40)]


class BatchIn(msgspec.Struct, forbid_unknown_fields=False):
    events: list[EventIn]
    shed: Annotated[list[ShedIn], msgspec.Meta(max_length=100)] = []


class MenuResultIn(msgspec.Struct, forbid_unknown_fields=False):
    version: Annotated[int, msgspec.Meta(ge=1)]
    status: Annotated[str, msgspec.Meta(pattern="^(applied|rejected)$")]
    hub_version: int | None = None
    error: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    field: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    message: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


def event_problem(store: str, e: EventIn) -> str | None:
    """Why one event is unacceptable, or None."""
    if e.store != store:
        return f"store '{e.store[:64]}' does not match the URL's '{store}'"
    if e.seq < 1:
        return "seq must be a positive whole number"
    if e.stream not in accepted_streams():
        return f"unknown stream '{e.stream[:40]}'"
    if not KIND_RE.fullmatch(e.kind):
        return "kind must be 1-100 of a-z, 0-9, '.', '_' or '-'"
    if len(e.key) > 200 or not 1 <= len(e.at) <= 40:
        return "key or at is too long"
    if not bytes(e.body).lstrip().startswith(b"{"):
        return "body must be a JSON object"
    if events.event_class(e.kind) is not None:  # a kind the catalogue knows: its shape too
        try:
            events.decode(e.kind, bytes(e.body))
        except events.CatalogueError as exc:
            return f"body does not fit its kind: {str(exc)[:200]}"
    return None


class Rejected(Exception):
    def __init__(
        self, status: int, error: str, message: str, bad_seqs: tuple[int, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.bad_seqs = status, error, message, bad_seqs

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.bad_seqs or self.status == 422:
            body["bad_seqs"] = list(self.bad_seqs)
        return web.json_response(body, status=self.status)


def decode_batch(store: str, raw: bytes) -> BatchIn:
    try:
        batch = msgspec.json.decode(raw, type=BatchIn)
    except msgspec.ValidationError as exc:
        raise Rejected(400, "invalid_batch", str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise Rejected(400, "bad_json", f"the body is not valid JSON: {exc}") from exc
    if len(batch.events) > MAX_EVENTS:
        raise Rejected(413, "too_large", f"at most {MAX_EVENTS} events per batch")
    bad = [(e.seq, p) for e in batch.events if (p := event_problem(store, e)) is not None]
    if bad:
        raise Rejected(
            422,
            "invalid_events",
            f"{len(bad)} event(s) rejected; first: seq {bad[0][0]}: {bad[0][1]}",
            tuple(s for s, _ in bad),
        )
    return batch


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class Tokens:
    admin: str
    stores: Mapping[str, str]

    def __repr__(self) -> str:
        return f"<Tokens stores={sorted(self.stores)}>"

    def allows(self, header: str, store: str, *, admin_only: bool = False) -> bool:
        if not header.startswith("Bearer "):
            return False
        given = header[7:].strip().encode()
        if self.admin and hmac.compare_digest(given, self.admin.encode()):
            return True
        want = self.stores.get(store)
        return not admin_only and want is not None and hmac.compare_digest(given, want.encode())


def load_tokens(path: Path) -> Tokens:
    text = read_secret_file(path, "token_file")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    stores = doc.get("stores", {})
    if not isinstance(stores, dict) or not all(isinstance(v, str) for v in stores.values()):
        raise ConfigError(f"{path}: [stores] must map store ids to tokens")
    return Tokens(str(doc.get("admin", "")), dict(stores))


# ---------------------------------------------------------------- storage


async def ensure_schema(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con, con.transaction():
        await con.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        await con.execute(SCHEMA)


async def _advance(con: asyncpg.Connection, store: str, c: int) -> int:
    """The highest seq such that every seq up to it is present (events or shed)."""
    while await con.fetchval("SELECT 1 FROM events WHERE store_id = $1 AND seq = $2", store, c + 1):
        top = await con.fetchval(
            "SELECT max(seq) FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS g "
            "FROM (SELECT seq FROM events WHERE store_id = $1 AND seq > $2 "
            "ORDER BY seq LIMIT $3) w) t WHERE g = $2",
            store,
            c,
            WINDOW,
        )
        reached = int(top)
        whole_window = reached - c == WINDOW
        c = reached
        if not whole_window:
            break
    return c


async def store_batch(pool: asyncpg.Pool, store: str, key: str, batch: BatchIn) -> dict[str, Any]:
    ev = batch.events
    async with pool.acquire() as con, con.transaction():
        await con.execute("INSERT INTO stores(store_id) VALUES ($1) ON CONFLICT DO NOTHING", store)
        c = await con.fetchval(
            "SELECT contiguous_seq FROM stores WHERE store_id = $1 FOR UPDATE", store
        )
        fresh = await con.fetchval(
            "INSERT INTO batches(store_id, idem_key, events) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            store,
            key,
            len(ev),
        )
        inserted = 0
        if ev:
            inserted = await con.fetchval(
                "WITH ins AS (INSERT INTO events(store_id, seq, stream, kind, key, at, body) "
                "SELECT $1, s, st, k, ky, a, b::jsonb FROM unnest($2::bigint[], $3::text[], "
                "$4::text[], $5::text[], $6::text[], $7::text[]) AS u(s, st, k, ky, a, b) "
                "ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM ins",
                store,
                [e.seq for e in ev],
                [e.stream for e in ev],
                [e.kind for e in ev],
                [e.key for e in ev],
                [e.at for e in ev],
                [bytes(e.body).decode() for e in ev],
            )
        shed = await _store_shed(con, store, batch.shed)
        new_c = await _advance(con, store, int(c))
        top = max((e.seq for e in ev), default=0)
        top = max([top, *(n.hi for n in batch.shed)])
        await con.execute(
            "UPDATE stores SET contiguous_seq = $2, max_seq = GREATEST(max_seq, $3), "
            "events = events + $4, duplicates = duplicates + $5, shed = shed + $6, "
            "batches = batches + 1, replayed_batches = replayed_batches + $7, "
            "updated_at = now() WHERE store_id = $1",
            store,
            new_c,
            top,
            inserted,
            len(ev) - inserted,
            shed,
            0 if fresh else 1,
        )
    return {
        "acked": [e.seq for e in ev],
        "contiguous_seq": new_c,
        "replayed": not fresh,
        "duplicates": len(ev) - inserted,
    }


async def _store_shed(con: asyncpg.Connection, store: str, notices: list[ShedIn]) -> int:
    placed = 0
    for n in notices:
        new = await con.fetchval(
            "INSERT INTO shed_notices(store_id, lo, hi, count, bytes, ranges, at) "
            "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT DO NOTHING RETURNING 1",
            store,
            n.lo,
            n.hi,
            n.count,
            n.bytes,
            msgspec.json.encode(n.ranges).decode(),
            n.at,
        )
        if not new:
            continue
        placed += await con.fetchval(
            "WITH ins AS (INSERT INTO events(store_id, seq, stream, kind, key, at, shed) "
            "SELECT $1, g, 'telemetry', 'shed', '', $4, true "
            "FROM unnest($2::bigint[], $3::bigint[]) AS r(lo, hi), generate_series(r.lo, r.hi) g "
            "ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM ins",
            store,
            [r[0] for r in n.ranges],
            [r[1] for r in n.ranges],
            n.at,
        )
    return placed


async def store_status(pool: asyncpg.Pool, store: str) -> dict[str, Any]:
    async with pool.acquire() as con:
        row = await con.fetchrow("SELECT * FROM stores WHERE store_id = $1", store)
        if row is None:
            raise Rejected(404, "not_found", f"no events from store '{store}' yet")
        c = int(row["contiguous_seq"])
        above = await con.fetchval(
            "SELECT count(*) FROM events WHERE store_id = $1 AND seq > $2", store, c
        )
        gaps = await con.fetch(
            "SELECT lo, hi FROM (SELECT seq + 1 AS lo, lead(seq) OVER (ORDER BY seq) - 1 AS hi "
            "FROM (SELECT $2::bigint AS seq UNION ALL SELECT seq FROM events "
            "WHERE store_id = $1 AND seq > $2) x) y WHERE hi >= lo ORDER BY lo LIMIT $3",
            store,
            c,
            GAP_LIST,
        )
        menu = await con.fetchrow(
            "SELECT m.version, r.status, r.hub_version, r.error, r.field, r.message "
            "FROM menus m LEFT JOIN menu_results r USING (store_id, version) "
            "WHERE m.store_id = $1 ORDER BY m.version DESC LIMIT 1",
            store,
        )
    return {
        "store": store,
        "contiguous_seq": c,
        "max_seq": int(row["max_seq"]),
        "events": int(row["events"]),
        "missing": int(row["max_seq"]) - c - int(above),
        "gaps": [[int(g["lo"]), int(g["hi"])] for g in gaps],
        "shed": int(row["shed"]),
        "duplicates": int(row["duplicates"]),
        "batches": int(row["batches"]),
        "replayed_batches": int(row["replayed_batches"]),
        "menu": None if menu is None else dict(menu),
    }


# ---------------------------------------------------------------- HTTP

POOL = web.AppKey("pool", asyncpg.Pool)
TOKENS = web.AppKey("tokens", Tokens)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AfterCommit = Callable[[str, str], Awaitable[None]]
AFTER_COMMIT: web.AppKey[AfterCommit] = web.AppKey("after_commit")


def _authorize(request: web.Request, *, admin_only: bool = False) -> str:
    store = request.match_info["store"]
    if not 1 <= len(store) <= 64 or not all(c.isalnum() or c in "-_" for c in store):
        raise Rejected(404, "not_found", "no such store")
    if not request.app[TOKENS].allows(
        request.headers.get("Authorization", ""), store, admin_only=admin_only
    ):
        raise Rejected(401, "unauthorized", "a valid bearer token for this store is required")
    return store


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Rejected as exc:
        return exc.response()
    except web.HTTPRequestEntityTooLarge:
        return Rejected(413, "too_large", f"the body is over {MAX_BODY} bytes").response()
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
        return web.json_response(
            {"error": "unavailable", "message": "the database is unavailable"}, status=503
        )


async def post_events(request: web.Request) -> web.Response:
    store = _authorize(request)
    key = request.headers.get("Idempotency-Key", "")
    if not 1 <= len(key) <= 200:
        raise Rejected(400, "missing_idempotency_key", "the Idempotency-Key header is required")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise
    except ValueError as exc:  # a gzip body that does not inflate
        raise Rejected(400, "bad_encoding", f"cannot read the body: {exc}") from exc
    batch = decode_batch(store, raw)
    result = await store_batch(request.app[POOL], store, key, batch)
    hook = request.app.get(AFTER_COMMIT)
    if hook is not None:
        await hook(store, key)
    headers = {"Idempotent-Replayed": "true"} if result["replayed"] else None
    return web.json_response(result, headers=headers)


async def get_status(request: web.Request) -> web.Response:
    store = _authorize(request)
    return web.json_response(await store_status(request.app[POOL], store))


async def get_menu(request: web.Request) -> web.Response:
    store = _authorize(request)
    async with request.app[POOL].acquire() as con:
        row = await con.fetchrow(
            "SELECT version, body::text AS body FROM menus WHERE store_id = $1 "
            "ORDER BY version DESC LIMIT 1",
            store,
        )
    if row is None:
        raise Rejected(404, "not_found", f"no menu for store '{store}'")
    etag = f'"{row["version"]}"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers={"ETag": etag})
    text = f'{{"version":{row["version"]},"menu":{row["body"]}}}'
    return web.Response(text=text, content_type="application/json", headers={"ETag": etag})


async def put_menu(request: web.Request) -> web.Response:
    store = _authorize(request, admin_only=True)
    try:
        doc = msgspec.json.decode(await request.read(), type=dict[str, Any])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise Rejected(400, "bad_json", f"a JSON object body is required: {exc}") from exc
    expected = request.headers.get("If-Match")
    async with request.app[POOL].acquire() as con, con.transaction():
        await con.execute("INSERT INTO stores(store_id) VALUES ($1) ON CONFLICT DO NOTHING", store)
        await con.execute("SELECT 1 FROM stores WHERE store_id = $1 FOR UPDATE", store)
        current = int(
            await con.fetchval(
                "SELECT COALESCE(max(version), 0) FROM menus WHERE store_id = $1", store
            )
        )
        if expected is not None and expected.strip('"') != str(current):
            raise Rejected(409, "conflict", f"the menu is at version {current}")
        await con.execute(
            "INSERT INTO menus(store_id, version, body) VALUES ($1, $2, $3::jsonb)",
            store,
            current + 1,
            msgspec.json.encode(doc).decode(),
        )
    return web.json_response(
        {"version": current + 1}, status=201, headers={"ETag": f'"{current + 1}"'}
    )


async def post_menu_result(request: web.Request) -> web.Response:
    store = _authorize(request)
    try:
        res = msgspec.json.decode(await request.read(), type=MenuResultIn)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise Rejected(422, "invalid", str(exc)) from exc
    async with request.app[POOL].acquire() as con:
        await con.execute(
            "INSERT INTO menu_results(store_id, version, status, hub_version, error, field, "
            "message) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (store_id, version) DO "
            "UPDATE SET status = excluded.status, hub_version = excluded.hub_version, "
            "error = excluded.error, field = excluded.field, message = excluded.message, "
            "received_at = now()",
            store,
            res.version,
            res.status,
            res.hub_version,
            res.error,
            res.field,
            res.message,
        )
    if res.status == "rejected":
        log.warning("store %s rejected menu version %d: %s", store, res.version, res.message)
    return web.json_response({"ok": True})


BOOKING_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
BOOKINGS_PAGE = 100


async def put_booking(request: web.Request) -> web.Response:
    """The booking site books, edits or cancels (`"status": "cancelled"`) a reservation."""
    store = _authorize(request, admin_only=True)
    booking_id = request.match_info["booking_id"]
    if not BOOKING_ID_RE.fullmatch(booking_id):
        raise Rejected(422, "invalid", "a booking id is 8-64 of letters, digits, '-' or '_'")
    try:
        doc = msgspec.json.decode(await request.read(), type=dict[str, Any])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise Rejected(400, "bad_json", f"a JSON object body is required: {exc}") from exc
    async with request.app[POOL].acquire() as con:
        seq = await con.fetchval(
            "INSERT INTO bookings(store_id, id, seq, body) "
            "VALUES ($1, $2, nextval('booking_seq'), $3::jsonb) ON CONFLICT (store_id, id) DO "
            "UPDATE SET seq = excluded.seq, body = excluded.body, updated_at = now() "
            "RETURNING seq",
            store,
            booking_id,
            msgspec.json.encode(doc).decode(),
        )
    return web.json_response({"id": booking_id, "seq": seq}, status=201)


async def get_bookings(request: web.Request) -> web.Response:
    """The store's bookings changed after `after` (a seq), oldest first, a page at a time."""
    store = _authorize(request)
    raw = request.query.get("after", "0")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise Rejected(422, "invalid", "after must be a whole number")
    async with request.app[POOL].acquire() as con:
        rows = await con.fetch(
            "SELECT id, seq, body::text AS body FROM bookings WHERE store_id = $1 AND seq > $2 "
            "ORDER BY seq LIMIT $3",
            store,
            int(raw),
            BOOKINGS_PAGE,
        )
    items = ",".join(
        f'{{"id":{json.dumps(r["id"])},"seq":{r["seq"]},"booking":{r["body"]}}}' for r in rows
    )
    return web.Response(text=f'{{"bookings":[{items}]}}', content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as con:
        await con.fetchval("SELECT 1")
    return web.json_response({"status": "ok"})


def build_app(
    dsn: str,
    tokens: Tokens,
    *,
    pool_size: int = 10,
    after_commit: AfterCommit | None = None,
) -> web.Application:
    """The receiver app; the pool opens (and the schema is made) when the app starts.
    `after_commit(store, key)` runs after a batch is committed, before the answer (tests)."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY)
    app[TOKENS] = tokens
    if after_commit is not None:
        app[AFTER_COMMIT] = after_commit

    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size)
        await ensure_schema(pool)
        app[POOL] = pool
        yield
        await pool.close()

    app.cleanup_ctx.append(pool_ctx)
    app.router.add_post("/v1/stores/{store}/events", post_events)
    app.router.add_get("/v1/stores/{store}/status", get_status)
    app.router.add_get("/v1/stores/{store}/menu", get_menu)
    app.router.add_put("/v1/stores/{store}/menu", put_menu)
    app.router.add_post("/v1/stores/{store}/menu/results", post_menu_result)
    app.router.add_put("/v1/stores/{store}/bookings/{booking_id}", put_booking)
    app.router.add_get("/v1/stores/{store}/bookings", get_bookings)
    app.router.add_get("/healthz", healthz)
    return app
