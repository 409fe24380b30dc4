"""Uploading the outbox: batching, gzip, the HTTP client, backoff, and the upload loop.

- `plan_batch` (pure) turns a tail snapshot into a `Batch`: priority lane first, telemetry in
  whatever room is left once the priority lane is drained, and never less than a tenth of the
  batch while telemetry waits (`LATER_SHARE`): at most `batch_max_events` events and
  `batch_max_bytes` of JSON; events go out in seq order inside the batch.
- retries wait by `plumbing.backoff.Backoff` (decorrelated jitter, RNG injected; 1 s .. 60 s
  by default); time comes in through `plumbing.clock.Clock`.
- `HttpClient` is the one place aiohttp's client is used; `aiohttp.ClientError` and timeouts
  become `CloudUnavailable` here and never leave this module.
- `CloudSink` speaks the cloud protocol (docs/cloud-protocol.md): gzip'd JSON, bearer token,
  `Idempotency-Key`, and maps answers to an `Ack` or an error of `cloud_bridge.errors`.
- `BacklogMeter` (pure) counts the unsent backlog per lane as rows come and go, so the disk
  budget is checked without ever rereading the backlog.
- `Uploader.run` is the loop: wait for a batch to be due (full, or its oldest event has waited
  `batch_max_age_ms`), send it until the cloud answers (retrying forever with backoff on
  outages), park what the cloud calls bad, and move the lane cursors only on an ack. It
  also watches the disk budget and sheds the oldest unsent telemetry when over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

import aiohttp
import msgspec

from cloud_bridge.config import BridgeConfig
from cloud_bridge.cursor import (
    BridgeState,
    LanePlan,
    ShedNotice,
    advance,
    iso_from_ms,
    ms_from_iso,
    pick_shed,
)
from cloud_bridge.errors import (
    BatchRejected,
    BatchTooLarge,
    BridgeError,
    CloudAuthError,
    CloudUnavailable,
    HubDbReplaced,
    HubDbUnavailable,
)
from cloud_bridge.tail import OutboxTail, Row, Snapshot
from plumbing.backoff import Backoff
from plumbing.clock import Clock, SystemClock
from plumbing.outbox import LANES, LATER_SHARE, TELEMETRY, lane_of, later_share
from plumbing.tasks import pause

log = logging.getLogger("tablehub.bridge")

SHED_TO = 0.9  # shed down to this share of the budget, so shedding is not a trickle
SHED_READ = 20_000  # telemetry rows looked at per shedding step
BAD_REQUEST_TRIES = 3  # a 400 without bad_seqs may be corruption on the way: retry first


Sleep = Callable[[float], Awaitable[None]]


# ---------------------------------------------------------------- batches (pure)

Sized = tuple[int, str, int]  # (seq, stream, bytes in the budget's measure)


@dataclass(frozen=True, slots=True)
class Limits:
    max_events: int
    max_bytes: int
    max_age_ms: int


class WireEvent(msgspec.Struct):
    """One event on the wire (docs/cloud-protocol.md); `body` is passed through as is."""

    store: str
    seq: int
    stream: str
    kind: str
    key: str
    at: str
    body: msgspec.Raw


_encoder = msgspec.json.Encoder()


def encode_event(store_id: str, row: Row) -> bytes:
    return _encoder.encode(
        WireEvent(
            store_id, row.seq, row.stream, row.kind, row.key, row.created_at, msgspec.Raw(row.body)
        )
    )


@dataclass(frozen=True, slots=True)
class Batch:
    store_id: str
    seqs: tuple[int, ...]  # in seq order
    body: bytes  # uncompressed JSON
    lanes: Mapping[str, LanePlan] = field(default_factory=dict)
    shed: tuple[ShedNotice, ...] = ()
    full: bool = False  # more is waiting right behind it: send at once
    parked_id: int | None = None  # a parked batch being retried
    sizes: tuple[Sized, ...] = ()  # (seq, stream, bytes) of its events, for the meter

    @property
    def key(self) -> str:
        """The Idempotency-Key: the same events always give the same key."""
        if self.seqs:
            return f"{self.store_id}-{self.seqs[0]}-{self.seqs[-1]}-{len(self.seqs)}"
        return f"{self.store_id}-shed-{self.shed[0].lo}-{self.shed[-1].hi}"

    @property
    def empty(self) -> bool:
        return not self.seqs and not self.shed

    def gzipped(self) -> bytes:
        return gzip.compress(self.body, compresslevel=6, mtime=0)


def _body(encoded: Sequence[tuple[int, bytes]], shed: Sequence[ShedNotice]) -> bytes:
    events = b",".join(e for _, e in sorted(encoded))
    notices = _encoder.encode([n.wire() for n in shed])
    return b'{"events":[' + events + b'],"shed":' + notices + b"}"


def plan_batch(
    store_id: str, snap: Snapshot, limits: Limits, shed: Sequence[ShedNotice] = ()
) -> Batch:
    """The next batch from a snapshot. Lanes are taken in priority order: a later lane gets
    the room an earlier one leaves once that one is drained, and while an earlier lane is
    behind, `1 / LATER_SHARE` of the events and bytes (no less while it has rows waiting, no
    more while the earlier one is behind). Without that share a stream of orders
    that fills every batch by itself (one a second at 256 KB, a live 100 orders/s) kept
    telemetry out for as long as it lasted, and the cloud's contiguous seq with it."""
    chosen: list[tuple[int, bytes]] = []
    sized: list[Sized] = []
    size = 0
    plans: dict[str, LanePlan] = {}
    full = False
    share_events = later_share(limits.max_events)
    share_bytes = limits.max_bytes // LATER_SHARE
    waiting = [
        snap.lanes[la].rows[0] for la in LANES[1:] if la in snap.lanes and snap.lanes[la].rows
    ]
    if waiting:  # room for the later lane's oldest event, even one over a tenth (up to half)
        first = len(encode_event(store_id, waiting[0])) + 1
        share_bytes = min(max(share_bytes, first), limits.max_bytes // 2)
    for i, lane in enumerate(LANES):
        read = snap.lanes.get(lane)
        if read is None:
            break
        max_events, max_bytes = limits.max_events, limits.max_bytes
        if full:  # an earlier lane is behind: this one has its share, no more
            max_events = min(max_events, len(chosen) + share_events)
            max_bytes = min(max_bytes, size + share_bytes)
        if share_events and any(
            snap.lanes[later].rows for later in LANES[i + 1 :] if later in snap.lanes
        ):
            max_events -= share_events
            max_bytes -= share_bytes
        taken: list[int] = []
        for row in read.rows:
            enc = encode_event(store_id, row)
            if chosen and (len(chosen) >= max_events or size + len(enc) > max_bytes):
                break
            chosen.append((row.seq, enc))
            sized.append((row.seq, row.stream, row.nbytes))
            size += len(enc) + 1
            taken.append(row.seq)
        drained = read.complete and len(taken) == len(read.rows)
        if taken or drained:
            plans[lane] = LanePlan(tuple(taken), snap.high if drained else None)
        if not drained:
            full = True
    return Batch(
        store_id,
        tuple(sorted(s for s, _ in chosen)),
        _body(chosen, shed),
        plans,
        tuple(shed),
        full,
        sizes=tuple(sized),
    )


def plan_rows(
    store_id: str,
    rows: Sequence[Row],
    *,
    lanes: Mapping[str, LanePlan] | None = None,
    parked_id: int | None = None,
) -> Batch:
    """These rows as a batch of their own: a parked batch sent again after an operator
    released it (`parked_id`, moves no cursor), or a lane's next event sent alone (`lanes`)."""
    chosen = [(r.seq, encode_event(store_id, r)) for r in rows]
    sizes = tuple((r.seq, r.stream, r.nbytes) for r in rows)
    return Batch(
        store_id,
        tuple(r.seq for r in rows),
        _body(chosen, ()),
        dict(lanes or {}),
        parked_id=parked_id,
        sizes=sizes,
    )


def flush_due(batch: Batch, waited_ms: float, limits: Limits) -> bool:
    """Send now? When full (a backlog is behind it), when it carries shed notices, or when
    its first event has waited `max_age_ms` for company."""
    if batch.empty:
        return False
    return batch.full or bool(batch.shed) or waited_ms >= limits.max_age_ms


# ---------------------------------------------------------------- the backlog meter (pure)


class BacklogMeter:
    """Unsent rows per lane (count and bytes), kept up to date from what the bridge sees:
    new rows (`add`), and rows acknowledged, parked or shed (`remove`). The budget check
    therefore never rescans a backlog that may be gigabytes on an SD card; only a new
    process scans it once. Rows above `scanned` are not counted yet."""

    def __init__(self, start: int) -> None:
        self.scanned = start
        self.events = dict.fromkeys(LANES, 0)
        self.bytes = dict.fromkeys(LANES, 0)

    def __repr__(self) -> str:
        return f"<BacklogMeter upto={self.scanned} events={self.events} bytes={self.bytes}>"

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    def add(
        self, rows: Iterable[Sized], cursors: Mapping[str, int], parked: AbstractSet[int]
    ) -> None:
        for seq, stream, size in rows:
            if seq <= self.scanned:
                continue
            self.scanned = seq
            lane = lane_of(stream)
            if seq > cursors[lane] and seq not in parked:
                self.events[lane] += 1
                self.bytes[lane] += size

    def remove(self, rows: Iterable[Sized]) -> None:
        for seq, stream, size in rows:
            if seq <= self.scanned:
                lane = lane_of(stream)
                self.events[lane] = max(0, self.events[lane] - 1)
                self.bytes[lane] = max(0, self.bytes[lane] - size)


# ---------------------------------------------------------------- HTTP


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


class HttpClient:
    """The bridge's only HTTP client. Transport failures become `CloudUnavailable`."""

    def __init__(self, *, timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        self._session = aiohttp.ClientSession(
            timeout=self._timeout, headers={"User-Agent": "tablehub-bridge/1"}
        )
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> HttpAnswer:
        if self._session is None:
            raise CloudUnavailable("the HTTP client is closed")
        try:
            async with self._session.request(method, url, headers=headers, data=data) as resp:
                body = await resp.read()
                return HttpAnswer(
                    resp.status, {k.lower(): v for k, v in resp.headers.items()}, body
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = (
                type(exc).__name__
                if isinstance(exc, TimeoutError)
                else str(exc) or type(exc).__name__
            )
            raise CloudUnavailable(f"{method} {url}: {reason}") from exc


class AckIn(msgspec.Struct):
    acked: list[int]
    contiguous_seq: int | None = None


class RejectIn(msgspec.Struct):
    error: str = ""
    message: str = ""
    bad_seqs: list[int] = []


@dataclass(frozen=True, slots=True)
class Ack:
    acked: tuple[int, ...]
    contiguous_seq: int | None


def _retry_after(headers: Mapping[str, str]) -> float:
    with contextlib.suppress(ValueError):
        return max(0.0, float(headers.get("retry-after", "0")))
    return 0.0


def read_answer(answer: HttpAnswer) -> Ack:
    """An `Ack` from a 200, or the error the answer means (docs/cloud-protocol.md)."""
    status = answer.status
    if status == 200:
        try:
            ack = msgspec.json.decode(answer.body, type=AckIn)
        except msgspec.DecodeError as exc:
            raise CloudUnavailable(f"the cloud's answer is not an ack: {exc}", status=200) from exc
        return Ack(tuple(ack.acked), ack.contiguous_seq)
    if status in (400, 413, 422):
        try:
            bad = msgspec.json.decode(answer.body, type=RejectIn)
        except msgspec.DecodeError:
            bad = None
        if bad is not None and bad.error:
            kind = BatchTooLarge if status == 413 else BatchRejected
            raise kind(
                bad.message or bad.error,
                status=status,
                error=bad.error,
                bad_seqs=tuple(bad.bad_seqs),
            )
        if status == 413:
            raise BatchTooLarge("the batch is too large", status=413, error="too_large")
    text = answer.body[:200].decode("utf-8", "replace")
    if status in (401, 403, 404):
        raise CloudAuthError(f"HTTP {status}: {text}", status=status)
    raise CloudUnavailable(
        f"HTTP {status}: {text}", status=status, retry_after=_retry_after(answer.headers)
    )


class Sink(Protocol):
    async def post(self, batch: Batch) -> Ack:
        """Deliver one batch; return the cloud's ack or raise a `BridgeError`."""
        ...


class CloudSink:
    """POST {endpoint}/v1/stores/{store}/events, gzip'd, with a bearer token."""

    def __init__(self, client: HttpClient, endpoint: str, store_id: str, token: str) -> None:
        self._client = client
        self._url = f"{endpoint}/v1/stores/{store_id}/events"
        self._token = token
        self.requests = 0

    def __repr__(self) -> str:
        return f"<CloudSink {self._url} requests={self.requests}>"

    async def post(self, batch: Batch) -> Ack:
        self.requests += 1
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Idempotency-Key": batch.key,
        }
        body = (
            await asyncio.to_thread(batch.gzipped) if len(batch.body) > 65536 else batch.gzipped()
        )
        return read_answer(
            await self._client.request("POST", self._url, headers=headers, data=body)
        )


# ---------------------------------------------------------------- the loop


class Uploader:
    """Tails the outbox and delivers it; see the module docstring. `await up.run(stop)`."""

    def __init__(
        self,
        config: BridgeConfig,
        tail: OutboxTail,
        state: BridgeState,
        sink: Sink,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.config = config
        self.tail = tail
        self.state = state
        self.sink = sink
        self.clock = clock or SystemClock()
        self.limits = Limits(
            config.batch_max_events, config.batch_max_bytes, config.batch_max_age_ms
        )
        self.backoff = Backoff(
            config.backoff_base_ms / 1000,
            config.backoff_cap_ms / 1000,
            rng,
        )
        self._sleep_fn = sleep
        self._stop = asyncio.Event()
        self._limit = config.batch_max_events
        # a telemetry event that rode in a batch the cloud found too large goes alone next:
        # too large by itself, it is parked, instead of riding in every batch to come
        self._alone: int | None = None
        self._next_budget_check = 0.0
        self._backlog_saved: dict[str, object] | None = None  # as last written, less its time
        self._backlog_saved_at = 0.0
        self._stuck_saved: bool | None = None
        self._online: bool | None = None
        self._offline_since = 0.0
        self.meter: BacklogMeter | None = None
        self.sent_batches = 0

    def __repr__(self) -> str:
        return (
            f"<Uploader {self.config.store_id} cursors={self.state.cursors} "
            f"online={self._online} sent={self.sent_batches}>"
        )

    async def _sleep(self, seconds: float) -> None:
        if self._sleep_fn is not None:
            await self._sleep_fn(seconds)
        else:
            await pause(self._stop, seconds)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: rounds of `step()`. The hub's store missing, locked or replaced is
        logged once, shown as an alert, and retried."""
        self._stop = stop
        hub_problem: str | None = None
        while not stop.is_set():
            try:
                if not self.tail.is_open:
                    await self.tail.open()
                await self.step()
                if hub_problem is not None:
                    log.info("hub store readable again")
                    hub_problem = None
                    await self.state.put_many({"hub_db_error": None})
            except HubDbUnavailable as exc:
                if exc.message != hub_problem:
                    log.error("%s", exc.message)
                    hub_problem = exc.message
                    await self.state.put_many({"hub_db_error": exc.message})
                await self.tail.close()
                await self._sleep(10.0 if isinstance(exc, HubDbReplaced) else 1.0)

    async def step(self) -> None:
        """One round: budget, released parked batches, then one batch delivered (or a poll)."""
        await self.check_budget()
        await self._retry_released()
        batch = await self._collect()
        if batch is not None:
            await self._deliver(batch)

    # ------------------------------------------------------------ collecting

    async def _read(self) -> Batch:
        snap = await self.tail.read(self.state.cursors, self._limit, exclude=self.state.parked_seqs)
        notices = await self.state.unreported_shed()
        limits = Limits(self._limit, self.limits.max_bytes, self.limits.max_age_ms)
        return plan_batch(self.config.store_id, snap, limits, notices)

    async def _alone_batch(self, seq: int) -> Batch | None:
        """The telemetry event `seq` in a batch of its own, if it is still the lane's next."""
        if seq <= self.state.cursors[TELEMETRY] or seq in self.state.parked_seqs:
            return None
        rows = await self.tail.rows([seq])
        if not rows:
            return None
        return plan_rows(self.config.store_id, rows, lanes={TELEMETRY: LanePlan((seq,), None)})

    async def _collect(self) -> Batch | None:
        """Wait until a batch is due; None when stopping or when it is time to look at the
        budget again."""
        if self._alone is not None:
            seq, self._alone = self._alone, None
            alone = await self._alone_batch(seq)
            if alone is not None:
                return alone
        waited_from: float | None = None
        poll = self.config.poll_ms / 1000
        while not self._stop.is_set():
            batch = await self._read()
            if batch.empty:
                await self.state.move_cursors(advance(self.state.cursors, batch.lanes, ()))
                waited_from = None
            else:
                now = self.clock.monotonic_ms() / 1000
                waited_from = now if waited_from is None else waited_from
                waited_ms = (now - waited_from) * 1000
                if flush_due(batch, waited_ms, self.limits):
                    return batch
                poll = min(poll, max(0.001, (self.limits.max_age_ms - waited_ms) / 1000))
            if self.clock.monotonic_ms() / 1000 >= self._next_budget_check:
                return None
            await self._sleep(poll)
            poll = self.config.poll_ms / 1000
        return None

    # ------------------------------------------------------------ delivering

    async def _deliver(self, batch: Batch) -> None:
        """Send until acknowledged, parked, split or made stale by shedding."""
        bad_tries = 0
        while not self._stop.is_set():
            try:
                ack = await self.sink.post(batch)
            except CloudUnavailable as exc:
                await self._failed(exc)
                delay = self.backoff.next()
                if exc.retry_after:
                    delay = min(self.backoff.cap, max(delay, exc.retry_after))
                await self._sleep(delay)
                if await self.check_budget() and batch.parked_id is None:
                    return  # telemetry was shed: build the batch again
                continue
            except BatchTooLarge as exc:
                if len(batch.seqs) > 1:
                    tel = batch.lanes.get(TELEMETRY)
                    if tel is not None and tel.seqs and len(tel.seqs) < len(batch.seqs):
                        self._alone = tel.seqs[0]  # it rode with orders: it goes alone next
                    self._limit = max(1, len(batch.seqs) // 2)
                    log.warning(
                        "cloud: batch of %d too large, trying %d", len(batch.seqs), self._limit
                    )
                    return
                await self._park(batch, exc, batch.seqs)
                return
            except BatchRejected as exc:
                named = sorted(set(exc.bad_seqs) & set(batch.seqs))
                if named:
                    await self._park(batch, exc, named)
                    return
                bad_tries += 1
                if bad_tries >= BAD_REQUEST_TRIES:
                    await self._park(batch, exc, batch.seqs)
                    return
                log.warning("cloud refused batch %s (try %d): %s", batch.key, bad_tries, exc)
                await self.state.record_error(exc.message)
                await self._sleep(self.backoff.next())
                continue
            await self._acked(batch, ack)
            return

    async def _acked(self, batch: Batch, ack: Ack) -> None:
        if batch.parked_id is not None:
            if set(batch.seqs) <= set(ack.acked):
                await self.state.unpark_done(batch.parked_id)
                log.info("parked batch %d delivered", batch.parked_id)
            return
        cursors = advance(self.state.cursors, batch.lanes, ack.acked)
        if self.meter is not None:
            self.meter.remove(r for r in batch.sizes if r[0] <= cursors[lane_of(r[1])])
        await self.state.commit_ack(
            cursors,
            shed_reported=[n.lo for n in batch.shed],
            events=len(batch.seqs),
            contiguous_seq=ack.contiguous_seq,
        )
        self.sent_batches += 1
        self._limit = min(self.config.batch_max_events, self._limit * 2)
        self.backoff.reset()
        if self._online is not True:
            if self._online is False:
                log.info(
                    "cloud reachable again after %.1f s offline",
                    self.clock.monotonic_ms() / 1000 - self._offline_since,
                )
            self._online = True
            await self.state.put_many({"cloud_online": True})

    async def _failed(self, exc: BridgeError) -> None:
        if self._online is not False:
            level = (
                logging.ERROR
                if isinstance(exc, CloudAuthError | BatchRejected)
                else logging.WARNING
            )
            log.log(level, "cloud unavailable, retrying with backoff: %s", exc.message)
            self._online = False
            self._offline_since = self.clock.monotonic_ms() / 1000
            await self.state.put_many({"cloud_online": False})
        await self.state.record_error(exc.message)

    async def _park(self, batch: Batch, exc: BatchRejected, seqs: Sequence[int]) -> None:
        if batch.parked_id is not None:
            await self.state.repark(batch.parked_id, error=exc.error, message=exc.message)
            log.error("parked batch %d rejected again: %s", batch.parked_id, exc.message)
            return
        if not seqs:  # a batch of shed notices only: nothing to keep, say so and move on
            await self.state.commit_ack(
                self.state.cursors, shed_reported=[n.lo for n in batch.shed]
            )
            log.error("cloud rejected shed notices: %s", exc.message)
            return
        parked_id = await self.state.park(
            seqs, http_status=exc.status, error=exc.error or exc.code, message=exc.message
        )
        if self.meter is not None:
            gone = set(seqs)
            self.meter.remove(r for r in batch.sizes if r[0] in gone)
        await self.state.record_error(f"parked batch {parked_id}: {exc.message}")
        log.error(
            "ALERT cloud rejected %d event(s) (seq %d..%d) as bad: %s: %s; parked as batch %d, "
            "the rest flows on",
            len(seqs),
            seqs[0],
            seqs[-1],
            exc.error,
            exc.message,
            parked_id,
        )

    async def _retry_released(self) -> None:
        for parked in await self.state.parked(status="retry"):
            rows = await self.tail.rows(parked.seqs)
            if not rows:
                await self.state.unpark_done(parked.id)
                continue
            await self._deliver(plan_rows(self.config.store_id, rows, parked_id=parked.id))

    # ------------------------------------------------------------ disk budget

    async def check_budget(self) -> bool:
        """Every `budget_check_seconds`: count new rows, shed the oldest unsent telemetry
        while the backlog is over the budget, record the backlog. True if anything was shed."""
        now = self.clock.monotonic_ms() / 1000
        if now < self._next_budget_check:
            return False
        self._next_budget_check = now + self.config.budget_check_seconds
        meter = await self._count_new_rows()
        shed, stuck = await self._shed(meter)
        oldest = await self.tail.first_unsent(self.state.cursors, exclude=self.state.parked_seqs)
        doc = backlog_doc(meter, oldest, self.clock.now_ms())
        # written when it changed (or every BACKLOG_REFRESH_S, so that its `at` stays
        # recent): an idle store's bridge rewrote the same numbers every 10 s, the most it
        # wrote to the SD card in a quiet hour
        values: dict[str, object] = {}
        same = {k: v for k, v in doc.items() if k not in BACKLOG_VOLATILE}
        if same != self._backlog_saved or now - self._backlog_saved_at >= BACKLOG_REFRESH_S:
            values["backlog"] = doc
            self._backlog_saved, self._backlog_saved_at = same, now
        if stuck is not self._stuck_saved:
            values["over_budget_unsheddable"] = stuck
            self._stuck_saved = stuck
        if values:
            await self.state.put_many(values)
        await self.state.forget_old()
        return shed

    async def _count_new_rows(self) -> BacklogMeter:
        if self.meter is None:
            self.meter = BacklogMeter(min(self.state.cursors.values()))
        meter = self.meter
        while True:
            rows = await self.tail.sizes(meter.scanned, SHED_READ)
            meter.add(rows, self.state.cursors, self.state.parked_seqs)
            if len(rows) < SHED_READ:
                return meter

    async def _shed(self, meter: BacklogMeter) -> tuple[bool, bool]:
        """Shed the oldest telemetry while over the budget: (shed any, still over budget with
        no telemetry left to shed)."""
        budget = self.config.backlog_budget_bytes
        total = meter.total_bytes
        if total <= budget:
            return False, False
        need = total - int(budget * SHED_TO)
        shed_any = False
        while need > 0:
            rows = await self.tail.telemetry_sizes(
                self.state.cursors[TELEMETRY],
                SHED_READ,
                upto=meter.scanned,
                exclude=self.state.parked_seqs,
            )
            seqs, freed = pick_shed(rows, need)
            if not seqs:
                break
            notice = await self.state.shed(seqs, freed)
            meter.remove((seq, TELEMETRY, size) for seq, size in rows[: len(seqs)])
            log.warning(
                "backlog %d bytes over its budget of %d: shed %d telemetry events "
                "(seq %d..%d, %d bytes); orders are never shed",
                total,
                budget,
                notice.count,
                notice.lo,
                notice.hi,
                freed,
            )
            need -= freed
            shed_any = True
        stuck = need > 0
        if stuck:
            log.error("ALERT backlog over its disk budget and no telemetry left to shed")
        return shed_any, stuck


BACKLOG_REFRESH_S = 600.0  # the backlog's numbers are written again at least this often
BACKLOG_VOLATILE = frozenset({"at", "oldest_age_s"})  # change with the clock alone


def backlog_doc(
    meter: BacklogMeter, oldest: Mapping[str, tuple[int, str] | None], now_ms: int
) -> dict[str, object]:
    """The backlog as the status page shows it."""
    firsts = sorted(v for v in oldest.values() if v is not None)
    oldest_at = firsts[0][1] if firsts else None
    return {
        "events": meter.total_events,
        "bytes": meter.total_bytes,
        "oldest_at": oldest_at,
        "oldest_age_s": None
        if oldest_at is None
        else max(0.0, (now_ms - ms_from_iso(oldest_at)) / 1000),
        "counted_upto": meter.scanned,
        "lanes": {k: {"events": meter.events[k], "bytes": meter.bytes[k]} for k in LANES},
        "at": iso_from_ms(now_ms),
    }
