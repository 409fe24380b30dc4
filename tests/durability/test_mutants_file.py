"""The named mutants (bench/mutants.toml) still fit the code: each snippet is in its file
exactly once, each killer test exists and each killer fault is a fault of the suite; a snippet
a refactor moved stops the runner loudly; the fault record agrees with the file, and the
reports keep its tables."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from bench import mutants

REPO = Path(__file__).resolve().parents[2]


def test_every_mutant_applies_and_names_existing_killer_tests() -> None:
    listed = mutants.load()
    assert len(listed) >= 10
    assert mutants.check_applies(listed, REPO) == []
    for m in listed:
        assert m.killers, m.name
        for node in m.killers:
            path, _, name = node.partition("::")
            tree = ast.parse((REPO / path).read_text("utf-8"))
            defined = {
                n.name
                for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            assert name.split("[")[0] in defined, f"{m.name}: no test {node}"


def test_a_snippet_that_moved_stops_the_run_naming_the_mutant(tmp_path: Path) -> None:
    m = mutants.load()[0]
    (tmp_path / m.file).parent.mkdir(parents=True)
    (tmp_path / m.file).write_text("# refactored: the snippet is elsewhere now\n")
    problems = mutants.check_applies([m], tmp_path)
    assert problems == [
        f"mutant {m.name} no longer applies ({m.file}: snippet found 0 times): "
        "update bench/mutants.toml"
    ]
    (tmp_path / m.file).write_text(m.find + m.find)
    assert "snippet found 2 times" in mutants.check_applies([m], tmp_path)[0]


def test_every_listed_fault_is_a_fault_of_the_suite() -> None:
    from bench.chaos import SCENARIOS

    listed = mutants.load()
    assert any(m.faults for m in listed), "no mutant lists a fault that kills it"
    for m in listed:
        assert len(set(m.faults)) == len(m.faults), f"{m.name}: a fault repeats"
        unknown = set(m.faults) - set(SCENARIOS)
        assert not unknown, f"{m.name}: no fault named {sorted(unknown)} in bench.chaos"
    assert mutants.fault_plan(listed, "all")[listed[0].name] == list(SCENARIOS)
    with pytest.raises(mutants.MutantError, match="no fault named hub-kil"):
        mutants.fault_plan(listed, "hub-kil")


def test_the_fault_record_matches_the_mutants_file() -> None:
    """Every listed fault killed its mutant in the committed record; every recorded result
    names a mutant and a fault that exist."""
    from bench.chaos import SCENARIOS

    record = json.loads(mutants.FAULTS_JSON.read_text())
    listed = {m.name: m for m in mutants.load()}
    assert set(record["runs"]) <= set(listed)
    for name, runs in record["runs"].items():
        assert set(runs) <= set(SCENARIOS), name
        for fault in listed[name].faults:
            assert runs[fault]["verdict"] == "KILLED", f"{name} lists {fault}: {runs[fault]}"
            assert runs[fault]["reason"], f"{name} x {fault}: a kill without the suite's reason"
    for name, m in listed.items():
        assert set(m.faults) <= set(record["runs"].get(name, {})), f"{name}: never run"
    for fault, entry in record["baseline"].items():
        assert fault in SCENARIOS
        assert entry["verdict"] == "PASS", fault


def test_a_failed_fault_run_gives_the_suites_reason_line() -> None:
    out = (
        "chaos: disk-full x1\n"
        "chaos: disk-full: FAIL: #0: ok_disk is False: it must have answered 503\n"
        "chaos: FAIL (exit status 1): disk-full\n"
    )
    assert (
        mutants.fail_reason(out, "disk-full") == "#0: ok_disk is False: it must have answered 503"
    )
    assert mutants.fail_reason("chaos: disk-full: pass\n", "disk-full") == ""


def test_a_section_is_replaced_in_place_or_appended() -> None:
    doc = "# T\n\nintro\n\n## Faults that kill each mutant\n\nold\n\n## Notes\n\nkept\n"
    new = mutants.splice(doc, mutants.FAULTS_HEADING, "## Faults that kill each mutant\n\nnew\n")
    assert new == "# T\n\nintro\n\n## Faults that kill each mutant\n\nnew\n\n## Notes\n\nkept\n"
    assert mutants.splice("# T\n", "## X", "## X\n\nbody\n") == "# T\n\n## X\n\nbody\n"


def test_the_reliability_report_keeps_the_mutant_section(tmp_path: Path) -> None:
    """The section survives the report being written again, and is spliced in once."""
    from bench import chaos_report

    record = json.loads(mutants.FAULTS_JSON.read_text())
    page = tmp_path / "reliability.md"
    notes = chaos_report.NOTES.read_text().strip()
    page.write_text("# Reliability\n\n### hub-kill\n\nfigures\n\n" + notes + "\n")
    chaos_report.splice_mutants_section(page, record)
    chaos_report.splice_mutants_section(page, record)
    text = page.read_text()
    assert text.count(chaos_report.MUTANTS_HEADING) == 1
    assert text.index(chaos_report.MUTANTS_HEADING) < text.index(notes.split("\n", 1)[0])
    assert text.endswith(notes + "\n")
    full = chaos_report.markdown({"reps": 1, "rate": 50, "scenarios": {}, "wanted": []})
    assert chaos_report.MUTANTS_HEADING in full
    # every mutant a fault misses (or no fault was tried on) says why
    assert "not explained yet" not in full
    for name, runs in record["runs"].items():
        for fault, entry in runs.items():
            if entry["verdict"] == "KILLED":
                row = next(ln for ln in full.splitlines() if ln.startswith(f"| {fault} |"))
                assert f"`{name}`" in row.split(" | ")[1], (name, fault)
