"""Provisioning a store box: turn the answers into every file the box runs with.

`provision(answers, root)` writes under `root` (``/`` on the box itself):

    /etc/tablehub/hub.toml                       the hub's config (hub.config format)
    /etc/tablehub/menu.json                      only if missing: given menu or the demo menu,
                                                 with the answers' store and tables
    /etc/tablehub/secrets/mqtt-<user>            each broker login's password (0600)
    /etc/tablehub/secrets/ota-<device>           each ESP32 board's OTA password (0600)
    /etc/tablehub/secrets/cloud-token            the cloud token (0600), with bridge.toml
    /etc/tablehub/agents/<device>.toml           agents outside the hub: remote printers and
                                                 scales, the GPIO buttons (0600)
    /etc/tablehub/esphome/...                    ESP32 configs (hub.provision.esphome)
    /etc/tablehub/qr/tables.pdf, tables.png      the table QR sheet
    /etc/mosquitto/conf.d/tablehub.conf          listeners and security (from the template)
    /etc/mosquitto/tablehub.passwd, .acl         logins (real mosquitto_passwd) and ACL
    /etc/systemd/system/...                      units from systemd/ and drop-ins
    /var/lib/tablehub/secret.key                 the store's signing key (made once)

With a `root` other than ``/`` the box is *rehearsed* there: every path named inside the
written files is under `root` too, and a standalone ``/etc/mosquitto/mosquitto.conf`` (what
Debian's provides on a box) is written, so the broker, the hub, the agents and doctor all
run from that folder without sudo (``mosquitto -c ROOT/etc/mosquitto/mosquitto.conf``,
``tablehub run --config ROOT/etc/tablehub/hub.toml``). `image=True` instead builds an SD
card image: the files name the box's own paths. The systemd units are copied as they are
either way (they are for the box).

It is idempotent: every file is compared before it is written, MQTT passwords and table
token versions are kept unless `rotate` names the table or the login, and files an earlier
run wrote that are no longer wanted (a removed device) are removed. The report lists every
file as created, updated, unchanged or removed, and what to do next.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import hub
from hub.config import load_or_create_secret
from hub.domain import tokens
from hub.domain.menu import parse_menu
from hub.errors import HubError, MenuInvalid
from hub.ops.menu_file import demo_menu, read_menu_file
from hub.provision import broker, esphome, render, sheet, tables
from hub.provision.answers import Answers, AnswersInvalid
from hub.provision.files import (
    BROKER_USER,
    ON_BOX,
    SERVICE_USER,
    Box,
    Change,
    Owners,
    Report,
    Tree,
)

ETC, DATA, SECRETS, AGENTS = render.ETC, render.DATA, render.SECRETS, render.AGENTS
MOSQUITTO_CONF = "/etc/mosquitto/conf.d/tablehub.conf"
MOSQUITTO_MAIN = "/etc/mosquitto/mosquitto.conf"  # written only for a rehearsal
MOSQUITTO_DATA = "/var/lib/mosquitto"
MOSQUITTO_PASSWD = "/etc/mosquitto/tablehub.passwd"  # noqa: S105 - a path
MOSQUITTO_ACL = "/etc/mosquitto/tablehub.acl"
UNITS = "/etc/systemd/system"
UNIT_FILES = (
    "tablehub.service",
    "tablehub-bridge.service",
    "tablehub-agent@.service",
    "tablehub-kiosk@.service",
)
MANIFEST = f"{ETC}/.provisioned.json"


class ProvisionError(HubError):
    code = "provision"


def find_source(explicit: Path | None = None) -> Path:
    """The tablehub checkout holding systemd/ and firmware_configs/: given, beside the
    installed package (editable install), or the folder of the virtual environment
    (/opt/tablehub/.venv -> /opt/tablehub)."""
    pkg = Path(hub.__file__).resolve().parents[1]
    candidates = [explicit] if explicit else [pkg, Path(sys.prefix).resolve().parent]
    for c in candidates:
        if c is not None and (c / "systemd" / "tablehub.service").exists():
            return c
    raise ProvisionError(
        "cannot find the tablehub checkout (systemd/, firmware_configs/): pass --source DIR"
    )


def provision(
    answers: Answers,
    root: Path,
    *,
    rotate: Collection[str] = frozenset(),
    menu: Path | None = None,
    source: Path | None = None,
    owners: Owners | None = None,
    passwd: broker.Runner | None = None,
    image: bool = False,
) -> Report:
    """Write (or bring up to date) every file of the store box under `root`."""
    src = find_source(source)
    box = rehearsal_box(root, image=image)
    accounts = broker.accounts(answers)
    rotate = set(rotate)
    _check_rotate(answers, rotate, accounts)
    report = Report()
    tree = Tree(root, owners or Owners(), report, box=box)
    old_manifest = tree.read_manifest(MANIFEST)

    # everything that can refuse the answers, before anything is written
    menu_doc, menu_text = _menu(tree, answers, menu)
    _check_stations(answers, menu_doc)
    templates = _templates(answers, src)

    tree.mkdir(ETC)
    _write_menu(tree, menu_text)
    tree.mkdir(SECRETS, mode=0o700, owner=SERVICE_USER)
    data = tree.mkdir(DATA, mode=0o750, owner=SERVICE_USER)
    secret = _signing_key(tree, data)
    versions = _versions(tree, answers, rotate)

    passwords = _passwords(tree, accounts, rotate)
    _broker_files(tree, answers, accounts, passwords, src, passwd)
    tree.write(f"{ETC}/hub.toml", render.hub_toml(answers, box))
    _cloud(tree, answers)
    _agents(tree, answers, passwords)
    _esp32(tree, answers, passwords, templates)
    _qr_sheet(tree, answers, secret, versions)
    _units(tree, answers, src)

    for stale in sorted(set(old_manifest) - set(tree.managed)):
        tree.remove(stale)
    tree.write_manifest(MANIFEST)
    if box.prefix:
        _rehearsal_steps(report, answers, box)
    else:
        _next_steps(report, answers, tree.owners)
    return report


def rehearsal_box(root: Path, *, image: bool) -> Box:
    """How the written files name the box's paths: under `root` unless it is ``/`` or an
    image is being built."""
    real = Path(root).resolve()
    if image or real == Path("/"):
        return ON_BOX
    return Box(str(real))


# ---------------------------------------------------------------- checks


def _check_rotate(answers: Answers, rotate: set[str], accounts: Collection[Any]) -> None:
    known = {t.id for t in answers.tables} | {a.username for a in accounts}
    unknown = sorted(rotate - known)
    if unknown:
        raise AnswersInvalid(
            "rotate", f"{', '.join(unknown)}: not a table or broker login of this store"
        )


def _menu(tree: Tree, answers: Answers, menu: Path | None) -> tuple[dict[str, Any], str | None]:
    """The menu the hub will load, and its text when the box has none yet (else None)."""
    path = tree.real(f"{ETC}/menu.json")
    text = None
    if path.exists():
        doc = _read_menu(path, "menu.json")
        if menu is not None:
            tree.report.note(f"{ETC}/menu.json exists, so --menu was not used (edit in /admin)")
    else:
        doc = _read_menu(menu, "--menu") if menu is not None else demo_menu()
        doc["store"] = {**doc.get("store", {}), "id": answers.store_id, "name": answers.store_name}
        doc["tables"] = [{"id": t.id, "name": t.name} for t in answers.tables]
        parse_menu(doc)  # MenuInvalid names the field
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    for where, store_id in (("menu.json", doc.get("store", {}).get("id")), *_db_store(tree)):
        if store_id != answers.store_id:
            raise AnswersInvalid(
                "store.id",
                f"'{answers.store_id}' but the box's {where} belongs to store '{store_id}'",
            )
    return doc, text


def _write_menu(tree: Tree, text: str | None) -> None:
    target = f"{ETC}/menu.json"
    tree.write(target, text if text is not None else tree.real(target).read_bytes(), managed=False)


def _templates(answers: Answers, src: Path) -> dict[str, Path]:
    """The ESPHome templates the answers' boards need."""
    folder = src / "firmware_configs" / "esphome"
    found: dict[str, Path] = {}
    for kind in sorted({e.kind for e in answers.esp32}):
        found[kind] = folder / esphome.TEMPLATES[kind]
        if not found[kind].exists():
            raise AnswersInvalid("buttons.esp32", f"no ESPHome template {found[kind]}")
    return found


