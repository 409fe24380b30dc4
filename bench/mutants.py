"""Named mutants: break one invariant on purpose and check that the tests named for it fail.

    python -m bench.mutants [--short] [--only NAME,...] [--report docs/mutants.md]
    python -m bench.mutants --only NAME --tests tests/integration   # which tests kill it?

Each mutant in `bench/mutants.toml` is a file, an exact snippet of it, the snippet's
replacement and its killer tests (pytest node ids). The runner copies the tree (the files git
knows, as they are in the working tree) into a temporary directory, checks that the killers
pass there unmutated, then for each mutant makes a fresh copy, replaces the snippet and runs
the killers with this interpreter, `PYTHONPATH` pointing at the copy (so the tests and every
process they start import the mutated code, not the tree installed in the virtual environment).

A mutant is KILLED when one of its killers fails, SURVIVED when all pass. A snippet that is not
in its file exactly once stops the run before anything is tested ("no longer applies"). The exit
status is non-zero if a mutant survives, does not apply, or its run times out, or if the
killers fail on the unmutated tree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOML = REPO / "bench" / "mutants.toml"
RUN_TIMEOUT_S = 900.0
WHY_CHARS = 200
PROBE_ENV = "TABLEHUB_MUTANT_PROBE"
# appended to the copy's packages for the unmutated run: each process that imports them from
# the copy says so, which shows that the hubs the tests start run the copy's code too
PROBE = (
    "\nimport os as _probe_os\n"
    f"if _probe_os.environ.get({PROBE_ENV!r}):\n"
    f"    with open(_probe_os.environ[{PROBE_ENV!r}], 'a') as _probe_out:\n"
    "        _probe_out.write(f'{_probe_os.getpid()} {__file__}\\n')\n"
)
PROBED = ("hub/__init__.py", "cloud_bridge/__init__.py")


class MutantError(Exception):
    """The mutants file or the tree is not what the runner needs; the message says why."""


@dataclass(frozen=True, slots=True)
class Mutant:
    name: str
    invariant: str
    file: str
    find: str
    replace: str
    killers: tuple[str, ...]
    short: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    mutant: Mutant
    verdict: str  # KILLED | SURVIVED | TIMEOUT | ERROR
    killed_by: tuple[str, ...]
    seconds: float
    detail: str = ""


def load(path: Path = TOML) -> list[Mutant]:
    doc = tomllib.loads(path.read_text("utf-8"))
    out = []
    for i, m in enumerate(doc.get("mutant", [])):
        missing = {"name", "invariant", "file", "find", "replace", "killers"} - m.keys()
        if missing:
            raise MutantError(f"{path.name}: mutant #{i + 1} lacks {', '.join(sorted(missing))}")
        out.append(
            Mutant(
                m["name"],
                m["invariant"].strip(),
                m["file"],
                m["find"],
                m["replace"],
                tuple(m["killers"]),
                bool(m.get("short", False)),
            )
        )
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise MutantError(f"{path.name}: mutant names repeat")
    return out


def check_applies(mutants: list[Mutant], root: Path) -> list[str]:
    """Every mutant's snippet is in its file exactly once; the problems otherwise."""
    problems = []
    for m in mutants:
        path = root / m.file
        text = path.read_text("utf-8") if path.exists() else None
        count = 0 if text is None else text.count(m.find)
        if count != 1:
            where = "file is gone" if text is None else f"snippet found {count} times"
            problems.append(
                f"mutant {m.name} no longer applies ({m.file}: {where}): update bench/mutants.toml"
            )
    return problems


