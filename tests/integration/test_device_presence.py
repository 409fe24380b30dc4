"""Presence rows are written when what staff see changes, not on every heartbeat: a printer's
queue length moving with each job writes nothing; paper running out does, once."""

from __future__ import annotations

import logging

import pytest

from hub.app import RunningHub
from hub.domain.events import Device, DeviceStatusChanged
from hub.store import repos


async def test_only_changes_staff_see_write_presence_rows(hub: RunningHub) -> None:
    store, devices = hub.services.store, hub.services.devices
    start = store.committed_seq

    async def presence_rows() -> list[Device]:
        events = await store.events_after(start, 100)
        # only this printer's: other devices' retained states arrive from the shared broker
        rows = [e.event.device for e in events if isinstance(e.event, DeviceStatusChanged)]
        return [r for r in rows if r.id == "printer-grill-1"]

    ok = {"online": True, "paper": "ok", "cover_open": False, "error": None}
    await devices.report("printer-grill-1", "online", "printer", {**ok, "queue": 0})
    for queue in (1, 2, 1, 0):
        await devices.report("printer-grill-1", "online", "printer", {**ok, "queue": queue})
    assert len(await presence_rows()) == 1
    await devices.report("printer-grill-1", "online", "printer", {**ok, "paper": "out", "queue": 3})
    await devices.report("printer-grill-1", "online", "printer", {**ok, "paper": "out", "queue": 4})
    rows = await presence_rows()
    assert [r.detail["paper"] for r in rows] == ["ok", "out"]
    await devices.report("printer-grill-1", "offline", "printer", {**ok, "paper": "out"})
    assert [r.state for r in await presence_rows()] == ["online", "online", "offline"]


async def test_readings_from_more_scales_than_a_store_has_are_not_kept(hub: RunningHub) -> None:
    """Scale ids come from topic names: a flood of made-up ids must not grow memory or the
    outbox without bound."""
    from hub.services.devices import MAX_SCALES, Devices

    # its own Devices over the hub's store: a scale reading retained on the test session's
    # broker by an earlier test reaches the hub's own and would take a slot mid-test
    devices = Devices(hub.services.store)
    recorded = [await devices.weight(f"scale-{i}", 500 + i, True) for i in range(MAX_SCALES + 6)]
    assert recorded.count(True) == MAX_SCALES
    assert recorded[-6:] == [False] * 6
    assert await devices.weight("scale-0", 900, True) is False  # inside its 10 s window


async def test_a_button_press_while_the_store_cannot_write_is_logged_once(
    hub: RunningHub, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk refuses the write; the press is logged once per button, with no traceback,
    and the bus keeps serving (the next press, after space is freed, opens the call)."""
    from hub.bus import contract
    from hub.errors import StoreUnavailable

    async def full(*args: object) -> None:
        raise StoreUnavailable("the store cannot save: database or disk is full")

    assert hub.bus is not None
    handle = hub.bus._handler  # the router's entry point, as the MQTT reader calls it
    topic = contract.parse_topic("tablehub/v1/demo/tables/T3/call")
    press = b'{"kind": "water", "id": "table-button-T3-1"}'
    monkeypatch.setattr(hub.services.calls, "open", full)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            await handle(topic, press)
    said = [r for r in caplog.records if "disk is full" in r.getMessage()]
    assert len(said) == 1
    assert said[0].exc_info is None
    monkeypatch.undo()
    await handle(topic, b'{"kind": "water", "id": "table-button-T3-2"}')
    calls = await repos.read_active_calls(hub.services.store)
    assert [(c.table, c.kind) for c in calls] == [("T3", "water")]
