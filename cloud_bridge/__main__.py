"""`python -m cloud_bridge bridge|cloud-receiver ...`: the same commands `tablehub` has."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cloud_bridge.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloud_bridge", description=__doc__)
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code: int = asyncio.run(args.func(args))
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
