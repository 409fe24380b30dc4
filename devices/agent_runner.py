"""Run the device agent a config file describes: ``python -m devices.agent_runner --config F``.

The systemd unit ``tablehub-agent@<device>.service`` runs this with
``/etc/tablehub/agents/<device>.toml``. The device id (the file's name, as `tablehub
provision` writes it) says which agent runs it:

    printer-<id>   the printer agent   (python -m devices.printers --config F)
    scale-<id>     the scale agent     (python -m devices.scales F)
    buttons-<id>   a GPIO button board (python -m devices.buttons F)

A file named otherwise is refused with exit code 2 and a message naming the prefixes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def _printer(config: Path, log_level: str) -> int:
    from devices.printers.__main__ import main

    return main(["--config", str(config), "--log-level", log_level])


def _scale(config: Path, log_level: str) -> int:
    from devices.scales.__main__ import main

    main([str(config), "--log-level", log_level])
    return 0


def _buttons(config: Path, log_level: str) -> int:
    from devices.buttons.__main__ import main

    main([str(config), "--log-level", log_level])
    return 0


AGENTS: dict[str, Callable[[Path, str], int]] = {
    "printer-": _printer,
    "scale-": _scale,
    "buttons-": _buttons,
}


def agent_for(config: Path) -> Callable[[Path, str], int] | None:
    """The agent that runs the device named by `config`'s file name, if any."""
    device = config.stem
    for prefix, run in AGENTS.items():
        if device.startswith(prefix) and len(device) > len(prefix):
            return run
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devices.agent_runner", description=__doc__)
    ap.add_argument("--config", type=Path, required=True, help="/etc/tablehub/agents/<device>.toml")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    run = agent_for(args.config)
    if run is None:
        print(
            f"error: {args.config.name}: the file name must start with one of "
            f"{', '.join(AGENTS)} followed by the device id",
            file=sys.stderr,
        )
        return 2
    if not args.config.is_file():
        print(f"error: {args.config}: no such config file", file=sys.stderr)
        return 2
    return run(args.config, args.log_level.upper())


if __name__ == "__main__":
    sys.exit(main())