def tree_files(root: Path) -> list[str]:
    """The files git knows (tracked, and new ones not ignored), as paths relative to root."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [p for p in out.split("\0") if p and (root / p).is_file()]


def copy_tree(root: Path, files: list[str], dest: Path) -> None:
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)


def mutate(copy: Path, m: Mutant) -> None:
    path = copy / m.file
    text = path.read_text("utf-8").replace(m.find, m.replace, 1)
    try:
        compile(text, m.file, "exec")  # a typo in the mutants file is not a kill
    except SyntaxError as exc:
        raise MutantError(f"mutant {m.name} does not compile: {exc}") from exc
    path.write_text(text, "utf-8")


@dataclass(frozen=True, slots=True)
class TestRun:
    returncode: int | None  # None: timed out
    failed: tuple[str, ...]
    why: str  # the first failure's message, on one line
    seconds: float
    output: str


def run_tests(copy: Path, tests: list[str], *, stop_first: bool, env: dict[str, str]) -> TestRun:
    """The tests on the copy, with this interpreter; which of them failed (junit XML)."""
    junit = copy / ".mutant-junit.xml"
    cmd = [sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider"]
    cmd += [f"--junitxml={junit}", "--rootdir", str(copy)]
    if stop_first:
        cmd.append("-x")
    child_env = dict(os.environ, **env, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            cmd,
            cwd=copy,
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: a timeout stops the hubs it started too
        )
        try:
            code: int | None = proc.wait(RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
        out.seek(0)
        output = out.read().decode(errors="replace")
    failed, why = _failed(junit)
    return TestRun(code, failed, why, time.monotonic() - started, output)


def _failed(junit: Path) -> tuple[tuple[str, ...], str]:
    """The node ids of the failed tests and the first one's message (junit XML)."""
    if not junit.exists():
        return (), ""
    failed, why = [], ""
    for case in ET.parse(junit).getroot().iter("testcase"):
        bad = case.find("failure")
        bad = bad if bad is not None else case.find("error")
        if bad is None:
            continue
        module = case.get("classname", "").replace(".", "/")
        failed.append(f"{module}.py::{case.get('name')}")
        if not why:
            why = " ".join(bad.get("message", "").split())
    return tuple(failed), why[:WHY_CHARS]


def baseline(root: Path, files: list[str], tests: list[str], work: Path) -> str:
    """The killers pass on the unmutated copy, and the processes they start import from it."""
    copy = work / "unmutated"
    copy_tree(root, files, copy)
    for rel in PROBED:
        with (copy / rel).open("a", encoding="utf-8") as f:
            f.write(PROBE)
    probe = work / "imports.txt"
    run = run_tests(copy, tests, stop_first=False, env={PROBE_ENV: str(probe)})
    if run.returncode != 0:
        tail = "\n".join(run.output.splitlines()[-40:])
        raise MutantError(
            f"the killer tests fail on the unmutated tree ({', '.join(run.failed) or 'see'}"
            f" below); fix them first:\n{tail}"
        )
    lines = probe.read_text().splitlines() if probe.exists() else []
    pids = {ln.split(" ", 1)[0] for ln in lines}
    outside = [ln for ln in lines if not ln.split(" ", 1)[1].startswith(str(copy))]
    if not pids or outside:
        raise MutantError(f"the tests imported the packages from outside the copy: {outside}")
    if any(t.startswith("tests/durability") for t in tests) and len(pids) < 2:
        raise MutantError("the hub processes the durability tests start did not import the copy")
    return (
        f"unmutated: {len(tests)} killer test(s) pass in {run.seconds:.0f} s; "
        f"{len(pids)} processes imported the copy's code"
    )


def run_mutant(root: Path, files: list[str], m: Mutant, work: Path, tests: list[str]) -> Outcome:
    copy = work / m.name
    copy_tree(root, files, copy)
    mutate(copy, m)
    explore = list(tests) != list(m.killers)
    run = run_tests(copy, tests, stop_first=not explore, env={})
    shutil.rmtree(copy, ignore_errors=True)
    if run.returncode is None:
        return Outcome(m, "TIMEOUT", (), run.seconds, f"no result in {RUN_TIMEOUT_S:.0f} s")
    if run.returncode == 0:
        return Outcome(m, "SURVIVED", (), run.seconds)
    if not run.failed:  # pytest itself failed (a bad node id, an internal error): no verdict
        tail = " | ".join(run.output.strip().splitlines()[-3:])
        return Outcome(m, "ERROR", (), run.seconds, f"pytest exited {run.returncode}: {tail}")
    return Outcome(m, "KILLED", run.failed, run.seconds, run.why)


