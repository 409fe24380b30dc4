"""`tablehub doctor`: look a store box over the way a technician would.

Checks, each ok / warn / fail / skip (only fail makes the exit code 1, and the last line
names every failed check):

- **hub**: GET ``/healthz`` on the hub's own HTTP port (3 s). No answer **fails** (the hub is
  not running or not answering); so does an answer saying the hub is not connected to the
  broker (naming a refused login), cannot save, or has a cloud bridge whose oldest unsent
  event is older than ``[doctor] bridge_behind_limit_s`` (600 s).

- **broker**: an MQTT v5 CONNECT (3 s) with the doctor's own login (``[doctor]`` of hub.toml,
  read-only), so the running hub is not kicked off; the hub's retained status is shown.
  Without a ``[doctor]`` login it uses the hub's only while the hub is not answering
  (logging in as a running hub would take its session; that warns instead).
- **devices**: for 1 s the retained ``devices/+/status`` and ``scales/+/weight`` are read; each
  device in ``[devices] expected`` of hub.toml and each ``[[printers]]`` gets a row. A device
  that is offline or never reported **fails** (a ticket that cannot print, a weighed item
  that cannot be sold, a call nobody hears); a printer out of paper or with its cover open
  fails, paper low warns.
- **disk**: free space on the data dir's file system (fail under 256 MiB or 2 %, warn under
  10 %), and bytes written per day to its block device: sectors written from /proc/diskstats
  divided by the uptime, i.e. the whole device since boot, which is what wears an SD card.
  (/proc/self/io would count only the doctor's own writes; /proc/<hub pid>/io only the hub's.)
  It also says what the store and its backups take: the two that grow with the business.
- **clock**: the year is 2024 or later, and NTP is synchronized (``timedatectl``; **fails** if
  it says not, unknown without timedatectl).
- **cloud**: HTTP HEAD of the bridge's endpoint (3 s): any answer is reachable; unreachable
  warns (the store works offline by design); no bridge.toml beside hub.toml: not configured.
- **database**: ``PRAGMA quick_check`` on a read-only connection.
- **backup**: the newest backup's age: older than ``[doctor] backup_max_age_hours`` (26 h)
  **fails**; none yet (a new box) warns.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

import aiohttp
import aiomqtt

from hub.bus import contract
from hub.bus.client import BrokerConfig
from hub.config import HubConfig, load_config, read_secret_file
from hub.errors import HubError
from hub.store import backup

Status = Literal["ok", "warn", "fail", "skip"]
MiB = 1024 * 1024


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    summary: str
    data: dict[str, Any] = field(default_factory=dict)


def _ntp_synchronized() -> bool | None:
    try:
        out = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=3,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"yes": True, "no": False}.get(out)


def _disk_written(path: Path) -> tuple[int, float] | None:
    """(bytes written to the block device holding `path` since boot, seconds since boot)."""
    try:
        dev = path.stat().st_dev
        want = (os.major(dev), os.minor(dev))
        for line in Path("/proc/diskstats").read_text().splitlines():
            f = line.split()
            if (int(f[0]), int(f[1])) == want:
                uptime = float(Path("/proc/uptime").read_text().split()[0])
                return int(f[9]) * 512, uptime
    except (OSError, ValueError, IndexError):
        return None
    return None


async def _get_json(url: str, seconds: float) -> Any:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session,
        # the hub's own certificate may be self-signed; this is its own port on this box
        session.get(url, allow_redirects=False, ssl=False) as response,
    ):
        return await response.json()


async def _head(url: str, seconds: float) -> int:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session,
        session.head(url, allow_redirects=False) as response,
    ):
        return response.status


def _disk_usage(path: Path) -> DiskUsage:
    total, used, free = shutil.disk_usage(path)
    return DiskUsage(total, used, free)


@dataclass(frozen=True, slots=True)
class Probes:
    """What the doctor looks at; tests replace these."""

    disk_usage: Callable[[Path], DiskUsage] = _disk_usage
    disk_written: Callable[[Path], tuple[int, float] | None] = _disk_written
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ntp_synchronized: Callable[[], bool | None] = _ntp_synchronized
    http_head: Callable[[str, float], Awaitable[int]] = _head
    http_json: Callable[[str, float], Awaitable[Any]] = _get_json
    mqtt_timeout: float = 3.0
    listen_s: float = 1.0
    min_free_bytes: int = 256 * MiB
    backup_max_age_h: float = 26.0
    bridge_behind_limit_s: float = 600.0


# ---------------------------------------------------------------- running the checks


async def examine(config_path: Path, probes: Probes | None = None) -> list[Check]:
    probes = probes or Probes()
    try:
        config, raw = await asyncio.to_thread(_read, config_path)
    except (HubError, OSError, tomllib.TOMLDecodeError) as exc:
        msg = exc.message if isinstance(exc, HubError) else str(exc)
        return [Check("config", "fail", msg)]
    limits = raw.get("doctor", {})
    probes = replace(
        probes,
        backup_max_age_h=float(limits.get("backup_max_age_hours", probes.backup_max_age_h)),
        bridge_behind_limit_s=float(
            limits.get("bridge_behind_limit_s", probes.bridge_behind_limit_s)
        ),
    )
    expected = [f"printer-{p.id}" for p in config.printers]
    expected += [d for d in raw.get("devices", {}).get("expected", []) if d not in expected]
    hub = await _hub(config, probes)
    checks = [Check("config", "ok", str(config_path)), hub]
    checks += await _broker(config.broker, raw.get("doctor", {}), expected, hub, probes)
    checks += await asyncio.to_thread(_local, config, probes)
    checks.append(await _cloud(config_path.parent / "bridge.toml", probes))
    return checks


async def _broker(
    cfg: BrokerConfig | None,
    doctor: dict[str, Any],
    expected: list[str],
    hub: Check,
    probes: Probes,
) -> list[Check]:
    try:
        login = _doctor_login(cfg, doctor)
    except (HubError, OSError) as exc:
        msg = exc.message if isinstance(exc, HubError) else str(exc)
        skipped = [Check(d, "skip", "no broker login") for d in expected]
        return [Check("broker", "fail", f"doctor's login: {msg}"), *skipped]
    if cfg is not None and not doctor.get("username") and hub.status == "ok":
        why = (
            "no [doctor] login in hub.toml (re-run provisioning); not logging in as the hub "
            "while it runs: that would take its session"
        )
        return [
            Check("broker", "warn", why),
            *(Check(d, "skip", "not looked at") for d in expected),
        ]
    return await _mqtt(login, expected, probes)


def _doctor_login(cfg: BrokerConfig | None, doctor: dict[str, Any]) -> BrokerConfig | None:
    """The broker as the doctor's own login ([doctor] of hub.toml), else as the hub's: a
    broker that ties each login to one client id would take the running hub's session
    away from a doctor logged in as the hub."""
    if cfg is None or not doctor.get("username"):
        return cfg
    password = None
    if doctor.get("password_file"):
        password = read_secret_file(Path(doctor["password_file"]))
    return replace(cfg, username=str(doctor["username"]), password=password)


def _read(path: Path) -> tuple[HubConfig, dict[str, Any]]:
    return load_config(path), tomllib.loads(path.read_text("utf-8"))


def _local(config: HubConfig, probes: Probes) -> list[Check]:
    return [
        _disk(config.data_dir, probes),
        _clock(probes),
        _database(config),
        _backup(config, probes),
    ]


async def _mqtt(cfg: BrokerConfig | None, expected: list[str], probes: Probes) -> list[Check]:
    if cfg is None:
        return [Check("broker", "skip", "disabled in the config")]
    where = f"{cfg.host}:{cfg.port} as {cfg.username or 'anonymous'}"
    p = contract.PREFIX
    try:
        async with asyncio.timeout(probes.mqtt_timeout + probes.listen_s + 2):
            async with aiomqtt.Client(
                hostname=cfg.host,
                port=cfg.port,
                username=cfg.username,
                password=cfg.password,
                identifier=f"tablehub-doctor-{os.getpid()}",
                protocol=aiomqtt.ProtocolVersion.V5,
                timeout=probes.mqtt_timeout,
            ) as client:
                await client.subscribe(
                    [
                        (f"{p}/+/devices/+/status", 1),
                        (f"{p}/+/scales/+/weight", 0),
                        (f"{p}/+/hub/status", 1),
                    ]
                )
                retained = await _collect(client, probes.listen_s)
    except (aiomqtt.MqttError, TimeoutError) as exc:
        why = str(exc) or type(exc).__name__
        return [
            Check("broker", "fail", f"{where}: {why}"),
            *(Check(d, "skip", "broker unreachable") for d in expected),
        ]
    by_kind: dict[str, dict[str, bytes]] = {}
    for topic, payload in retained.items():
        with contextlib.suppress(contract.ContractError):
            t = contract.parse_topic(topic)
            by_kind.setdefault(t.kind, {})[t.subject] = payload
    hub_state = by_kind.get("hub.status", {}).get("hub", b"unknown").decode(errors="replace")
    checks = [Check("broker", "ok", f"{where}; hub {hub_state}", {"hub": hub_state})]
    statuses = by_kind.get("device.status", {})
    weights = by_kind.get("scale.weight", {})
    checks += [_device(d, statuses.get(d), weights) for d in expected]
    others = sorted(set(statuses) - set(expected))
    if others:
        checks.append(Check("other devices", "ok", ", ".join(others), {"devices": others}))
    return checks


async def _collect(client: aiomqtt.Client, seconds: float) -> dict[str, bytes]:
    got: dict[str, bytes] = {}
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for m in client.messages:
                payload = m.payload
                got[m.topic.value] = (
                    bytes(payload)
                    if isinstance(payload, bytes | bytearray)
                    else str(payload).encode()
                )
    return got


def _device(device: str, payload: bytes | None, weights: dict[str, bytes]) -> Check:
    down: Status = "fail"
    if payload is None:
        return Check(device, down, "never reported (no retained status)")
    try:
        msg = contract.decode_device_status(payload)
    except contract.ContractError as exc:
        return Check(device, down, f"unreadable status: {exc}")
    detail = dict(msg.detail or {})
    if msg.state != "online":
        reason = detail.get("reason")
        return Check(device, down, "offline" + (f" ({reason})" if reason else ""), detail)
    if device.startswith("printer-"):
        return _printer(device, detail)
    if device.startswith("scale-"):
        scale = device.removeprefix("scale-")
        with contextlib.suppress(contract.ContractError):
            w = contract.decode_weight(weights.get(scale, b""))
            detail["grams"], detail["stable"] = w.grams, w.stable
            return Check(
                device, "ok", f"online, {w.grams} g{' stable' if w.stable else ''}", detail
            )
        return Check(device, "ok", "online, no weight yet", detail)
    return Check(device, "ok", "online", detail)


def _printer(device: str, d: dict[str, Any]) -> Check:
    paper = d.get("paper", "unknown")
    text = f"online, paper {paper}" + (f", {d['queue']} queued" if d.get("queue") else "")
    if d.get("online") is False:
        return Check(device, "fail", f"agent online, printer not answering ({d.get('error')})", d)
    if paper == "out" or d.get("cover_open"):
        return Check(device, "fail", "paper out" if paper == "out" else "cover open", d)
    if paper in ("low", "near_end"):
        return Check(device, "warn", text, d)
    if d.get("error"):
        return Check(device, "warn", f"{text}, last error {d['error']}", d)
    return Check(device, "ok", text, d)


def _store_and_backups(data_dir: Path, data: dict[str, Any]) -> str:
    """What the store and its backups take: the two that grow (systemd/README.md, "History
    on the hub")."""
    db = data_dir / "tablehub.db"
    if not db.exists():
        return ""
    store = sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())
    found: list[Path] = []
    with contextlib.suppress(OSError):  # a folder this user may not read
        found = backup.list_backups(backup.backups_dir(data_dir))
    kept = 0
    for p in found:
        with contextlib.suppress(OSError):  # pruned meanwhile
            kept += p.stat().st_size
    data["store_bytes"], data["backups_bytes"] = store, kept
    return f"; store {store / MiB:.0f} MiB, {len(found)} backups {kept / MiB:.0f} MiB"


