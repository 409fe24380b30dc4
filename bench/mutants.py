"""Named mutants: break one invariant on purpose and check that the tests named for it fail.

    python -m bench.mutants [--short] [--only NAME,...] [--report docs/mutants.md]
    python -m bench.mutants --only NAME --tests tests/integration   # which tests kill it?
    python -m bench.mutants --faults [--only NAME,...] [--report docs/mutants.md]
    python -m bench.mutants --faults --try hub-kill,disk-full       # which faults kill it?

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

`--faults` uses the second kind of killer: the faults of the fault suite a mutant lists
(`faults = [...]`). Each is one short run, `python -m bench.chaos --short --reps 1 --only
FAULT`, in the mutated copy (the same `PYTHONPATH`, so the hubs, bridges and load generators
the suite starts run the mutated code); the suite's exit status is the verdict: non-zero is
KILLED, with the suite's reason line, 0 is SURVIVED. Every fault first runs once on the
unmutated copy and must pass. `--try FAULT,...` (or `all`) runs those faults instead of the
listed ones and records each result, a survival included, without failing on it. Every
result goes into bench/results/mutants-faults.json (the latest per mutant and fault, with its
date), from which docs/mutants.md and docs/reliability.md ("Which mutants each fault kills",
`bench.chaos_report`) take their fault tables.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
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
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TOML = REPO / "bench" / "mutants.toml"
RUN_TIMEOUT_S = 900.0
FAULT_TIMEOUT_S = 600.0  # one short fault run takes 15-60 s
STOP_GRACE_S = 60.0  # after SIGINT: the suite unmounts its small disk and stops its children
FAULTS_JSON = REPO / "bench" / "results" / "mutants-faults.json"
FAULTS_HEADING = "## Faults that kill each mutant"
WHY_CHARS = 200
PROBE_ENV = "TABLEHUB_MUTANT_PROBE"
# appended to the copy's packages for the unmutated run: each process that imports them from
# the copy says so, which shows that the hubs the tests start run the copy's code too
PROBE = (
    "\nimport os as _probe_os\n"
    f"if _probe_os.environ.get({PROBE_ENV!r}):\n"
    f"    with open(_probe_os.environ[{PROBE_ENV!r}], 'a') as _probe_out:\n"
    "        _probe_argv = ' '.join(__import__('sys').argv)\n"
    "        _probe_out.write(f'{_probe_os.getpid()} {__file__} {_probe_argv}\\n')\n"
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
    faults: tuple[str, ...] = ()
    # further (find, replace) edits of the same file, for an invariant checked in two places
    also: tuple[tuple[str, str], ...] = ()

    @property
    def edits(self) -> tuple[tuple[str, str], ...]:
        return ((self.find, self.replace), *self.also)


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
                tuple(m.get("faults", ())),
                tuple((e["find"], e["replace"]) for e in m.get("also", ())),
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
        for find, _ in m.edits:
            count = 0 if text is None else text.count(find)
            if count != 1:
                where = "file is gone" if text is None else f"snippet found {count} times"
                problems.append(
                    f"mutant {m.name} no longer applies ({m.file}: {where}): "
                    "update bench/mutants.toml"
                )
                break
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
    text = path.read_text("utf-8")
    for find, replace in m.edits:
        text = text.replace(find, replace, 1)
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
    started = time.monotonic()
    code, output, _pid = run_in_copy(copy, cmd, env, RUN_TIMEOUT_S)
    failed, why = _failed(junit)
    return TestRun(code, failed, why, time.monotonic() - started, output)


def run_in_copy(
    copy: Path, cmd: list[str], env: dict[str, str], timeout: float
) -> tuple[int | None, str, int]:
    """`cmd` in the copy, importing from it: its exit status (None: timed out), its output
    and its pid."""
    child_env = dict(os.environ, **env, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
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
            code: int | None = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _stop_group(proc)
            code = None
        out.seek(0)
        output = out.read().decode(errors="replace")
    return code, output, proc.pid


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT first (the fault suite's cleanup unmounts its small disk), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(STOP_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


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


# ---------------------------------------------------------------- faults as killers


@dataclass(frozen=True, slots=True)
class FaultRun:
    mutant: str  # "" on the unmutated copy
    fault: str
    verdict: str  # KILLED | SURVIVED | TIMEOUT | ERROR (PASS | FAIL on the unmutated copy)
    reason: str  # the suite's reason line for a failure, or what went wrong
    seconds: float
    pid: int
    output: str


def fault_command(fault: str) -> list[str]:
    """The shortest run of one fault the suite offers: --short, one repetition."""
    return [sys.executable, "-m", "bench.chaos", "--short", "--reps", "1", "--only", fault]


def run_fault(copy: Path, mutant: str, fault: str, env: dict[str, str]) -> FaultRun:
    """One fault on the copy; its verdict from the suite's exit status."""
    started = time.monotonic()
    code, output, pid = run_in_copy(copy, fault_command(fault), env, FAULT_TIMEOUT_S)
    seconds = time.monotonic() - started
    reason = fail_reason(output, fault)
    if code is None:
        verdict, reason = "TIMEOUT", f"no verdict in {FAULT_TIMEOUT_S:.0f} s"
    elif code == 0:
        verdict = "SURVIVED"
    elif code == 1 and reason:
        verdict = "KILLED"
    else:  # a crash of the suite itself is no verdict on the mutant
        verdict = "ERROR"
        reason = f"exited {code}: " + " | ".join(output.strip().splitlines()[-3:])
    return FaultRun(mutant, fault, verdict, reason[: WHY_CHARS * 2], seconds, pid, output)


