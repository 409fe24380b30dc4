"""Which b-trees a whole run's commits wrote: `python -m bench.walpages ROOT [PROCESS] [--per N]`.

ROOT is a store day's kept directory (`STOREDAY_WRITES=1 python -m bench.storeday --keep`):
the fsync shim then logs the header of every WAL frame a process writes
(`<process>.walpages`: page number, and the database size on a commit's last frame). Frames
are grouped into commits; each page is named by the b-tree it belongs to in the kept store
(`dbstat`; a page freed and reused during the day is named by its last owner). The report:
frames by b-tree (per `--per` orders), and the kinds of commit (the set of b-trees a commit
touched) by how many frames they wrote in all, so the writes a day repeats most show first.
Unlike `bench.walprobe`, this covers every commit of the day: the orders, bumps, print marks,
calls, device statuses, the relay's cursor, all as they came.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

from bench.walprobe import btree_of


def commits(log: Path, wal_suffix: str) -> list[list[int]]:
    """The frames (page numbers) of each commit to the WAL whose path ends with
    `wal_suffix`, in order."""
    out: list[list[int]] = []
    frames: list[int] = []
    for line in log.read_text().splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4 or not parts[3].endswith(wal_suffix):
            continue
        frames.append(int(parts[1]))
        if int(parts[2]) != 0:  # the commit's last frame carries the database's size
            out.append(frames)
            frames = []
    return out


def report(root: Path, process: str, db_name: str, per: int, last: int | None = None) -> str:
    log = root / f"{process}.walpages"
    found = sorted(root.glob(f"{process}/**/{db_name}"))
    if not found:
        raise SystemExit(f"no {db_name} under {root / process}")
    names = btree_of(found[0])
    names[1] = "page 1 (header, schema)"
    done = commits(log, f"/{db_name}-wal")
    if last is not None:  # the run's last commits only (the store day's rush is its last load)
        done = done[-last:]
    frames = collections.Counter(names.get(p, "freelist or gone") for c in done for p in c)
    total = sum(frames.values())
    kinds: collections.Counter[tuple[str, ...]] = collections.Counter()
    kind_frames: collections.Counter[tuple[str, ...]] = collections.Counter()
    for c in done:
        key = tuple(sorted({names.get(p, "?") for p in c} - {"page 1 (header, schema)"}))
        kinds[key] += 1
        kind_frames[key] += len(c)
    lines = [
        f"{db_name}: {len(done)} commits, {total} frames "
        f"({total / max(1, len(done)):.1f} a commit; per {per}: "
        f"{len(done) / per:.2f} commits, {total / per:.1f} frames)",
        "",
        f"| b-tree | frames | per {per} | in commits |",
        "|---|---:|---:|---:|",
    ]
    touched = collections.Counter(names.get(p, "freelist or gone") for c in done for p in set(c))
    for name, n in frames.most_common():
        lines.append(f"| {name} | {n} | {n / per:.2f} | {touched[name]} |")
    lines += ["", f"| kind of commit (b-trees touched) | commits | frames | per {per} |"]
    lines.append("|---|---:|---:|---:|")
    for key, n in kind_frames.most_common(15):
        lines.append(f"| {', '.join(key) or '(none)'} | {kinds[key]} | {n} | {n / per:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.walpages", description=__doc__)
    p.add_argument("root", type=Path)
    p.add_argument("process", nargs="?", default="hub")
    p.add_argument("--db", default="tablehub.db", help="the database file's name")
    p.add_argument("--per", type=int, default=1, help="divide by this many (orders)")
    p.add_argument("--last", type=int, default=None, help="only the run's last this many commits")
    args = p.parse_args(argv)
    print(report(args.root, args.process, args.db, args.per, args.last))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