def _disk(data_dir: Path, probes: Probes) -> Check:
    path = data_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    u = probes.disk_usage(path)
    frac = u.free / u.total if u.total else 0.0
    data: dict[str, Any] = {"path": str(path), "free": u.free, "total": u.total}
    text = f"{u.free / MiB:.0f} MiB free of {u.total / MiB:.0f} MiB ({frac:.0%})"
    written = probes.disk_written(path)
    if written is not None:
        per_day = written[0] / max(written[1], 60.0) * 86400
        data["written_per_day"] = int(per_day)
        text += f"; device writes {per_day / MiB:.0f} MiB/day since boot"
    else:
        text += "; writes per day unknown (not a block device: overlay or tmpfs?)"
    text += _store_and_backups(data_dir, data)
    status: Status = "ok"
    if u.free < probes.min_free_bytes or frac < 0.02:
        status = "fail"
    elif frac < 0.10:
        status = "warn"
    return Check("disk", status, text, data)


def _clock(probes: Probes) -> Check:
    now = probes.now()
    data: dict[str, Any] = {"now": now.isoformat()}
    if now.year < 2024:
        return Check("clock", "fail", f"not set: it says {now:%Y-%m-%d %H:%M}", data)
    ntp = probes.ntp_synchronized()
    data["ntp_synchronized"] = ntp
    if ntp is False:
        return Check("clock", "fail", f"{now:%Y-%m-%d %H:%M} UTC, NTP not synchronized", data)
    note = "NTP synchronized" if ntp else "NTP state unknown (no timedatectl)"
    return Check("clock", "ok", f"{now:%Y-%m-%d %H:%M} UTC, {note}", data)


