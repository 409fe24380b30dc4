"""Run one printer agent from a small TOML file: ``python -m devices.printers --config FILE``.

```toml
store = "demo"                      # topic segment of the store
printer = "grill-1"                 # -> device "printer-grill-1"
address = "tcp://192.0.2.10:9100"   # or usb://04b8:0202, serial:///dev/ttyUSB0?baud=9600,
                                    # or fake:// (a FakeNetworkPrinter in this process)
state_dir = "/var/lib/tablehub/printers"
width = 42                          # 42 (80 mm) or 32 (58 mm) characters
encoding_mode = "codepage"          # or "raster" (printers without a Chinese font)
cjk_encoding = "gb18030"            # codepage mode: gb18030 or big5
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

``--test-print`` prints a test page without MQTT and exits 0, or 1 with the cause.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devices.agent import MqttSettings
from devices.errors import DeviceConfigError
from devices.printers.agent import PrinterAgent, PrinterSettings
from devices.printers.driver import EscposDriver
from devices.printers.fake import FakeNetworkPrinter
from devices.printers.render import PaperProfile

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


def _get(table: dict[str, Any], key: str, typ: type | tuple[type, ...], default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise DeviceConfigError(f"config: '{key}' is required")
        return default
    value = table[key]
    if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
        raise DeviceConfigError(f"config: '{key}' has the wrong type ({type(value).__name__})")
    return value


def load_config(path: Path) -> AgentConfig:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DeviceConfigError(f"config {path}: {exc}") from exc
    m = _get(raw, "mqtt", dict, {})
    password = _get(m, "password", str, None)
    if "password_file" in m:
        password = Path(_get(m, "password_file", str)).read_text().strip()
    mqtt = MqttSettings(
        host=_get(m, "host", str, "127.0.0.1"),
        port=_get(m, "port", int, 1883),
        username=_get(m, "username", str, None),
        password=password,
        client_id=_get(m, "client_id", str, None),
    )
    number = (int, float)
    profile = PaperProfile.for_width(
        _get(raw, "width", int, 42),
        escpos_profile=_get(raw, "profile", str, "TM-T88V"),
        cjk_encoding=_get(raw, "cjk_encoding", str, "gb18030"),
        cjk_font=_get(raw, "cjk_font", str, None),
        timezone=_get(raw, "timezone", str, None),
    )
    settings = PrinterSettings(
        profile=profile,
        encoding_mode=_get(raw, "encoding_mode", str, "codepage"),
        poll_interval=float(_get(raw, "poll_interval", number, 5.0)),
        retry_interval=float(_get(raw, "retry_interval", number, 3.0)),
        max_queue=_get(raw, "max_queue", int, 500),
    )
    return AgentConfig(
        store=_get(raw, "store", str),
        printer=_get(raw, "printer", str),
        address=_get(raw, "address", str),
        state_dir=Path(_get(raw, "state_dir", str)),
        timeout=float(_get(raw, "timeout", number, 3.0)),
        mqtt=mqtt,
        settings=settings,
    )


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
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent.stop)
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
    except (DeviceConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(config, test_print=args.test_print))
    except DeviceConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
