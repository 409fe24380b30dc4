"""Run one printer agent from a small TOML file: ``python -m devices.printers --config FILE``.

```toml
store = "demo"                      # topic segment of the store
printer = "grill-1"                 # -> device "printer-grill-1"
address = "tcp://192.0.2.10:9100"   # or usb://04b8:0202, serial:///dev/ttyUSB0?baud=9600,
                                    # or fake:// (a FakeNetworkPrinter in this process)
state_dir = "/var/lib/tablehub/printers"
width = 42                          # 42 (80 mm) or 32 (58 mm) characters
encoding = "gb18030"                # gb18030 | big5 (the printer's Chinese font) | raster
                                    # (older files: encoding_mode + cjk_encoding, still read)
profile = "TM-T88V"                 # python-escpos capability profile
timezone = "America/New_York"       # optional: times are printed in this zone
timeout = 3.0                       # seconds for connect and each status reply
poll_interval = 5.0
retry_interval = 3.0

[mqtt]
host = "127.0.0.1"
port = 1883
username = "printer-grill-1"
password_file = "/etc/tablehub/printer-grill-1.secret"
```

Any mistake in the file stops the agent (exit 2) with one line naming the key
(`printer.toml: widht: unknown key (did you mean width?)`).
``--test-print`` prints a test page without MQTT and exits 0, or 1 with the cause.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec

from devices.agent import MqttSettings
from devices.config import MqttSection
from devices.errors import DeviceConfigError
from devices.printers.agent import PrinterAgent, PrinterSettings
from devices.printers.config import PaperSettings, paper_problem, printer_settings
from devices.printers.driver import EscposDriver
from devices.printers.fake import FakeNetworkPrinter
from plumbing.settings import SettingsError, fail, load_toml
from plumbing.tasks import on_stop_signals

log = logging.getLogger("tablehub.devices.printer")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    store: str
    printer: str
    address: str
    state_dir: Path
    timeout: float
    mqtt: MqttSettings
    settings: PrinterSettings


class AgentFile(PaperSettings, frozen=True, kw_only=True):
    """The agent's TOML: who it is, where the printer is, and the paper keys every printer
    config shares (`devices.printers.config.PaperSettings`)."""

    store: str
    printer: str
    address: str
    state_dir: str
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 3.0
    poll_interval: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    retry_interval: Annotated[float, msgspec.Meta(gt=0)] = 3.0
    max_queue: Annotated[int, msgspec.Meta(ge=1)] = 500
    mqtt: MqttSection = msgspec.field(default_factory=MqttSection)


def load_config(path: Path) -> AgentConfig:
    """The agent's file; anything wrong is a one-line `DeviceConfigError` naming the key."""
    try:
        raw = load_toml(path, AgentFile)
        return AgentConfig(
            store=raw.store,
            printer=raw.printer,
            address=raw.address,
            state_dir=Path(raw.state_dir),
            timeout=raw.timeout,
            mqtt=raw.mqtt.settings(path),
            settings=_settings(raw, path),
        )
    except SettingsError as exc:
        raise DeviceConfigError(str(exc)) from None


def _settings(raw: AgentFile, path: Path) -> PrinterSettings:
    problem = paper_problem(raw)
    if problem is not None:
        fail(path, (problem[0],), problem[1])
    try:
        return printer_settings(
            raw,
            poll_interval=raw.poll_interval,
            retry_interval=raw.retry_interval,
            max_queue=raw.max_queue,
        )
    except DeviceConfigError as exc:  # an unknown escpos profile or timezone
        fail(path, (), str(exc))


async def _run(config: AgentConfig, *, test_print: bool) -> int:
    fake: FakeNetworkPrinter | None = None
    address = config.address
    if address == "fake://":
        fake = FakeNetworkPrinter(
            dots=config.settings.profile.dots, cols=config.settings.profile.width
        )
        address = fake.start().address
        log.warning("printer %s is a fake printer on %s", config.printer, address)
    driver = EscposDriver(
        address, timeout=config.timeout, profile=config.settings.profile.escpos_profile
    )
    agent = PrinterAgent(
        config.printer,
        config.store,
        driver,
        config.mqtt,
        config.state_dir,
        settings=config.settings,
    )
    try:
        if test_print:
            outcome = await agent.test_print()
            await agent.close()
            print("ok" if outcome.ok else f"failed: {outcome.error}: {outcome.message}")
            return 0 if outcome.ok else 1
        on_stop_signals(agent.stop)
        await agent.run()
        return 0
    finally:
        if fake is not None:
            fake.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devices.printers", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--config", type=Path, required=True, help="the agent's TOML file")
    parser.add_argument("--test-print", action="store_true", help="print a test page and exit")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # python-escpos calls logging.basicConfig() when it is imported
    )
    try:
        config = load_config(args.config)
    except DeviceConfigError as exc:  # one line: the file, the key, what is allowed
        print(exc, file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(config, test_print=args.test_print))
    except DeviceConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
