"""Run one scale agent from a small TOML file.

    python -m devices.scales scale.toml [--fake mt-sics] [--log-level INFO]

scale.toml::

    store = "demo"
    scale = "deli-1"                       # scales/deli-1/weight, devices/scale-deli-1/status
    port = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0"
                                           # or "socket://10.0.0.20:4001", a pty, ...
    protocol = "auto"                      # or mettler-8217 | mt-sics | nci-scp01 | cas-22 | yours
    protocols_file = "my-scales.toml"      # optional: the store's own protocols (relative
                                           # paths are relative to this file)
    stable_hold_ms = 1500                  # stable after holding within +-stable_band_g ...
    stable_band_g = 2
    poll_interval = 0.25                   # seconds; default: the protocol's
    heartbeat_s = 5
    line = { bytesize = 8, parity = "N" }  # optional line-setting overrides

    [mqtt]                                 # host, port, username, password, keepalive
    host = "127.0.0.1"

``--fake PROTOCOL`` ignores `port` and runs the agent against a `FakeScale` on a pty
(weight 1234 g), for a demo without a scale.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import tomllib
from pathlib import Path
from typing import Any

from devices.agent import MqttSettings
from devices.scales.agent import ScaleAgent
from devices.scales.fake import FakeScale
from devices.scales.protocols import BUILTIN, ProtocolFileError, load_protocols

_FIELDS = {
    "store",
    "scale",
    "port",
    "protocol",
    "protocols_file",
    "stable_hold_ms",
    "stable_band_g",
    "poll_interval",
    "heartbeat_s",
    "line",
    "mqtt",
}


def agent_from_file(
    path: str | Path, port_url: str | None = None, line: dict[str, Any] | None = None
) -> ScaleAgent:
    """The agent a scale TOML describes; `port_url` and `line` override the file's."""
    path = Path(path)
    try:
        doc: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProtocolFileError(f"{path}: {exc}") from exc
    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        raise ProtocolFileError(f"{path}: unknown field(s) {unknown}")
    protocols = list(BUILTIN)
    if "protocols_file" in doc:
        protocols += load_protocols(path.parent / doc["protocols_file"])
    try:
        return ScaleAgent(
            str(doc["scale"]),
            str(doc["store"]),
            port_url or str(doc["port"]),
            "auto" if port_url else str(doc.get("protocol", "auto")),
            mqtt=MqttSettings.from_dict(doc.get("mqtt", {})),
            stable_hold_ms=int(doc.get("stable_hold_ms", 1500)),
            stable_band_g=int(doc.get("stable_band_g", 2)),
            poll_interval=doc.get("poll_interval"),
            heartbeat_s=float(doc.get("heartbeat_s", 5.0)),
            protocols=protocols,
            line_overrides=line or doc.get("line"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ProtocolFileError):
            raise
        raise ProtocolFileError(f"{path}: {exc!r}") from exc


async def _run(path: str, fake: str | None) -> None:
    with contextlib.ExitStack() as stack:
        if fake:
            scale = stack.enter_context(FakeScale(fake))
            scale.set_weight(1234)
            agent = agent_from_file(path, scale.port, {"bytesize": 8, "parity": "N"})
        else:
            agent = agent_from_file(path)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, agent.stop)
        await agent.run()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m devices.scales", description=__doc__)
    ap.add_argument("config", help="scale TOML file")
    ap.add_argument("--fake", metavar="PROTOCOL", help="run against a FakeScale on a pty")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(_run(args.config, args.fake))


if __name__ == "__main__":
    main()
