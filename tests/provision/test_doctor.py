"""`tablehub doctor` on a provisioned box: what the devices report, a stopped broker, an
offline printer, a full disk, a clock that was never set, an unreachable cloud."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.app import running_hub
from hub.config import load_config
from hub.domain.orders import LineRequest
from hub.ops import doctor
from hub.ops.doctor import DiskUsage, Probes
from hub.ops.mosquitto import free_port
from hub.provision import register
from hub.store import backup
from tests.provision.conftest import WrittenBroker, logged_in, runnable_hub_toml
from tests.waiting import until

BASE = "tablehub/v1/harbour"
GiB = 1024**3


async def hub_ok(url: str, seconds: float) -> dict[str, Any]:
    """/healthz of a serving hub: these tests are about what else the doctor sees (the hub
    check itself runs against a real hub in test_rehearsal.py)."""
    return {"status": "ok", "broker_connected": True, "store": {"saving": True}}


def probes(**kw: Any) -> Probes:
    base: dict[str, Any] = {
        "http_json": hub_ok,
        "disk_usage": lambda _p: DiskUsage(32 * GiB, 10 * GiB, 22 * GiB),
        "disk_written": lambda _p: (300 * 1024**2, 86400.0),
        "now": lambda: datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        "ntp_synchronized": lambda: True,
        "listen_s": 0.5,
    }
    return Probes(**{**base, **kw})


def by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


async def report(root: Path, broker: WrittenBroker, device: str, body: dict[str, Any]) -> None:
    """`device` publishes its retained status with its own login, as its agent would."""
    async with logged_in(broker, root, device, f"test-{device}") as client:
        topic = f"{BASE}/devices/{device}/status"
        await client.publish(topic, json.dumps(body).encode(), qos=1, retain=True)
        if device.startswith("scale-"):
            weight = f"{BASE}/scales/{device.removeprefix('scale-')}/weight"
            await client.publish(weight, b'{"grams": 1234, "stable": true}', qos=0, retain=True)


@pytest.fixture
def config(provisioned: Path, written_broker: WrittenBroker, tmp_path: Path) -> Path:
    return runnable_hub_toml(provisioned, written_broker.port, tmp_path / "hub.toml")


async def test_devices_and_what_they_report(
    provisioned: Path, written_broker: WrittenBroker, config: Path
) -> None:
    online = {"state": "online", "kind": "printer"}
    paper_ok = {"online": True, "paper": "ok", "cover_open": False, "queue": 0, "error": None}
    await report(provisioned, written_broker, "printer-grill-1", {**online, "detail": paper_ok})
    low = {**paper_ok, "paper": "near_end"}
    await report(provisioned, written_broker, "printer-wok-1", {**online, "detail": low})
    await report(provisioned, written_broker, "printer-bar-1", {**online, "detail": paper_ok})
    await report(provisioned, written_broker, "scale-deli-1", {"state": "online", "kind": "scale"})
    await report(provisioned, written_broker, "buttons-gpio", {"state": "online"})
    await report(provisioned, written_broker, "bump-bar-wok", {"state": "online"})
    checks = by_name(await doctor.examine(config, probes()))
    assert checks["broker"].status == "ok"
    assert checks["printer-grill-1"].status == "ok"
    assert checks["printer-grill-1"].summary == "online, paper ok"
    assert (checks["printer-wok-1"].status, checks["printer-wok-1"].data["paper"]) == (
        "warn",
        "near_end",
    )
    assert checks["scale-deli-1"].summary == "online, 1234 g stable"
    assert checks["buttons-gpio"].status == "ok"
    # never connected: a call nobody hears fails too
    assert checks["table-button-T1"].status == "fail"
    assert checks["bump-bar-wok"].status == "ok"
    assert checks["database"].status == "warn"  # no store before the hub's first run
    assert checks["cloud"].summary == "not configured"
    assert checks["clock"].status == "ok"
    assert checks["disk"].status == "ok"
    assert "300 MiB/day" in checks["disk"].summary
    assert checks["hub"].status == "ok"
    failed = [c.name for c in checks.values() if c.status == "fail"]
    assert failed == ["table-button-T1"]
    assert "1 failed (table-button-T1)" in doctor.as_table(list(checks.values()))


async def test_an_offline_printer_fails(
    provisioned: Path, written_broker: WrittenBroker, config: Path
) -> None:
    await report(
        provisioned,
        written_broker,
        "printer-grill-1",
        {"state": "offline", "kind": "printer", "detail": {"reason": "connection lost"}},
    )
    await report(provisioned, written_broker, "table-button-T1", {"state": "offline"})
    checks = await doctor.examine(config, probes())
    named = by_name(checks)
    assert (named["printer-grill-1"].status, named["printer-grill-1"].summary) == (
        "fail",
        "offline (connection lost)",
    )
    assert (named["table-button-T1"].status, named["table-button-T1"].summary) == (
        "fail",
        "offline",
    )
    assert named["printer-wok-1"].summary == "never reported (no retained status)"
    assert doctor.exit_code(checks) == 1
    doc = doctor.as_json(checks)
    assert doc["ok"] is False
    assert doc["failed"] >= 2


def run_cli(argv: list[str]) -> Any:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


async def test_a_stopped_broker_fails_in_json(
    written_broker: WrittenBroker, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written_broker.stop()
    code = await run_cli(["doctor", "--config", str(config), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert doc["ok"] is False
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["broker"]["status"] == "fail"
    assert f"127.0.0.1:{written_broker.port} as doctor" in checks["broker"]["summary"]
    assert checks["printer-grill-1"]["status"] == "skip"


async def test_the_disk_check_says_what_the_store_and_its_backups_take(config: Path) -> None:
    data_dir = load_config(config).data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "tablehub.db").write_bytes(b"\0" * (3 * 1024**2))
    folder = backup.backups_dir(data_dir)
    folder.mkdir()
    for stamp in ("20261206T040000Z", "20261207T040000Z"):
        (folder / f"tablehub-{stamp}.db").write_bytes(b"\0" * (2 * 1024**2))
    (folder / "tablehub-20261207T050000Z.db.partial").write_bytes(b"\0" * 1024**2)  # not one
    disk = by_name(await doctor.examine(config, probes()))["disk"]
    assert "store 3 MiB, 2 backups 4 MiB" in disk.summary
    assert (disk.data["store_bytes"], disk.data["backups_bytes"]) == (3 * 1024**2, 4 * 1024**2)


async def test_a_full_disk_fails(config: Path) -> None:
    full = probes(disk_usage=lambda _p: DiskUsage(32 * GiB, 32 * GiB - 10 * 1024**2, 10 * 1024**2))
    disk = by_name(await doctor.examine(config, full))["disk"]
    assert disk.status == "fail"
    assert disk.summary.startswith("10 MiB free")
    low = probes(disk_usage=lambda _p: DiskUsage(32 * GiB, 30 * GiB, 2 * GiB))
    assert by_name(await doctor.examine(config, low))["disk"].status == "warn"


async def test_an_unset_clock_fails(config: Path) -> None:
    checks = by_name(
        await doctor.examine(config, probes(now=lambda: datetime(1970, 1, 1, tzinfo=UTC)))
    )
    assert checks["clock"].status == "fail"
    unsynced = by_name(await doctor.examine(config, probes(ntp_synchronized=lambda: False)))
    assert unsynced["clock"].status == "fail"
    assert "NTP not synchronized" in unsynced["clock"].summary


async def test_the_cloud(config: Path) -> None:
    (config.parent / "bridge.toml").write_text('[bridge]\nendpoint = "https://cloud.example.com"\n')

    async def down(url: str, seconds: float) -> int:
        raise aiohttp.ClientConnectionError("no route to host")

    async def up(url: str, seconds: float) -> int:
        return 405

    cloud = by_name(await doctor.examine(config, probes(http_head=down)))["cloud"]
    assert cloud.status == "warn"
    assert "no route to host" in cloud.summary
    cloud = by_name(await doctor.examine(config, probes(http_head=up)))["cloud"]
    assert (cloud.status, cloud.summary) == ("ok", "https://cloud.example.com answers (HTTP 405)")


async def test_an_unreadable_config_fails(tmp_path: Path) -> None:
    checks = await doctor.examine(tmp_path / "missing.toml", probes())
    assert [c.status for c in checks] == ["fail"]
    assert "missing.toml" in doctor.as_table(checks)


def serving_toml(root: Path, broker: WrittenBroker, out: Path, **changes: str) -> Path:
    """The runnable hub.toml on a free HTTP port (the doctor asks the hub there), with
    `changes` (text -> replacement) made to it."""
    text = runnable_hub_toml(root, broker.port, out).read_text()
    text = text.replace('host = "127.0.0.1"\nport = 0', f'host = "127.0.0.1"\nport = {free_port()}')
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    out.write_text(text)
    return out


async def test_the_broker_refusing_the_hubs_login_fails_naming_it(
    provisioned: Path, written_broker: WrittenBroker, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-hubs-password\n")
    wrong.chmod(0o600)
    hub_pw = str(provisioned / "etc/tablehub/secrets/mqtt-hub")
    toml = serving_toml(provisioned, written_broker, tmp_path / "hub.toml", **{hub_pw: str(wrong)})
    async with running_hub(load_config(toml)) as hub:
        assert hub.bus is not None
        await until(lambda: hub.bus is not None and hub.bus.last_error is not None, "a refusal")
        checks = by_name(await doctor.examine(toml, probes(http_json=doctor.Probes().http_json)))
    assert checks["hub"].status == "fail"
    assert "the broker refuses the hub's login" in checks["hub"].summary, checks["hub"]
    assert checks["broker"].status == "ok"  # the doctor's own login works


async def test_a_backup_older_than_the_limit_fails(
    provisioned: Path, written_broker: WrittenBroker, tmp_path: Path
) -> None:
    toml = serving_toml(provisioned, written_broker, tmp_path / "hub.toml")
    async with running_hub(load_config(toml)):
        pass  # the store exists once the hub has run
    config = load_config(toml)
    backup.backup(config.db_path, backup.backups_dir(config.data_dir))
    later = probes(now=lambda: datetime.now(UTC) + timedelta(hours=30))
    old = by_name(await doctor.examine(toml, later))["backup"]
    assert old.status == "fail"
    assert "(limit 26 h)" in old.summary
    # the limit is the box's: [doctor] backup_max_age_hours
    text = toml.read_text().replace("[doctor]", "[doctor]\nbackup_max_age_hours = 48")
    toml.write_text(text)
    assert by_name(await doctor.examine(toml, later))["backup"].status == "ok"


async def test_a_bridge_behind_the_limit_fails(
    provisioned: Path, written_broker: WrittenBroker, tmp_path: Path
) -> None:
    """A hub whose cloud bridge never uploads (no bridge running): once its oldest unsent
    event is older than [doctor] bridge_behind_limit_s, the real /healthz says so and the
    doctor fails the hub check naming it."""
    toml = serving_toml(provisioned, written_broker, tmp_path / "hub.toml")
    bridge = f'[bridge]\nstate_db = "{tmp_path / "bridge.db"}"\nhealth_every_seconds = 0.1\n'
    text = toml.read_text().replace("[doctor]", "[doctor]\nbridge_behind_limit_s = 0.5")
    toml.write_text(text + "\n" + bridge)
    real = probes(http_json=doctor.Probes().http_json)
    async with running_hub(load_config(toml)) as hub:
        token = hub.services.catalog.token_for("T2")
        await hub.services.ordering.place(token, "behind-1", [LineRequest("chicken-satay", 1)])

        seen: list[doctor.Check] = []

        async def behind() -> bool:
            seen.append(by_name(await doctor.examine(toml, real))["hub"])
            return "cloud bridge behind" in seen[-1].summary

        await until(behind, "the bridge behind", every=0.2, timeout=10, state=lambda: seen[-1])
        hub_check = seen[-1]
        assert hub_check.status == "fail"
    assert "cloud bridge behind: the oldest unsent event is" in hub_check.summary
    assert "(limit 0.5 s)" in hub_check.summary