def _database(config: HubConfig) -> Check:
    db = config.db_path
    if not db.exists():
        return Check("database", "warn", f"no store yet at {db} (the hub makes it on first run)")
    result = backup.quick_check(db)
    if result != "ok":
        return Check("database", "fail", f"{db}: {result}", {"quick_check": result})
    return Check("database", "ok", f"{db}: quick_check ok", {"quick_check": "ok"})


def _backup(config: HubConfig, probes: Probes) -> Check:
    found = backup.list_backups(backup.backups_dir(config.data_dir))
    if not found:
        return Check("backup", "warn", "no backup yet (tablehub backup --config ...)")
    age_h = (probes.now() - backup.backup_time(found[0])).total_seconds() / 3600
    data = {"newest": str(found[0]), "age_hours": round(age_h, 1), "count": len(found)}
    text = f"newest {found[0].name}, {age_h:.1f} h old"
    if age_h > probes.backup_max_age_h:
        return Check("backup", "fail", f"{text} (limit {probes.backup_max_age_h:g} h)", data)
    return Check("backup", "ok", text, data)


def _endpoint(bridge_toml: Path) -> str:
    return str(tomllib.loads(bridge_toml.read_text("utf-8"))["bridge"]["endpoint"])


async def _cloud(bridge_toml: Path, probes: Probes) -> Check:
    try:
        url = await asyncio.to_thread(_endpoint, bridge_toml)
    except FileNotFoundError:
        return Check("cloud", "ok", "not configured")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Check("cloud", "warn", f"cannot read {bridge_toml}: {exc}")
    try:
        status = await probes.http_head(str(url), 3.0)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Check("cloud", "warn", f"{url} unreachable: {exc or type(exc).__name__}")
    return Check("cloud", "ok", f"{url} answers (HTTP {status})", {"status": status})


