"""An in-process printer configured in hub.toml with an escpos profile, 58 mm paper and Big5
prints that way: the hub's own agents (hub/consumers/agents.py) on a real Mosquitto, a loopback fake
printer decoding the bytes it receives."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from devices.printers.fake import FakeNetworkPrinter, Receipt, decode
from hub.bus import contract
from hub.config import load_config
from hub.consumers.agents import AgentConsumer, build_agents
from hub.ops.mosquitto import Mosquitto

STORE = "demo"


def hub_toml(tmp_path: Path, broker: Mosquitto, printer: FakeNetworkPrinter, pid: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(
        f"""
[store]
data_dir = "{tmp_path / "data"}"

[broker]
host = "127.0.0.1"
port = {broker.port}
client_id = "hub-{pid}"

[[printers]]
id = "{pid}"
address = "{printer.address}"
stations = ["wok"]
profile = "TM-U220"
width = 32
encoding = "big5"
""",
        "utf-8",
    )
    return path


async def until_printed(printer: FakeNetworkPrinter, last_lines: list[str]) -> list[Receipt]:
    """The receipts, once each of `last_lines` ends one (TM-U220 has no cutter to wait for)."""
    async with asyncio.timeout(10):
        while True:
            printed = printer.printed
            ends = [next((x for x in reversed(r.lines) if x.strip()), "") for r in printed]
            if all(any(e.startswith(line) for e in ends) for line in last_lines):
                return printed
            await asyncio.sleep(0.02)


@pytest.fixture
async def agents(
    broker: Mosquitto, tmp_path: Path
) -> AsyncIterator[tuple[str, FakeNetworkPrinter, list[AgentConsumer]]]:
    pid = f"p{uuid.uuid4().hex[:8]}"
    # the fake decodes with the profile and Chinese code the hub.toml names
    with FakeNetworkPrinter(profile="TM-U220", cjk_encoding="big5", dots=384, cols=32) as fake:
        config = load_config(hub_toml(tmp_path, broker, fake, pid))
        running = build_agents(config, STORE)
        tasks = [asyncio.create_task(agent.run(), name=agent.name) for agent in running]
        try:
            yield pid, fake, running
        finally:
            for agent in running:
                await agent.stop()
            _, still = await asyncio.wait(tasks, timeout=5)
            for task in still:
                task.cancel()


async def send(broker: Mosquitto, pid: str, docs: list[dict[str, Any]]) -> None:
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=f"test-{pid}", protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        # the agent subscribes once it is connected; a retained online status says so
        await client.subscribe(contract.device_status(STORE, f"printer-{pid}"), qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                if json.loads(message.payload)["state"] == "online":
                    break
        for i, doc in enumerate(docs):
            payload = json.dumps({"job_id": f"j{i}", "doc": doc})
            await client.publish(contract.printer_jobs(STORE, pid), payload, qos=1)


async def test_profile_width_and_big5_from_hub_toml_reach_the_printer(
    broker: Mosquitto, agents: tuple[str, FakeNetworkPrinter, list[AgentConsumer]]
) -> None:
    pid, fake, _ = agents
    chit = {
        "kind": "kitchen",
        "copy": "ORIGINAL",
        "banner": None,
        "store": "Golden Lantern",
        "station": "wok",
        "table": "T4",
        "number": 7,
        "round": 1,
        "time": "2026-11-22T18:03:11Z",
        "items": [{"qty": 1, "name": "麻婆豆腐", "modifiers": []}],
        "lang": "zh-Hant",
    }
    await send(broker, pid, [{"kind": "test", "printer": pid}, chit])
    test_page, ticket = await until_printed(fake, [" INVERTED", "Golden Lantern"])

    assert "32 columns, 384 dots, TM-U220" in test_page.lines
    # TM-U220 knows only code page 437: no euro sign (the default TM-T88V prints one)
    assert "Latin: café crème brûlée 5,00 ?" in test_page.lines
    assert "encoding: codepage (big5)" in test_page.lines
    assert max(len(line) for line in ticket.lines) <= 32
    assert ticket.find("麻婆豆腐")
    # the bytes on the wire are Big5: read as GB18030 the dish is not there
    raw = [c for c in fake.connections if "麻婆豆腐".encode("big5") in c]
    assert raw, "no connection carried the dish in Big5"
    assert not decode(raw[-1], profile="TM-U220", cjk_encoding="gb18030").find("麻婆豆腐")
