"""The store's Mosquitto security: one account per device, an ACL that gives each device only
its own topics (from `hub.bus.contract`), the listener config, and the password file.

Pure except `password_file()`, which runs the real ``mosquitto_passwd -b`` for accounts whose
hash is missing or does not match, and keeps every other line byte for byte, so re-running
provisioning leaves the file unchanged. Passwords themselves live in the secrets directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pwd
import string
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.bus import contract
from hub.errors import HubError
from hub.provision.answers import DOCTOR_USER, HUB_USER, Answers

# seconds between persistence snapshots (SD card wear vs. loss). Each snapshot rewrites the
# whole file: every retained message and every message waiting for a device that is away (up
# to max_queued_messages each), megabytes once a bump bar is switched off for a rush; the hub
# publishes again what a broker crash can lose (replay_after_reconnect_s, provisioned above
# this), and devices send their status again when they reconnect
AUTOSAVE_INTERVAL = 60


class BrokerSetupError(HubError):
    code = "broker_setup"


@dataclass(frozen=True, slots=True)
class Account:
    """One broker login and what it may do."""

    username: str
    kind: str  # hub | doctor | printer | scale | buttons | table-button | bump-bar
    write: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    readwrite: tuple[str, ...] = ()


def accounts(a: Answers) -> tuple[Account, ...]:
    """The hub's account, then one per device, each with only its own topics."""
    s = a.store_id
    out = [
        Account(HUB_USER, "hub", readwrite=(f"{contract.base(s)}/#",)),
        # `tablehub doctor` reads what the devices and the hub say; it publishes nothing
        Account(
            DOCTOR_USER,
            "doctor",
            read=(
                contract.hub_status(s),
                f"{contract.base(s)}/devices/+/status",
                f"{contract.base(s)}/scales/+/weight",
            ),
        ),
    ]
    for p in a.printers:
        out.append(
            Account(
                p.device,
                "printer",
                write=(contract.printer_acks(s, p.id), contract.device_status(s, p.device)),
                read=(contract.printer_jobs(s, p.id),),
            )
        )
    for sc in a.scales:
        out.append(
            Account(
                sc.device,
                "scale",
                write=(contract.scale_weight(s, sc.id), contract.device_status(s, sc.device)),
            )
        )
    if a.gpio_device:
        tables = list(dict.fromkeys(c.table for c in a.gpio_calls))
        stations = list(dict.fromkeys(b.station for b in a.gpio_bumps))
        out.append(
            Account(
                a.gpio_device,
                "buttons",
                write=(
                    *(contract.table_call(s, t) for t in tables),
                    *(contract.kds_bump(s, st) for st in stations),
                    contract.device_status(s, a.gpio_device),
                ),
                read=tuple(contract.table_call_state(s, t) for t in tables),
            )
        )
    for e in a.esp32:
        if e.kind == "table-button":
            write, read = contract.table_call(s, e.target), contract.table_call_state(s, e.target)
        else:
            write, read = contract.kds_bump(s, e.target), contract.kds_events(s, e.target)
        out.append(
            Account(e.id, e.kind, write=(write, contract.device_status(s, e.id)), read=(read,))
        )
    return tuple(out)


def render_acl(store_id: str, accts: Sequence[Account]) -> str:
    lines = [
        "# tablehub: who may publish and read what, one block per broker account.",
        f"# Store '{store_id}'. Written by `tablehub provision`; re-run it instead of editing.",
        "# Each device gets only its own topics (hub/bus/contract.py); anything else is refused",
        "# (MQTT v5: PUBACK 0x87 Not authorized; v3.1.1: dropped).",
    ]
    for acc in accts:
        lines += ["", f"# {acc.kind}", f"user {acc.username}"]
        lines += [f"topic readwrite {t}" for t in acc.readwrite]
        lines += [f"topic write {t}" for t in acc.write]
        lines += [f"topic read {t}" for t in acc.read]
    return "\n".join(lines) + "\n"


