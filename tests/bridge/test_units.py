"""Pure parts of the bridge: batching, backoff, cursor moves, shedding picks, answers,
config, and the receiver's batch validation. No loop, no IO (but config's secret files)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud_bridge.config import check_endpoint, parse_config
from cloud_bridge.cursor import LanePlan, ShedNotice, advance, pick_shed, to_ranges
from cloud_bridge.errors import (
    BatchRejected,
    BatchTooLarge,
    CloudAuthError,
    CloudUnavailable,
    ConfigError,
)
from cloud_bridge.receiver import Rejected, decode_batch
from cloud_bridge.tail import PRIORITY, TELEMETRY, LaneRead, Row, Snapshot
from cloud_bridge.uploader import (
    BacklogMeter,
    Batch,
    HttpAnswer,
    Limits,
    encode_event,
    flush_due,
    plan_batch,
    read_answer,
)
from hub.domain.events import OrderPlaced
from plumbing.outbox import later_share
from tests.samples import order

LIMITS = Limits(max_events=500, max_bytes=256 * 1024, max_age_ms=1000)


def row(seq: int, stream: str = "orders", pad: int = 0) -> Row:
    body = json.dumps({"n": seq, "pad": "x" * pad}).encode()
    return Row(seq, stream, f"{stream}.kind", str(seq), body, "2026-11-22T18:03:11.123Z")


def snap(high: int, pri: list[Row], tel: list[Row] | None, *, pri_done: bool = True) -> Snapshot:
    lanes = {PRIORITY: LaneRead(tuple(pri), pri_done)}
    if tel is not None:
        lanes[TELEMETRY] = LaneRead(tuple(tel), True)
    return Snapshot(high, lanes)


# ---------------------------------------------------------------- wire format


def test_an_event_is_encoded_in_the_documented_shape() -> None:
    r = Row(7, "orders", "order.created", "42", b'{"order":{"id":42}}', "2026-11-22T18:03:11.123Z")

    assert encode_event("demo", r) == (
        b'{"store":"demo","seq":7,"stream":"orders","kind":"order.created","key":"42",'
        b'"at":"2026-11-22T18:03:11.123Z","body":{"order":{"id":42}}}'
    )


def test_a_batch_body_is_gzipped_json_with_events_in_seq_order_and_a_stable_key() -> None:
    batch = plan_batch(
        "demo", snap(5, [row(1), row(4)], [row(2, "telemetry"), row(3, "telemetry")]), LIMITS
    )

    doc = json.loads(gzip.decompress(batch.gzipped()))

    assert [e["seq"] for e in doc["events"]] == [1, 2, 3, 4]
    assert doc["shed"] == []
    assert batch.key == "demo-1-4-4"
    assert batch.gzipped() == batch.gzipped()  # a resent batch is byte-identical


# ---------------------------------------------------------------- batching


def test_when_nothing_is_behind_both_lanes_ride_together_and_may_jump_to_high() -> None:
    batch = plan_batch("demo", snap(9, [row(1), row(3)], [row(2, "telemetry")]), LIMITS)

    assert batch.seqs == (1, 2, 3)
    assert batch.lanes[PRIORITY] == LanePlan((1, 3), 9)
    assert batch.lanes[TELEMETRY] == LanePlan((2,), 9)
    assert not batch.full


def test_when_orders_are_behind_telemetry_has_a_tenth_of_the_batch() -> None:
    # the priority read came back full (not complete): orders are behind
    limits = Limits(max_events=20, max_bytes=10**6, max_age_ms=1000)
    orders = [row(s) for s in range(1, 41, 2)]
    telemetry = [row(s, "telemetry") for s in range(2, 12, 2)]

    batch = plan_batch("demo", snap(99, orders, telemetry, pri_done=False), limits)

    assert batch.lanes[PRIORITY] == LanePlan(tuple(range(1, 37, 2)), None)  # 18 of 20
    assert batch.lanes[TELEMETRY] == LanePlan((2, 4), None)  # the oldest two, no more
    assert batch.full


def test_a_small_batch_still_leaves_telemetry_one_event_and_a_batch_of_one_none() -> None:
    orders = [row(s) for s in range(1, 41, 2)]
    telemetry = [row(s, "telemetry") for s in range(2, 12, 2)]
    for n, carried in ((2, (2,)), (5, (2,)), (9, (2,)), (1, ())):
        limits = Limits(max_events=n, max_bytes=10**6, max_age_ms=1000)

        batch = plan_batch("demo", snap(99, orders, telemetry, pri_done=False), limits)

        sent = batch.lanes[TELEMETRY].seqs if TELEMETRY in batch.lanes else ()
        assert sent == carried, n
        assert len(batch.seqs) == n


def test_a_telemetry_event_over_a_tenth_of_the_bytes_still_rides_while_orders_wait() -> None:
    limits = Limits(max_events=500, max_bytes=4_000, max_age_ms=1000)
    orders = [row(s, pad=300) for s in range(1, 60)]
    big = [row(100, "telemetry", pad=900)]  # over 400 bytes (a tenth), under 2,000 (half)

    batch = plan_batch("demo", snap(999, orders, big), limits)

    assert batch.lanes[TELEMETRY].seqs == (100,)
    assert len(batch.body) <= 4_000 + 40


def test_orders_behind_by_bytes_leave_telemetry_its_tenth_of_the_bytes() -> None:
    limits = Limits(max_events=500, max_bytes=10_000, max_age_ms=1000)
    orders = [row(s, pad=900) for s in range(1, 40)]  # about 1 KB each
    telemetry = [row(s, "telemetry") for s in range(100, 200)]  # about 100 bytes each

    batch = plan_batch("demo", snap(999, orders, telemetry), limits)

    assert len(batch.lanes[PRIORITY].seqs) == 8  # 9 KB of the 10
    assert 5 <= len(batch.lanes[TELEMETRY].seqs) <= 10  # the last KB, and no more
    assert batch.lanes[PRIORITY].complete_upto is None
    assert len(batch.body) <= 10_000 + 40


def test_the_event_limit_cuts_a_lane_and_marks_the_batch_full() -> None:
    limits = Limits(max_events=2, max_bytes=10**6, max_age_ms=1000)

    batch = plan_batch("demo", snap(9, [row(1), row(3), row(5)], []), limits)

    assert batch.seqs == (1, 3)
    assert batch.lanes[PRIORITY] == LanePlan((1, 3), None)
    assert batch.lanes[TELEMETRY] == LanePlan((), 9)  # none up to 9: its cursor may go there
    assert batch.full

    # telemetry waiting: it has its share of the two (one), the orders the other
    batch = plan_batch("demo", snap(9, [row(1), row(3), row(5)], [row(2, "telemetry")]), limits)

    assert batch.lanes == {PRIORITY: LanePlan((1,), None), TELEMETRY: LanePlan((2,), 9)}
    assert batch.full


def test_the_byte_limit_cuts_but_a_lone_oversized_event_still_goes() -> None:
    limits = Limits(max_events=500, max_bytes=1000, max_age_ms=1000)
    big = [row(1, pad=800), row(2, pad=800)]

    batch = plan_batch("demo", snap(2, big, []), limits)

    assert batch.seqs == (1,)
    assert batch.full


@given(
    st.lists(st.sampled_from(["orders", "tickets", "telemetry", "menu"]), min_size=1, max_size=80),
    st.integers(1, 30),
    st.integers(300, 5000),
)
def test_a_batch_never_breaks_lane_order_nor_the_limits(
    streams: list[str], n: int, nbytes: int
) -> None:
    rows = [row(i + 1, s) for i, s in enumerate(streams)]
    pri = [r for r in rows if r.stream != "telemetry"][:n]
    ask = max(n - len(pri), later_share(n))  # as OutboxTail.read asks
    tel = [r for r in rows if r.stream == "telemetry"][:ask]
    pri_done = len(pri) < n
    lanes = {PRIORITY: LaneRead(tuple(pri), pri_done)}
    if ask > 0:
        lanes[TELEMETRY] = LaneRead(tuple(tel), len(tel) < ask)
    limits = Limits(n, nbytes, 1000)

    batch = plan_batch("demo", Snapshot(len(rows), lanes), limits)

    assert 1 <= len(batch.seqs) <= n or not rows
    assert list(batch.seqs) == sorted(batch.seqs)
    assert len(batch.body) <= max(nbytes, 600) + 40 or len(batch.seqs) == 1
    for lane, plan in batch.lanes.items():
        read = lanes[lane]
        assert plan.seqs == tuple(r.seq for r in read.rows[: len(plan.seqs)])  # a prefix
    sent_tel = batch.lanes[TELEMETRY].seqs if TELEMETRY in batch.lanes else ()
    if batch.lanes.get(PRIORITY, LanePlan((), None)).complete_upto is None:
        # orders behind: telemetry has its share of the batch, no more
        assert len(sent_tel) <= later_share(n)
    if tel and n >= 2 and len(encode_event("demo", tel[0])) < nbytes // 2:
        assert sent_tel  # and no less: however many orders wait, telemetry is never kept out


def test_a_batch_is_due_when_full_when_it_carries_shed_notices_or_when_old_enough() -> None:
    lone = plan_batch("demo", snap(1, [row(1)], []), LIMITS)
    notice = ShedNotice(5, 9, 3, 300, ((5, 6), (9, 9)), "2026-11-22T18:03:11.123Z")
    with_notice = plan_batch("demo", snap(1, [], []), LIMITS, [notice])

    assert not flush_due(lone, 999, LIMITS)
    assert flush_due(lone, 1000, LIMITS)
    assert flush_due(with_notice, 0, LIMITS)
    assert with_notice.key == "demo-shed-5-9"
    assert not flush_due(plan_batch("demo", snap(1, [], []), LIMITS), 10**6, LIMITS)


# ---------------------------------------------------------------- cursors


def test_an_acked_lane_jumps_to_high_and_a_partly_acked_lane_moves_over_its_prefix() -> None:
    plans = {PRIORITY: LanePlan((3, 5, 8), 20), TELEMETRY: LanePlan((4, 6), 20)}

    assert advance({PRIORITY: 2, TELEMETRY: 2}, plans, [3, 4, 5, 6, 8]) == {
        PRIORITY: 20,
        TELEMETRY: 20,
    }
    assert advance({PRIORITY: 2, TELEMETRY: 2}, plans, [3, 4, 8]) == {PRIORITY: 3, TELEMETRY: 4}
    assert advance({PRIORITY: 2, TELEMETRY: 2}, plans, []) == {PRIORITY: 2, TELEMETRY: 2}


@given(st.lists(st.integers(1, 50), unique=True), st.integers(0, 60), st.integers(0, 60))
def test_a_cursor_never_moves_back_nor_past_an_unacked_event(
    acked: list[int], start: int, high: int
) -> None:
    seqs = tuple(range(start + 1, start + 11))
    out = advance({PRIORITY: start, TELEMETRY: 0}, {PRIORITY: LanePlan(seqs, high)}, acked)

    assert out[PRIORITY] >= start
    assert all(s in acked for s in seqs if s <= min(out[PRIORITY], seqs[-1]))
    assert out[TELEMETRY] == 0


def test_ranges_and_shed_picks() -> None:
    assert to_ranges([3, 4, 5, 9, 11, 12]) == [(3, 5), (9, 9), (11, 12)]
    assert to_ranges([]) == []
    assert pick_shed([(1, 100), (2, 100), (4, 100)], 150) == ([1, 2], 200)
    assert pick_shed([(1, 100)], 0) == ([], 0)
    assert pick_shed([], 10) == ([], 0)


# ---------------------------------------------------------------- answers


def answer(status: int, doc: object = None, headers: dict[str, str] | None = None) -> HttpAnswer:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return HttpAnswer(status, headers or {}, body)


def test_answers_map_to_acks_and_errors() -> None:
    assert read_answer(answer(200, {"acked": [1, 2], "contiguous_seq": 2})).acked == (1, 2)
    with pytest.raises(CloudUnavailable):
        read_answer(answer(200, b"{half an ans"))
    with pytest.raises(BatchRejected) as bad:
        read_answer(answer(422, {"error": "invalid_events", "message": "m", "bad_seqs": [7]}))
    assert bad.value.bad_seqs == (7,)
    assert bad.value.status == 422
    with pytest.raises(BatchTooLarge):
        read_answer(answer(413, b"<html>too big</html>"))
    with pytest.raises(CloudAuthError):
        read_answer(answer(401, {"error": "unauthorized", "message": "no"}))
    with pytest.raises(CloudUnavailable) as busy:
        read_answer(answer(503, b"busy", {"retry-after": "7"}))
    assert busy.value.retry_after == 7.0
    # a proxy's HTML 400 says nothing about the batch: an outage, not a park
    with pytest.raises(CloudUnavailable) as html:
        read_answer(answer(400, b"<html>Bad Request</html>"))
    assert not isinstance(html.value, CloudAuthError)


# ---------------------------------------------------------------- config


def secret(tmp_path: Path, name: str, mode: int = 0o600) -> Path:
    p = tmp_path / name
    p.write_text("s3cret\n")
    p.chmod(mode)
    return p


def minimal(tmp_path: Path, **over: object) -> dict[str, object]:
    secret(tmp_path, "tok")
    return {
        "bridge": {
            "hub_db": "hub.db",
            "state_db": "state/bridge.db",
            "store_id": "demo",
            "endpoint": "https://cloud.example.com/",
            "token_file": "tok",
            **over,
        }
    }


def test_config_defaults_relative_paths_and_secrets(tmp_path: Path) -> None:
    cfg = parse_config(minimal(tmp_path), base=tmp_path)

    assert cfg.hub_db == tmp_path / "hub.db"
    assert cfg.endpoint == "https://cloud.example.com"
    assert cfg.token == "s3cret"
    assert (cfg.batch_max_events, cfg.batch_max_bytes, cfg.batch_max_age_ms) == (500, 262144, 5000)
    assert (cfg.backoff_base_ms, cfg.backoff_cap_ms) == (1000, 60000)
    assert not cfg.menu_sync_enabled
    assert "s3cret" not in repr(cfg)


def test_config_refuses_secrets_others_can_read_and_plain_http_off_this_machine(
    tmp_path: Path,
) -> None:
    doc = minimal(tmp_path)
    secret(tmp_path, "tok", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        parse_config(doc, base=tmp_path)
    with pytest.raises(ConfigError, match="https"):
        check_endpoint("http://10.0.0.5:8090")
    assert check_endpoint("http://127.0.0.1:8090/") == "http://127.0.0.1:8090"
    with pytest.raises(ConfigError, match="batch_max_events"):
        parse_config(minimal(tmp_path, batch_max_events=0), base=tmp_path)
    with pytest.raises(ConfigError, match="store_id"):
        parse_config(minimal(tmp_path, store_id="a b"), base=tmp_path)


# ---------------------------------------------------------------- receiver validation


def event(seq: int, **over: object) -> dict[str, object]:
    return {
        "store": "demo",
        "seq": seq,
        "stream": "orders",
        "kind": "order.created",
        "key": "1",
        "at": "2026-11-22T18:03:11.123Z",
        "body": msgspec.to_builtins(OrderPlaced(order=order(1))),
    } | over


def test_the_receiver_names_the_bad_events_of_a_batch() -> None:
    raw = msgspec.json.encode(
        {
            "events": [
                event(1),
                event(2, stream="bogus"),
                event(3, store="other"),
                event(4, body=[1]),
                event(5, body={"x": 1}),  # not what the catalogue's order.created holds
                event(6, kind="order.noted", body={"x": 1}),  # a kind it does not know
            ]
        }
    )

    with pytest.raises(Rejected) as exc:
        decode_batch("demo", raw)

    assert exc.value.status == 422
    assert exc.value.bad_seqs == (2, 3, 4, 5)
    assert decode_batch("demo", msgspec.json.encode({"events": [event(1)]})).events[0].seq == 1
    with pytest.raises(Rejected) as broken:
        decode_batch("demo", b'{"events": [')
    assert broken.value.status == 400
    assert broken.value.bad_seqs == ()


def test_batch_type_is_frozen() -> None:
    b = Batch("demo", (1,), b"{}")

    with pytest.raises(AttributeError):
        b.seqs = (2,)  # type: ignore[misc]


def test_the_backlog_meter_counts_each_unsent_row_once() -> None:
    m = BacklogMeter(start=10)
    cursors = {PRIORITY: 12, TELEMETRY: 10}

    m.add(
        [(9, "orders", 100), (11, "orders", 100), (13, "orders", 50), (14, "telemetry", 30)],
        cursors,
        frozenset({14}),
    )
    m.add([(13, "orders", 50)], cursors, frozenset())  # seen already: not again

    assert (m.scanned, m.events, m.bytes) == (
        14,
        {PRIORITY: 1, TELEMETRY: 0},
        {PRIORITY: 50, TELEMETRY: 0},
    )
    m.remove([(13, "orders", 50), (20, "telemetry", 99)])  # 20 is not counted yet: ignored
    assert (m.total_events, m.total_bytes) == (0, 0)
