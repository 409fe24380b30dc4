"""Where a process's written bytes go, file by file: `python -m bench.writes ROOT [PROCESS]`.

ROOT is a store day's kept directory (`STOREDAY_WRITES=1 python -m bench.storeday --no-day
--keep`: each process then logs every pwrite beside its fsyncs, `<process>.writes` and
`<process>.fsync`). A 4 KB page of a file counts once from its first write after that file's
last fsync until the next (what the page cache sends to the disk, as `write_bytes` counts
it); *raw* is the bytes handed to pwrite. The log itself is written by the process, so a run
with it on is a probe, not the measurement: the store day's figures come from a run without.
"""

from __future__ import annotations

import argparse
import collections
import os
from pathlib import Path

PAGE = 4096


def attribute(
    root: Path, process: str, last_s: float | None = None
) -> list[tuple[str, int, int, int, int]]:
    """(file, bytes as 4 KB pages, raw bytes, pwrites, fsyncs) per file, most written first;
    with `last_s`, only what the process did in the last `last_s` seconds of its logs (the
    store day's rush at real speed is its last load)."""
    events: list[tuple[int, int, int, int, str]] = []
    for line in (root / f"{process}.writes").read_text().splitlines():
        f = line.split(" ", 3)
        events.append((int(f[0]), 0, int(f[1]), int(f[2]), f[3]))
    fsyncs = root / f"{process}.fsync"
    if fsyncs.exists():
        for line in fsyncs.read_text().splitlines():
            parts = line.split(" ", 5)
            events.append((int(parts[0]), 1, 0, 0, parts[5]))
    events.sort()
    if last_s is not None and events:
        since = events[-1][0] - int(last_s * 1e9)
        events = [e for e in events if e[0] >= since]
    dirty: dict[str, set[int]] = collections.defaultdict(set)
    pages: collections.Counter[str] = collections.Counter()
    raw: collections.Counter[str] = collections.Counter()
    writes: collections.Counter[str] = collections.Counter()
    syncs: collections.Counter[str] = collections.Counter()
    for _, kind, off, count, path in events:
        name = os.path.basename(path)
        if kind == 1:
            dirty[path].clear()
            syncs[name] += 1
            continue
        raw[name] += count
        writes[name] += 1
        for page in range(off // PAGE, (off + count - 1) // PAGE + 1):
            if page not in dirty[path]:
                dirty[path].add(page)
                pages[name] += 1
    return [(n, p * PAGE, raw[n], writes[n], syncs[n]) for n, p in pages.most_common()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.writes", description=__doc__)
    p.add_argument("root", type=Path)
    p.add_argument("process", nargs="?", default="hub")
    p.add_argument("--per", type=int, default=1, help="divide by this many (orders)")
    p.add_argument("--last", type=float, default=None, help="only the last this many seconds")
    args = p.parse_args(argv)
    rows = attribute(args.root, args.process, args.last)
    total = sum(r[1] for r in rows)
    print(f"all files: {total / 1024 / args.per:.1f} KB (per {args.per})")
    print("| file | KB as pages | raw KB | pwrites | fsyncs |")
    print("|---|---:|---:|---:|---:|")
    for name, paged, raw, writes, syncs in rows[:12]:
        per = args.per
        print(
            f"| {name} | {paged / 1024 / per:.1f} | {raw / 1024 / per:.1f} | "
            f"{writes / per:.1f} | {syncs / per:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