def rep_lines(output: str, fault: str) -> list[str]:
    """The suite's line per repetition ("acked=... lost=... pass"): what it saw."""
    mark = f"chaos: {fault} #"
    return [ln[len("chaos: ") :].strip() for ln in output.splitlines() if ln.startswith(mark)]


def fail_reason(output: str, fault: str) -> str:
    """The suite's verdict line for `fault` when it failed ("chaos: FAULT: FAIL: why")."""
    mark = f"chaos: {fault}: FAIL: "
    for line in output.splitlines():
        if line.startswith(mark):
            return line[len(mark) :].strip()
    return ""


def fault_baseline(root: Path, files: list[str], faults: list[str], work: Path) -> list[FaultRun]:
    """Each fault passes on the unmutated copy, and the hubs it starts import the copy."""
    copy = work / "unmutated-faults"
    copy_tree(root, files, copy)
    for rel in PROBED:
        with (copy / rel).open("a", encoding="utf-8") as f:
            f.write(PROBE)
    runs = []
    for fault in faults:
        probe = work / f"imports-{fault}.txt"
        run = run_fault(copy, "", fault, {PROBE_ENV: str(probe)})
        if run.verdict != "SURVIVED":
            tail = "\n".join(run.output.splitlines()[-20:])
            raise MutantError(
                f"fault {fault} fails on the unmutated tree ({run.verdict}: {run.reason});"
                f" fix it first:\n{tail}"
            )
        hubs = _probed_hubs(probe, copy, run.pid)
        print(
            f"unmutated: {fault} passes in {run.seconds:.0f} s; {hubs} hub processes "
            "imported the copy's code",
            flush=True,
        )
        runs.append(
            FaultRun(
                "",
                fault,
                "PASS",
                f"{hubs} hub processes ran the copy's code",
                run.seconds,
                run.pid,
                run.output,
            )
        )
    return runs


def _probed_hubs(probe: Path, copy: Path, suite_pid: int) -> int:
    """How many hub processes the suite started imported the copy; raises if none did, or
    if any process imported the packages from elsewhere."""
    lines = probe.read_text().splitlines() if probe.exists() else []
    outside = [ln for ln in lines if not ln.split(" ", 2)[1].startswith(str(copy))]
    if outside:
        raise MutantError(f"the fault suite imported the packages from outside the copy: {outside}")
    hubs = {
        ln.split(" ", 1)[0]
        for ln in lines
        if "run --config" in ln and " bridge " not in ln and ln.split(" ", 1)[0] != str(suite_pid)
    }
    if not hubs:
        raise MutantError(f"no hub process the fault suite started imported the copy: {lines}")
    return len(hubs)


def run_mutant_faults(
    root: Path, files: list[str], m: Mutant, work: Path, faults: list[str]
) -> list[FaultRun]:
    """The faults, one after another, on one mutated copy."""
    copy = work / m.name
    copy_tree(root, files, copy)
    mutate(copy, m)
    runs = []
    for fault in faults:
        run = run_fault(copy, m.name, fault, {})
        print(
            f"{run.verdict:8} {m.name:26} {fault:16} {run.seconds:4.0f} s  {run.reason}", flush=True
        )
        runs.append(run)
    shutil.rmtree(copy, ignore_errors=True)
    return runs