def _read_menu(path: Path, what: str) -> dict[str, Any]:
    try:
        return read_menu_file(path)  # JSON or TOML; the box keeps it as menu.json
    except MenuInvalid as exc:
        raise AnswersInvalid(what, exc.message) from exc


def _db_store(tree: Tree) -> list[tuple[str, str | None]]:
    db = tree.real(f"{DATA}/tablehub.db")
    if not db.exists():
        return []
    found = tables.store_id(db)
    return [] if found is None else [("store database", found)]


def _check_stations(answers: Answers, menu_doc: dict[str, Any]) -> None:
    menu_stations = [s.get("id") for s in menu_doc.get("stations", [])]
    wanted = [(f"kitchen.stations[{i}]", s) for i, s in enumerate(answers.stations)]
    for i, p in enumerate(answers.printers):
        wanted += [(f"printers[{i}].stations[{j}]", s) for j, s in enumerate(p.stations)]
    wanted += [(f"buttons.gpio[{i}].station", b.station) for i, b in enumerate(answers.gpio_bumps)]
    wanted += [
        (f"buttons.esp32[{i}].station", e.target)
        for i, e in enumerate(answers.esp32)
        if e.kind == "bump-bar"
    ]
    for path, station in wanted:
        if station not in menu_stations:
            raise AnswersInvalid(
                path, f"no station '{station}' in the menu ({', '.join(map(str, menu_stations))})"
            )


