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
import sys
from pathlib import Path
from typing import Annotated, Any

import msgspec

from devices.config import MqttSection, read_agent_file
from devices.scales.agent import ScaleAgent
from devices.scales.fake import FakeScale
from devices.scales.protocols import BUILTIN, ProtocolFileError, load_protocols
from plumbing.settings import Settings
from plumbing.tasks import on_stop_signals


class ScaleFile(Settings, frozen=True, kw_only=True):
    """The scale agent's TOML, every key it reads."""

    store: str
    scale: str
    port: str
    protocol: str = "auto"
    protocols_file: str | None = None
    stable_hold_ms: Annotated[int, msgspec.Meta(ge=0)] = 1500
    stable_band_g: Annotated[int, msgspec.Meta(ge=0)] = 2
    poll_interval: Annotated[float, msgspec.Meta(gt=0)] | None = None
    heartbeat_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    line: dict[str, int | float | str | bool] | None = None
    mqtt: MqttSection = msgspec.field(default_factory=MqttSection)


def agent_from_file(
    path: str | Path, port_url: str | None = None, line: dict[str, Any] | None = None
) -> ScaleAgent:
    """The agent a scale TOML describes; `port_url` and `line` override the file's. Any
    mistake in the file is a `ProtocolFileError` of one line naming the key."""
    path = Path(path)
    raw, mqtt = read_agent_file(path, ScaleFile, ProtocolFileError)
    protocols = list(BUILTIN)
    if raw.protocols_file is not None:
        protocols += load_protocols(path.parent / raw.protocols_file)
    try:
        return ScaleAgent(
            raw.scale,
            raw.store,
            port_url or raw.port,
            "auto" if port_url else raw.protocol,
            mqtt=mqtt,
            stable_hold_ms=raw.stable_hold_ms,
            stable_band_g=raw.stable_band_g,
            poll_interval=raw.poll_interval,
            heartbeat_s=raw.heartbeat_s,
            protocols=protocols,
            line_overrides=line or raw.line,
        )
    except (TypeError, ValueError) as exc:  # the agent's own checks (a protocol name, ...)
        raise ProtocolFileError(f"{path}: {exc}") from None


async def _run(path: str, fake: str | None) -> None:
    with contextlib.ExitStack() as stack:
        if fake:
            scale = stack.enter_context(FakeScale(fake))
            scale.set_weight(1234)
            agent = agent_from_file(path, scale.port, {"bytesize": 8, "parity": "N"})
        else:
            agent = agent_from_file(path)
        on_stop_signals(agent.stop)
        await agent.run()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m devices.scales", description=__doc__)
    ap.add_argument("config", help="scale TOML file")
    ap.add_argument("--fake", metavar="PROTOCOL", help="run against a FakeScale on a pty")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    try:
        agent_from_file(args.config)  # a bad file stops here: one line, exit 2
    except ProtocolFileError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    asyncio.run(_run(args.config, args.fake))


if __name__ == "__main__":
    main()
