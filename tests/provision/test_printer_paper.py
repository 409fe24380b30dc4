"""Chinese printers from the answers file: profile, paper width and encoding (gb18030 | big5
| raster) for a printer inside the hub and for one on another board, refused with the key
named when they cannot work; and a hand edit of a written file kept when provisioning
rewrites it."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from devices.printers import __main__ as printer_agent
from devices.printers.fake import FakeNetworkPrinter, decode
from hub.app import running_hub
from hub.config import load_config
from hub.provision.render import key, value
from tests.provision.conftest import ANSWERS, WrittenBroker, logged_in, run_provision
from tests.provision.test_client_ids import hub_toml_with_printer
from tests.waiting import DEADLINE, until

BASE = "tablehub/v1/harbour"
DISH = "麻婆豆腐"


def chinese_answers() -> dict[str, Any]:
    doc = copy.deepcopy(ANSWERS)
    doc["printers"][0].update(profile="TM-U220", width=32, encoding="big5")  # in the hub
    doc["printers"][2].update(encoding="raster")  # on the bar's board
    return doc


def toml(doc: dict[str, Any], prefix: str = "") -> str:
    """An answers document as a TOML file (tables, arrays of tables, values)."""
    plain = [f"{key(k)} = {value(v)}" for k, v in doc.items() if not _nested(v)]
    out = ["\n".join(plain)] if plain else []
    for k, v in doc.items():
        name = f"{prefix}{key(k)}"
        if isinstance(v, dict):
            out.append(f"[{name}]\n" + toml(v, f"{name}."))
        elif _nested(v):
            out += [f"[[{name}]]\n" + toml(item, f"{name}.") for item in v]
    return "\n\n".join(out) + "\n"


def _nested(v: Any) -> bool:
    return isinstance(v, dict) or (isinstance(v, list) and bool(v) and isinstance(v[0], dict))


def provision_cli(root: Path, doc: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    answers = root.parent / "answers.toml"
    answers.write_text(toml(doc))
    argv = [sys.executable, "-m", "hub", "provision", "--answers", str(answers)]
    return subprocess.run(
        [*argv, "--root", str(root), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def online(broker: WrittenBroker, root: Path, device: str) -> None:
    """Until `device`'s retained status says online (an agent subscribes before that)."""
    async with logged_in(broker, root, "doctor", "doctor") as client:
        await client.subscribe(f"{BASE}/devices/{device}/status", qos=1)
        async with asyncio.timeout(DEADLINE):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                if json.loads(message.payload)["state"] == "online":
                    return


def test_printer_paper_keys_reach_both_kinds_of_agent(tmp_path: Path) -> None:
    root = tmp_path / "root"
    done = provision_cli(root, chinese_answers())
    assert done.returncode == 0, done.stderr
    config = load_config(root / "etc/tablehub/hub.toml")
    grill = next(p for p in config.printers if p.id == "grill-1")
    assert (grill.paper.profile, grill.paper.width, grill.paper.cjk) == ("TM-U220", 32, "big5")
    wok = next(p for p in config.printers if p.id == "wok-1")
    assert (grill.paper.mode, wok.paper.encoding) == ("codepage", "codepage")  # defaults
    bar = printer_agent.load_config(root / "etc/tablehub/agents/printer-bar-1.toml")
    assert bar.settings.encoding_mode == "raster"


def test_a_printer_paper_key_that_cannot_work_is_refused_naming_it(tmp_path: Path) -> None:
    for name, bad, says in [
        ("encoding", "shift-jis", "must be one of"),
        ("profile", "TM-NOPE", "unknown python-escpos profile"),
        ("width", 42, "TM-U220 prints"),  # with profile TM-U220: 42 columns do not fit
    ]:
        doc = chinese_answers()
        doc["printers"][0][name] = bad
        done = provision_cli(tmp_path / name, doc)
        assert done.returncode == 2, done.stdout
        assert f"[printers[0]] {name}" in done.stderr or f"printers[0].{name}" in done.stderr, (
            done.stderr
        )
        assert says in done.stderr
        assert not (tmp_path / name / "etc").exists()  # nothing written


async def test_big5_from_the_answers_prints_big5_from_the_hub(
    tmp_path: Path, written_broker: WrittenBroker
) -> None:
    root = written_broker.root
    run_provision(root, chinese_answers())  # over the fixture's box: grill-1 now Big5
    with FakeNetworkPrinter(profile="TM-U220", cjk_encoding="big5", dots=384, cols=32) as fake:
        toml = hub_toml_with_printer(root, written_broker, fake.address, tmp_path / "hub.toml")
        async with running_hub(load_config(toml)) as hub:
            assert hub.bus is not None
            chit = {
                "kind": "kitchen",
                "copy": "ORIGINAL",
                "banner": None,
                "store": "Golden Lantern",
                "station": "grill",
                "table": "T4",
                "number": 7,
                "round": 1,
                "time": "2026-11-22T18:03:11Z",
                "items": [{"qty": 1, "name": DISH, "modifiers": []}],
                "lang": "zh-Hant",
            }
            await online(written_broker, root, "printer-grill-1")  # subscribed by then
            # only the hub's login may send jobs (and it is the hub's own session)
            job = json.dumps({"job_id": "big5-1", "doc": chit}).encode()
            await hub.bus.publish(f"{BASE}/printers/grill-1/jobs", job)
            await until(lambda: any(r.find(DISH) for r in fake.printed), "the dish on paper")
    raw = [c for c in fake.connections if DISH.encode("big5") in c]
    assert raw, "no connection carried the dish in Big5"
    assert not decode(raw[-1], profile="TM-U220", cjk_encoding="gb18030").find(DISH)


def test_a_hand_edit_is_kept_beside_the_rewritten_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    doc = chinese_answers()
    assert provision_cli(root, doc).returncode == 0
    hub_toml = root / "etc/tablehub/hub.toml"
    edited = hub_toml.read_text() + "\n[kitchen]\nscreen_silent_after_seconds = 45\n"
    hub_toml.write_text(edited)
    doc["http"]["port"] = 8081  # a change that rewrites hub.toml
    done = provision_cli(root, doc)
    assert done.returncode == 0, done.stderr
    kept = list(hub_toml.parent.glob("hub.toml.edited-*"))
    assert len(kept) == 1
    assert kept[0].read_text() == edited
    assert "port = 8081" in hub_toml.read_text()
    assert "screen_silent_after_seconds" not in hub_toml.read_text()
    assert "/etc/tablehub/hub.toml was edited by hand" in done.stdout
    assert kept[0].name in done.stdout
    # a file nobody edited is rewritten without a copy; a run that changes nothing keeps none
    assert not list(root.glob("etc/tablehub/agents/*.edited-*"))
    again = provision_cli(root, doc)
    assert again.returncode == 0
    assert "edited by hand" not in again.stdout
    assert len(list(hub_toml.parent.glob("hub.toml.edited-*"))) == 1