def render_conf(
    template: str,
    *,
    local_port: int,
    lan_port: int,
    lan_bind: str,
    password_file: str,
    acl_file: str,
) -> str:
    """Fill systemd/mosquitto/tablehub.conf; a placeholder left unfilled is an error."""
    try:
        return string.Template(template).substitute(
            local_port=local_port,
            lan_port=lan_port,
            lan_bind=lan_bind,
            password_file=password_file,
            acl_file=acl_file,
            autosave_interval=AUTOSAVE_INTERVAL,
        )
    except (KeyError, ValueError) as exc:
        raise BrokerSetupError(f"mosquitto template: bad placeholder {exc}") from exc


def rehearsal_main_conf(*, conf_d: str, data: str) -> str:
    """A standalone main config for a box rehearsed in a folder: what Debian's
    /etc/mosquitto/mosquitto.conf gives a box (persistence location, log, conf.d/)."""
    lines = [
        "# A rehearsed box's broker, written by `tablehub provision --root`; on a box Debian's",
        "# own /etc/mosquitto/mosquitto.conf does this. Run: mosquitto -c <this file>",
        f"persistence_location {data}/",
        "log_dest stderr",
        # as root mosquitto would switch to the user 'mosquitto', who cannot read this folder
        f"user {pwd.getpwuid(os.geteuid()).pw_name}",
        f"include_dir {conf_d}",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the password file


def verify(hashed: str, password: str) -> bool:
    """Does a mosquitto_passwd hash ($7$ PBKDF2-SHA512 or $6$ SHA512) match `password`?"""
    parts = hashed.split("$")
    try:
        if len(parts) == 5 and parts[1] == "7":
            salt, want = base64.b64decode(parts[3]), base64.b64decode(parts[4])
            got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
        elif len(parts) == 4 and parts[1] == "6":
            salt, want = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            got = hashlib.sha512(password.encode() + salt).digest()
        else:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(got, want)


def _parse(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        user, sep, hashed = line.partition(":")
        if sep and user and not line.startswith("#"):
            out[user] = hashed
    return out


Runner = Callable[[list[str]], None]


def run_passwd(argv: list[str]) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
    except FileNotFoundError as exc:
        raise BrokerSetupError(
            "mosquitto_passwd is not installed (apt-get install mosquitto)"
        ) from exc
    except subprocess.CalledProcessError as exc:
        err = exc.stderr.decode(errors="replace").strip()
        raise BrokerSetupError(f"mosquitto_passwd failed: {err}") from exc
    except subprocess.TimeoutExpired as exc:
        raise BrokerSetupError("mosquitto_passwd did not finish in 30 s") from exc


def password_file(
    existing: str,
    users: Mapping[str, str],
    *,
    run: Runner = run_passwd,
    tool: str = "mosquitto_passwd",
) -> str:
    """The password file for exactly `users` (name -> password), in their order.

    Lines whose hash already matches are kept as they are; the others are made by
    ``mosquitto_passwd -b`` in a private temporary file. Users not in `users` are dropped."""
    have = _parse(existing)
    keep = {u: have[u] for u in users if u in have and verify(have[u], users[u])}
    todo = [u for u in users if u not in keep]
    made: dict[str, str] = {}
    if todo:
        with tempfile.TemporaryDirectory(prefix="tablehub-passwd-") as tmp:
            path = Path(tmp) / "passwd"
            path.touch(mode=0o600)
            for user in todo:
                run([tool, "-b", str(path), user, users[user]])
            made = _parse(path.read_text())
        missing = [u for u in todo if u not in made]
        if missing:
            raise BrokerSetupError(f"mosquitto_passwd wrote no entry for {', '.join(missing)}")
    lines = [f"{u}:{keep[u] if u in keep else made[u]}" for u in users]
    return "\n".join(lines) + "\n"