def record_faults(runs: list[FaultRun], command: str, path: Path = FAULTS_JSON) -> dict[str, Any]:
    """Merge these results into the record (the latest per mutant and fault) and write it."""
    doc: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    doc.setdefault("baseline", {})
    doc.setdefault("runs", {})
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    for r in runs:
        entry = {
            "verdict": r.verdict,
            "reason": r.reason,
            "repetitions": rep_lines(r.output, r.fault),
            "seconds": round(r.seconds, 1),
            "date": when,
            "command": command,
        }
        if r.mutant:
            doc["runs"].setdefault(r.mutant, {})[r.fault] = entry
        else:
            doc["baseline"][r.fault] = entry
    doc["fault_command"] = " ".join(["python", *fault_command("FAULT")[1:]])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", "utf-8")
    return doc


def faults_section(mutants: list[Mutant], doc: dict[str, Any]) -> str:
    """docs/mutants.md's fault table, from the record (bench/results/mutants-faults.json)."""
    lines = [
        FAULTS_HEADING,
        "",
        "Written by `make mutants-faults` (`python -m bench.mutants --faults --report "
        "docs/mutants.md`) from `bench/results/mutants-faults.json`. A fault kills a mutant "
        f"when one run of it (`{doc.get('fault_command', '')}`) in the mutated copy fails the "
        "suite's verdict; `--faults --try FAULT,...` tries faults a mutant does not list "
        "(their survivals are recorded too). Each fault passed on the unmutated copy first. "
        "Which mutants each fault kills, and why the others escape it: docs/reliability.md.",
        "",
        "| mutant | pytest killer | killed by (the suite's reason) | survived | s |",
        "|---|---|---|---|---|",
    ]
    runs = doc.get("runs", {})
    for m in mutants:
        mine = runs.get(m.name, {})
        killed = [
            f"**{f}**: {e['reason']}".replace("|", "\\|")
            for f, e in mine.items()
            if e["verdict"] == "KILLED"
        ]
        other = [
            f"{f}" + ("" if e["verdict"] == "SURVIVED" else f" ({e['verdict']})")
            for f, e in mine.items()
            if e["verdict"] != "KILLED"
        ]
        seconds = " + ".join(f"{e['seconds']:.0f}" for e in mine.values()) or "—"
        lines.append(
            f"| `{m.name}` | `{m.killers[0].split('::')[-1]}` | "
            f"{'<br>'.join(killed) or ('none' if mine else 'not tried')} | "
            f"{', '.join(other) or '—'} | {seconds} |"
        )
    base = doc.get("baseline", {})
    if base:
        lines += [
            "",
            "Unmutated: "
            + ", ".join(
                f"{f} passed in {e['seconds']:.0f} s ({e['date']})" for f, e in sorted(base.items())
            )
            + ".",
        ]
    return "\n".join(lines) + "\n"


def splice(text: str, heading: str, section: str) -> str:
    """`text` with the section under `heading` (up to the next `## ` heading) replaced by
    `section`, or `section` appended when there is none."""
    start = text.find(heading + "\n")
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    end = text.find("\n## ", start + len(heading))
    rest = "" if end < 0 else text[end + 1 :]
    return text[:start] + section + ("\n" + rest if rest else "")


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
        "- Which faults kill a mutant? `make mutants-faults` runs the faults each mutant lists",
        "  (`faults = [...]`), `python -m bench.mutants --faults --only NAME --try all` tries",
        "  every fault; the last section below, and docs/reliability.md, hold the results.",
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


def select(mutants: list[Mutant], args: argparse.Namespace) -> list[Mutant]:
    """The mutants --only or --short asks for (all by default)."""
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m.name for m in mutants}
        if unknown:
            raise MutantError(f"no mutant named {', '.join(sorted(unknown))}")
        return [m for m in mutants if m.name in wanted]
    if args.short:
        return [m for m in mutants if m.short]
    return mutants


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.mutants", description=__doc__.split("\n")[0])
    ap.add_argument("--short", action="store_true", help="only the mutants marked short (CI)")
    ap.add_argument("--only", default="", help="comma-separated mutant names")
    ap.add_argument("--tests", nargs="*", help="run these tests instead of the killers, all")
    ap.add_argument("--faults", action="store_true", help="the fault suite's faults as killers")
    ap.add_argument(
        "--try",
        dest="try_faults",
        default="",
        help="with --faults: run these "
        "faults (comma-separated, or all) instead of the listed ones, all",
    )
    ap.add_argument("--report", type=Path, help="write the results as markdown here")
    args = ap.parse_args(argv)
    try:
        mutants = load()
        problems = check_applies(mutants, REPO)
        if problems:
            raise MutantError("\n".join(problems))
        chosen = select(mutants, args)
        if args.faults:
            return main_faults(mutants, chosen, args)
        return main_tests(mutants, chosen, args)
    except MutantError as exc:
        print(f"mutants: {exc}", file=sys.stderr)
        return 2