def _hub_url(config: HubConfig) -> str:
    host = config.http_host
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - listening everywhere: ask on loopback
        host = "127.0.0.1"
    scheme = "https" if config.tls_cert is not None else "http"
    return f"{scheme}://{host}:{config.http_port}/healthz"


async def _hub(config: HubConfig, probes: Probes) -> Check:
    url = _hub_url(config)
    try:
        body = await probes.http_json(url, 3.0)
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        why = str(exc) or type(exc).__name__
        return Check("hub", "fail", f"not running or not answering at {url}: {why}", {"url": url})
    if not isinstance(body, dict):
        return Check("hub", "fail", f"{url} did not answer like a hub", {"url": url})
    data = {
        "url": url,
        "status": body.get("status"),
        "broker_connected": body.get("broker_connected"),
    }
    problems = _hub_problems(body, probes)
    if problems:
        return Check("hub", "fail", "; ".join(problems), data)
    return Check("hub", "ok", f"{url}: {body.get('status')}", data)


def _hub_problems(body: dict[str, Any], probes: Probes) -> list[str]:
    out = []
    if body.get("broker_connected") is False:
        why = str(body.get("broker_error") or "")
        refused = any(w in why.lower() for w in ("not authori", "bad user name", "135"))
        what = "the broker refuses the hub's login" if refused else "not connected to the broker"
        out.append(what + (f" ({why})" if why else ""))
    store = body.get("store") or {}
    if store.get("saving") is False:
        out.append(f"cannot save the store: {store.get('problem')}")
    bridge = body.get("cloud_bridge")
    age = ((bridge or {}).get("backlog") or {}).get("oldest_unsent_age_s")
    if isinstance(age, int | float) and age > probes.bridge_behind_limit_s:
        out.append(
            f"cloud bridge behind: the oldest unsent event is {age:.0f} s old "
            f"(limit {probes.bridge_behind_limit_s:g} s)"
        )
    if body.get("status") != "ok" and not out:
        out.append(f"says {body.get('status')}")
    return out


# ---------------------------------------------------------------- output


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == "fail" for c in checks) else 0


def as_json(checks: list[Check]) -> dict[str, Any]:
    return {
        "ok": exit_code(checks) == 0,
        "failed": sum(c.status == "fail" for c in checks),
        "warnings": sum(c.status == "warn" for c in checks),
        "checks": [
            {"name": c.name, "status": c.status, "summary": c.summary, "data": c.data}
            for c in checks
        ],
    }


def as_table(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    marks = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
    lines = [f"  {marks[c.status]:<5} {c.name:<{width}}  {c.summary}" for c in checks]
    failed = [c.name for c in checks if c.status == "fail"]
    warned = sum(c.status == "warn" for c in checks)
    if failed:
        lines.append(f"{len(failed)} failed ({', '.join(failed)}), {warned} warnings")
    else:
        lines.append(f"0 failed, {warned} warnings" if warned else "all good")
    return "\n".join(lines)
