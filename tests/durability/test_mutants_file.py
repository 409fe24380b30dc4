"""The named mutants (bench/mutants.toml) still fit the code: each snippet is in its file
exactly once and each killer test exists; a snippet a refactor moved stops the runner loudly."""

from __future__ import annotations

import ast
from pathlib import Path

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
