"""`tablehub-agent@<device>` runs `python -m devices.agent_runner` on the TOML provisioning
wrote: the right agent starts, logs in to the written broker with the device's own password,
and reports its printer; a file it cannot place is refused with a clear message."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devices.agent_runner import agent_for, main
from devices.printers.fake import FakeNetworkPrinter
from tests.provision.conftest import WrittenBroker, logged_in, rooted

AGENTS = "etc/tablehub/agents"


def test_the_file_name_picks_the_agent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from devices import agent_runner

    assert agent_for(Path("/x/printer-bar-1.toml")) is agent_runner._printer
    assert agent_for(Path("/x/scale-deli-1.toml")) is agent_runner._scale
    assert agent_for(Path("/x/buttons-gpio.toml")) is agent_runner._buttons
    assert agent_for(Path("/x/printer-.toml")) is None
    assert agent_for(Path("/x/kettle-1.toml")) is None
    assert main(["--config", str(tmp_path / "kettle-1.toml")]) == 2
    assert "must start with one of printer-, scale-, buttons-" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "printer-gone.toml")]) == 2
    assert "no such config file" in capsys.readouterr().err


async def test_a_remote_printer_agent_runs_from_its_written_file(
    provisioned: Path, written_broker: WrittenBroker, tmp_path: Path
) -> None:
    written = provisioned / AGENTS / "printer-bar-1.toml"
    text = rooted(written.read_text(), provisioned)
    with FakeNetworkPrinter() as printer:
        # the box's serial printer and LAN listener, swapped for loopback stand-ins
        text = re.sub(r"(?m)^address = .*$", f'address = "tcp://127.0.0.1:{printer.port}"', text)
        text = re.sub(r"(?m)^port = 1884$", f"port = {written_broker.lan_port}", text)
        text = re.sub(r"(?m)^host = .*$", 'host = "127.0.0.1"', text)
        config = tmp_path / "printer-bar-1.toml"
        config.write_text(text)
        (provisioned / "var/lib/tablehub/agents").mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [sys.executable, "-m", "devices.agent_runner", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            topic = "tablehub/v1/harbour/devices/printer-bar-1/status"
            async with logged_in(written_broker, provisioned, "hub", "test-hub-reader") as hub:
                await hub.subscribe(topic, qos=1)
                seen: list[dict[str, object]] = []
                async with asyncio.timeout(15):
                    async for message in hub.messages:
                        assert isinstance(message.payload, bytes)
                        if message.payload == b"offline":
                            continue
                        state = json.loads(message.payload)
                        seen.append(state)
                        if state.get("state") == "online":
                            break
            assert seen[-1]["state"] == "online", seen
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            # the broker saw the device log in under its own name
            assert "printer-bar-1" in written_broker.log
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=10)
    assert b"Traceback" not in out, out.decode(errors="replace")[-3000:]