# ---------------------------------------------------------------- secrets and versions


def _signing_key(tree: Tree, data: Path) -> bytes:
    """The key the hub signs table tokens with, made here so the QR codes match it."""
    target = f"{DATA}/secret.key"
    existed = tree.real(target).exists()
    key = load_or_create_secret(data)
    raw = tree.real(target).read_bytes()
    tree.write(target, raw, mode=0o600, owner=SERVICE_USER, managed=False)
    if not existed:
        tree.report.changes[-1] = Change(target, "created")
    return key


def _versions(tree: Tree, answers: Answers, rotate: set[str]) -> dict[str, int]:
    v = tables.settle(tree.real(DATA), answers.tables, rotate & {t.id for t in answers.tables})
    target = f"{DATA}/{tables.PENDING}"
    if v.pending is not None:
        tree.write(target, v.pending, mode=0o640, owner=SERVICE_USER, managed=False)
    elif v.remove_pending:
        tree.remove(target)
    if v.db_changes:
        tree.report.changes.append(Change(f"{DATA}/{tables.DB}", "updated"))
    for note in [*v.db_changes, *v.notes]:
        tree.report.note(note)
    return v.versions


def _passwords(
    tree: Tree, accounts: Collection[broker.Account], rotate: set[str]
) -> dict[str, str]:
    """Each login's password: kept from its secret file unless rotated, else a new one."""
    out = {}
    for acc in accounts:
        target = render.secret_path(acc.username)
        path = tree.real(target)
        password = ""
        if path.exists() and acc.username not in rotate:
            password = path.read_text("utf-8").strip()
        out[acc.username] = password or secrets.token_urlsafe(24)
        tree.write(target, out[acc.username] + "\n", mode=0o600, owner=SERVICE_USER)
    return out


# ---------------------------------------------------------------- the files