def report(outcomes: list[Outcome], header: str, total_s: float) -> str:
    lines = [
        "# Mutants",
        "",
        "Written by `make mutants` (`python -m bench.mutants`, mutants in `bench/mutants.toml`).",
        "Each mutant breaks one invariant on purpose in a copy of the tree; the tests named for",
        "it must fail. KILLED names the test that failed first and how it failed.",
        "",
        "- Add a mutant: a `[[mutant]]` in `bench/mutants.toml` with the file, an exact snippet",
        "  (found there once), its replacement and the killer tests; `short = true` puts it in",
        "  the CI cut (`make mutants-short`).",
        "- Which tests kill a mutant? `python -m bench.mutants --only NAME --tests tests/...`",
        "  runs those tests on the mutated copy and lists every one that fails.",
        '- A refactor that moves a snippet stops the run: "mutant NAME no longer applies".',
        "",
        f"{header}; all {len(outcomes)} mutants in {total_s:.0f} s.",
        "",
        "| mutant | file | invariant it breaks | result | killed by | how it failed | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        by = "<br>".join(f"`{k}`" for k in o.killed_by) or "—"
        invariant = " ".join(o.mutant.invariant.split())
        why = o.detail.replace("|", "\\|") or "—"
        lines.append(
            f"| `{o.mutant.name}` | `{o.mutant.file}` | {invariant} | {o.verdict} | {by} "
            f"| {why} | {o.seconds:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.mutants", description=__doc__.split("\n")[0])
    ap.add_argument("--short", action="store_true", help="only the mutants marked short (CI)")
    ap.add_argument("--only", default="", help="comma-separated mutant names")
    ap.add_argument("--tests", nargs="*", help="run these tests instead of the killers, all")
    ap.add_argument("--report", type=Path, help="write the results as markdown here")
    args = ap.parse_args(argv)
    started = time.monotonic()
    try:
        mutants = load()
        problems = check_applies(mutants, REPO)
        if problems:
            raise MutantError("\n".join(problems))
        if args.only:
            wanted = set(args.only.split(","))
            unknown = wanted - {m.name for m in mutants}
            if unknown:
                raise MutantError(f"no mutant named {', '.join(sorted(unknown))}")
            mutants = [m for m in mutants if m.name in wanted]
        elif args.short:
            mutants = [m for m in mutants if m.short]
        files = tree_files(REPO)
        with tempfile.TemporaryDirectory(prefix="tablehub-mutants-") as tmp:
            work = Path(tmp)
            killers = sorted({k for m in mutants for k in (args.tests or m.killers)})
            header = baseline(REPO, files, killers, work)
            print(header, flush=True)
            outcomes = []
            for m in mutants:
                o = run_mutant(REPO, files, m, work, list(args.tests or m.killers))
                by = ", ".join(o.killed_by) or "-"
                print(f"{o.verdict:8} {m.name:26} {o.seconds:4.0f} s  {by}", flush=True)
                if o.detail:
                    print(f"{'':8} {'':26} {'':6}  {o.detail}", flush=True)
                outcomes.append(o)
    except MutantError as exc:
        print(f"mutants: {exc}", file=sys.stderr)
        return 2
    total = time.monotonic() - started
    bad = [o for o in outcomes if o.verdict != "KILLED"]
    print(f"{len(outcomes) - len(bad)} of {len(outcomes)} mutants killed in {total:.0f} s")
    if args.report and not args.tests:
        args.report.write_text(report(outcomes, header, total), "utf-8")
        print(f"wrote {args.report}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
