"""Presence rows are written when what staff see changes, not on every heartbeat: a printer's
queue length moving with each job writes nothing; paper running out does, once."""

from __future__ import annotations

from hub.app import RunningHub


async def test_only_changes_staff_see_write_presence_rows(hub: RunningHub) -> None:
    store, devices = hub.services.store, hub.services.devices
    start = store.committed_seq

    async def presence_rows() -> list[dict[str, object]]:
        events = await store.events_after(start, 100)
        # only this printer's: other devices' retained states arrive from the shared broker
        rows = [e.body["device"] for e in events if e.stream == "devices"]
        return [r for r in rows if r["id"] == "printer-grill-1"]

    ok = {"online": True, "paper": "ok", "cover_open": False, "error": None}
    await devices.report("printer-grill-1", "online", "printer", {**ok, "queue": 0})
    for queue in (1, 2, 1, 0):
        await devices.report("printer-grill-1", "online", "printer", {**ok, "queue": queue})
    assert len(await presence_rows()) == 1
    await devices.report("printer-grill-1", "online", "printer", {**ok, "paper": "out", "queue": 3})
    await devices.report("printer-grill-1", "online", "printer", {**ok, "paper": "out", "queue": 4})
    rows = await presence_rows()
    assert [r["detail"]["paper"] for r in rows] == ["ok", "out"]
    await devices.report("printer-grill-1", "offline", "printer", {**ok, "paper": "out"})
    assert [r["state"] for r in await presence_rows()] == ["online", "online", "offline"]


async def test_readings_from_more_scales_than_a_store_has_are_not_kept(hub: RunningHub) -> None:
    """Scale ids come from topic names: a flood of made-up ids must not grow memory or the
    outbox without bound."""
    from hub.services.devices import MAX_SCALES

    devices = hub.services.devices
    recorded = [await devices.weight(f"scale-{i}", 500 + i, True) for i in range(MAX_SCALES + 6)]
    assert recorded.count(True) == MAX_SCALES
    assert recorded[-6:] == [False] * 6
    assert await devices.weight("scale-0", 900, True) is False  # inside its 10 s window