def _broker_files(
    tree: Tree,
    answers: Answers,
    accounts: Collection[broker.Account],
    passwords: dict[str, str],
    src: Path,
    passwd: broker.Runner | None,
) -> None:
    path = tree.real(MOSQUITTO_PASSWD)
    existing = path.read_text("utf-8") if path.exists() else ""
    text = broker.password_file(existing, passwords, run=passwd or broker.run_passwd)
    tree.write(MOSQUITTO_PASSWD, text, mode=0o600, owner=BROKER_USER)
    tree.write(
        MOSQUITTO_ACL,
        broker.render_acl(answers.store_id, list(accounts)),
        mode=0o640,
        owner=BROKER_USER,
    )
    template = (src / "systemd" / "mosquitto" / "tablehub.conf").read_text("utf-8")
    box = tree.box
    conf = broker.render_conf(
        template,
        local_port=answers.mqtt_port,
        lan_port=answers.lan_port,
        lan_bind=answers.lan_bind,
        password_file=box(MOSQUITTO_PASSWD),
        acl_file=box(MOSQUITTO_ACL),
    )
    tree.write(MOSQUITTO_CONF, conf)
    if box.prefix:  # a rehearsal has no Debian main config to include conf.d/
        tree.mkdir(MOSQUITTO_DATA, mode=0o700)
        main = broker.rehearsal_main_conf(
            conf_d=box(str(Path(MOSQUITTO_CONF).parent)), data=box(MOSQUITTO_DATA)
        )
        tree.write(MOSQUITTO_MAIN, main)


def _cloud(tree: Tree, answers: Answers) -> None:
    if answers.cloud is None:
        return
    tree.write(f"{SECRETS}/cloud-token", answers.cloud.token + "\n", mode=0o600, owner=SERVICE_USER)
    tree.write(f"{ETC}/bridge.toml", render.bridge_toml(answers, tree.box))


def _agents(tree: Tree, answers: Answers, passwords: dict[str, str]) -> None:
    """Configs for the agents that do not run inside the hub."""
    files = {
        p.device: render.printer_agent(answers, p, passwords[p.device], tree.box)
        for p in answers.printers
        if p.remote
    }
    for s in answers.scales:
        if s.remote:
            files[s.device] = render.scale_agent(answers, s, passwords[s.device])
    if answers.gpio_device:
        board, device = answers.gpio_device.removeprefix("buttons-"), answers.gpio_device
        files[device] = render.buttons_agent(answers, board, device, passwords[device])
    if files:
        tree.mkdir(AGENTS)
    for device, text in files.items():
        tree.write(f"{AGENTS}/{device}.toml", text, mode=0o600, owner=SERVICE_USER)


def _esp32(
    tree: Tree, answers: Answers, passwords: dict[str, str], templates: dict[str, Path]
) -> None:
    if not answers.esp32:
        return
    assert answers.wifi is not None
    for template in templates.values():
        tree.write(f"{ETC}/esphome/templates/{template.name}", template.read_bytes())
    for e in answers.esp32:
        folder = f"{ETC}/esphome/{e.id}"
        tree.mkdir(folder, mode=0o700)
        config = f"{folder}/{e.id}.yaml"
        text = esphome.wrapper(
            e, store_id=answers.store_id, lan_port=answers.lan_port, config_path=tree.box(config)
        )
        tree.write(config, text)
        creds = esphome.secrets(
            wifi=answers.wifi,
            broker_host=answers.lan_host,
            username=e.id,
            password=passwords[e.id],
            ota_password=_ota_password(tree, e.id),
        )
        tree.write(f"{folder}/secrets.yaml", creds, mode=0o600)


def _ota_password(tree: Tree, device: str) -> str:
    """A board's OTA password, made once and kept: the board checks an upload against the
    one it was flashed with, so it never changes with --rotate (re-flash over USB for that)."""
    target = f"{SECRETS}/ota-{device}"
    path = tree.real(target)
    password = path.read_text("utf-8").strip() if path.exists() else ""
    password = password or secrets.token_urlsafe(24)
    tree.write(target, password + "\n", mode=0o600, owner=SERVICE_USER)
    return password


