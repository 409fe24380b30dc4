"""Run one button board from a TOML file (format: `devices.buttons.config`).

    python -m devices.buttons board.toml [--log-level INFO]

On a laptop set ``GPIOZERO_PIN_FACTORY=mock`` to run without GPIO.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from devices.buttons.agent import ButtonAgent
from devices.buttons.config import BoardFile, ButtonConfigError, load_board
from plumbing.tasks import on_stop_signals


async def _run(board: BoardFile) -> None:
    agent = ButtonAgent(board.store, board.board, board.mqtt)
    on_stop_signals(agent.stop)
    await agent.run()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m devices.buttons", description=__doc__)
    ap.add_argument("config", help="board TOML file")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    try:
        board = load_board(args.config)
    except ButtonConfigError as exc:  # one line: the file, the key, what is allowed
        print(exc, file=sys.stderr)
        sys.exit(2)
    asyncio.run(_run(board))


if __name__ == "__main__":
    main()