def main_tests(every: list[Mutant], mutants: list[Mutant], args: argparse.Namespace) -> int:
    """The pytest killers of each mutant (or --tests), after they pass unmutated."""
    started = time.monotonic()
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
    total = time.monotonic() - started
    bad = [o for o in outcomes if o.verdict != "KILLED"]
    print(f"{len(outcomes) - len(bad)} of {len(outcomes)} mutants killed in {total:.0f} s")
    if args.report and not args.tests:
        text = report(outcomes, header, total)
        if FAULTS_JSON.exists():  # the fault table, from its own record, stays
            text += "\n" + faults_section(every, json.loads(FAULTS_JSON.read_text()))
        args.report.write_text(text, "utf-8")
        print(f"wrote {args.report}")
    return 1 if bad else 0


def fault_plan(mutants: list[Mutant], try_faults: str) -> dict[str, list[str]]:
    """Mutant name -> the faults to run on it: the listed ones, or those --try names."""
    from bench.chaos import SCENARIOS

    tried = list(SCENARIOS) if try_faults == "all" else [f for f in try_faults.split(",") if f]
    unknown = sorted({f for m in mutants for f in (tried or m.faults)} - set(SCENARIOS))
    if unknown:
        raise MutantError(f"no fault named {', '.join(unknown)} (there are {', '.join(SCENARIOS)})")
    plan = {m.name: list(tried or m.faults) for m in mutants}
    return {name: faults for name, faults in plan.items() if faults}


def main_faults(every: list[Mutant], mutants: list[Mutant], args: argparse.Namespace) -> int:
    """The faults of each mutant (or --try), after each passes unmutated; the record and the
    docs' fault tables updated."""
    started = time.monotonic()
    plan = fault_plan(mutants, args.try_faults)
    if not plan:
        raise MutantError("none of these mutants lists a fault (faults = [...]); try --try")
    files = tree_files(REPO)
    faults = list(dict.fromkeys(f for fs in plan.values() for f in fs))
    with tempfile.TemporaryDirectory(prefix="tablehub-mutants-") as tmp:
        work = Path(tmp)
        runs = fault_baseline(REPO, files, faults, work)
        for m in mutants:
            if m.name in plan:
                runs += run_mutant_faults(REPO, files, m, work, plan[m.name])
    total = time.monotonic() - started
    tried = [r for r in runs if r.mutant]
    killed = sum(1 for r in tried if r.verdict == "KILLED")
    print(f"{killed} of {len(tried)} fault runs killed their mutant in {total:.0f} s")
    command = "python -m bench.mutants " + " ".join(argv_of(args))
    doc = record_faults(runs, command)
    print(f"wrote {FAULTS_JSON.relative_to(REPO)}")
    if args.report:
        write_fault_docs(every, doc, args.report)
    broken = [r for r in tried if r.verdict in ("TIMEOUT", "ERROR")]
    missed = [r for r in tried if r.verdict == "SURVIVED" and not args.try_faults]
    return 1 if broken or missed else 0


def argv_of(args: argparse.Namespace) -> list[str]:
    out = ["--faults"]
    if args.try_faults:
        out += ["--try", args.try_faults]
    if args.only:
        out += ["--only", args.only]
    elif args.short:
        out.append("--short")
    return out


def write_fault_docs(every: list[Mutant], doc: dict[str, Any], target: Path) -> None:
    """The fault table into `target` (docs/mutants.md) and the section of docs/reliability.md
    that `bench.chaos_report` writes from the same record."""
    from bench import chaos_report

    old = target.read_text("utf-8") if target.exists() else "# Mutants\n"
    target.write_text(splice(old, FAULTS_HEADING, faults_section(every, doc)), "utf-8")
    print(f"wrote {target}")
    reliability = REPO / "docs" / "reliability.md"
    chaos_report.splice_mutants_section(reliability, doc)
    print(f"wrote {reliability.relative_to(REPO)}")


if __name__ == "__main__":
    sys.exit(main())