def _qr_sheet(tree: Tree, answers: Answers, secret: bytes, versions: dict[str, int]) -> None:
    labels = [
        sheet.Label(
            t.name, f"{answers.public_url}/t/{tokens.sign_table(secret, t.id, versions[t.id])}"
        )
        for t in answers.tables
    ]
    pages = sheet.render_pages(labels, heading=f"{answers.store_name}: scan to order")
    tree.write(f"{ETC}/qr/tables.pdf", sheet.to_pdf(pages, title=f"{answers.store_name} tables"))
    tree.write(f"{ETC}/qr/tables.png", sheet.to_png(pages))


def _units(tree: Tree, answers: Answers, src: Path) -> None:
    for name in UNIT_FILES:
        tree.write(f"{UNITS}/{name}", (src / "systemd" / name).read_bytes())
    groups, netlink = render.hub_groups(answers)
    tree.write(f"{UNITS}/tablehub.service.d/10-devices.conf", render.hub_dropin(groups, netlink))
    if answers.gpio_device:
        target = f"{UNITS}/tablehub-agent@{answers.gpio_device}.service.d/10-tablehub.conf"
        tree.write(target, render.agent_dropin(answers.gpio_device, ("gpio",)))
    target = f"{UNITS}/tablehub-kiosk@.service.d/10-tablehub.conf"
    tree.write(target, render.kiosk_dropin(answers.http_port))


def _next_steps(report: Report, answers: Answers, owners: Owners) -> None:
    changed = set(report.changed)
    for user in sorted(owners.missing):
        report.note(
            f"user '{user}' does not exist: files meant for it stay owned by root; "
            "create it (systemd/README.md) and run provisioning again"
        )
    if any(p.startswith(UNITS) for p in changed):
        report.note("systemctl daemon-reload")
    if changed & {MOSQUITTO_PASSWD, MOSQUITTO_ACL, MOSQUITTO_CONF}:
        report.note("systemctl restart mosquitto   # logins, ACL or listeners changed")
    if f"{ETC}/hub.toml" in changed or f"{DATA}/{tables.DB}" in changed:
        report.note("systemctl restart tablehub   # if it runs: it reads these at start")
    button_agent = f" tablehub-agent@{answers.gpio_device}" if answers.gpio_device else ""
    report.note(f"systemctl enable --now mosquitto tablehub{button_agent}")
    remote = [p.device for p in answers.printers if p.remote]
    remote += [s.device for s in answers.scales if s.remote]
    if remote:
        report.note(
            f"on their own boards: {', '.join(remote)} (copy {AGENTS}/<device>.toml there "
            "and enable tablehub-agent@<device>)"
        )
    if answers.cloud is not None:
        report.note("systemctl enable --now tablehub-bridge")
    if any(p.startswith(f"{ETC}/qr/") for p in changed):
        report.note(f"print {ETC}/qr/tables.pdf and put each code on its table")


def _rehearsal_steps(report: Report, answers: Answers, box: Box) -> None:
    """What to run, in a folder, instead of systemd on a box."""
    changed = set(report.changed)
    report.note(f"mosquitto -c {box(MOSQUITTO_MAIN)}")
    run = f"tablehub run --config {box(f'{ETC}/hub.toml')}"
    if f"{ETC}/hub.toml" in changed or f"{DATA}/{tables.DB}" in changed:
        run += "   # restart it if it runs: it reads these at start"
    report.note(run)
    if answers.gpio_device:
        agent = box(f"{AGENTS}/{answers.gpio_device}.toml")
        report.note(f"python -m devices.agent_runner --config {agent}")
    if answers.cloud is not None:
        report.note(f"tablehub bridge --config {box(f'{ETC}/bridge.toml')}")
    report.note(f"tablehub doctor --config {box(f'{ETC}/hub.toml')}")
