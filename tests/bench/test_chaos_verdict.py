"""The fault suite's verdict: one function, and both the exit status and the report's
verdict line come from it. Anything not proven (a failed cloud check, a fault not run or not
injected, no recovery) is a failure."""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bench import chaos, chaos_report
from bench.chaos_verdict import judge


def rep(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "acked": 100,
        "committed_unacked": 0,
        "ok": True,
        "problems": [],
        "fault_injected": True,
        "recovery": ["killed → first 201", 0.4],
    }
    return base | kw


def cloud(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "hub_events": 900,
        "cloud_events": 900,
        "missing": 0,
        "differ": 0,
        "extra": 0,
        "orders_missing_in_cloud": 0,
        "tickets_missing_in_cloud": 0,
        "resent_and_dropped_by_seq": 12,
        "ok": True,
    }
    return base | kw


def passing() -> dict[str, Any]:
    return {
        "mode": "short",
        "command": "python -m bench.chaos --short",
        "reps": 2,
        "rate": 50.0,
        "wanted": ["hub-kill", "cloud-outage", "disk-full"],
        "scenarios": {
            "hub-kill": {"reps": [rep(), rep()]},
            "cloud-outage": {"reps": [rep()], "cloud": cloud()},
            "disk-full": {"reps": [rep(ok_disk=True)], "disk": "tmpfs of 64 MB"},
        },
    }


def test_a_clean_run_passes_with_exit_status_0() -> None:
    v = judge(passing())
    assert v.ok
    assert v.exit_code == 0
    assert all(why == () for why in v.reasons.values())
    assert "**Verdict: PASS** — `python -m bench.chaos --short` exited 0" in (
        chaos_report.markdown(passing())
    )


def broken(change: str) -> dict[str, Any]:
    r = copy.deepcopy(passing())
    sc = r["scenarios"]
    if change == "cloud":
        sc["cloud-outage"]["cloud"] = cloud(ok=False, missing=850, cloud_events=50)
    elif change == "no-cloud-check":
        del sc["cloud-outage"]["cloud"]
    elif change == "not-run":
        sc["disk-full"] = {"not_run": "could not mount a small disk: mount: permission denied"}
    elif change == "injection":
        sc["hub-kill"]["reps"][1] = rep(
            fault_injected=False, fault_error="RuntimeError('hub did not start')"
        )
    elif change == "never-injected":
        sc["hub-kill"]["reps"][0] = rep(fault_injected=False)
    elif change == "checker":
        sc["hub-kill"]["reps"][0] = rep(ok=False, problems=["store_tickets_missing 3"])
    elif change == "disk":
        sc["disk-full"]["reps"][0] = rep(ok_disk=False)
    elif change == "disk-unchecked":
        sc["disk-full"]["reps"][0] = rep()
    elif change == "no-recovery":
        sc["hub-kill"]["reps"][0] = rep(recovery=["killed → first 201", None])
    elif change == "missing":
        del sc["disk-full"]
    elif change == "error":
        sc["hub-kill"] = {"error": "TimeoutError('no READY')", "reps": []}
    return r


CASES = {
    "cloud": ("cloud-outage", "cloud: missing 850"),
    "no-cloud-check": ("cloud-outage", "no cloud check"),
    "not-run": ("disk-full", "not run: could not mount a small disk"),
    "injection": ("hub-kill", "#1: the fault could not be injected: RuntimeError"),
    "never-injected": ("hub-kill", "#0: the fault was never injected"),
    "checker": ("hub-kill", "#0: checker: store_tickets_missing 3"),
    "disk": ("disk-full", "#0: ok_disk is False"),
    "disk-unchecked": ("disk-full", "#0: ok_disk is None"),
    "no-recovery": ("hub-kill", "#0: never recovered (killed → first 201"),
    "missing": ("disk-full", "never ran"),
    "error": ("hub-kill", "stopped with an error: TimeoutError"),
}


@pytest.mark.parametrize("change", sorted(CASES))
def test_anything_unproven_fails_with_a_reason(change: str) -> None:
    results = broken(change)
    v = judge(results)
    scenario, reason = CASES[change]
    assert v.exit_code == 1
    assert v.failed == [scenario]
    assert any(r.startswith(reason) for r in v.reasons[scenario]), v.reasons
    # the report says the same as the exit status, with the reason
    md = chaos_report.markdown(results)
    assert "**Verdict: FAIL** — `python -m bench.chaos --short` exited 1" in md
    assert f"- {scenario}: {reason}" in md
    assert "**Verdict: PASS**" not in md


def test_the_table_row_and_the_fault_section_agree_with_the_verdict() -> None:
    md = chaos_report.markdown(broken("cloud"))
    rows = [ln for ln in md.splitlines() if ln.startswith("| the cloud unreachable")]
    assert len(rows) == 1
    assert rows[0].endswith("**FAIL** |")
    assert "### cloud-outage" in md
    section = md.split("### cloud-outage")[1].split("###")[0]
    assert "*What it proves:*" in section
    assert "**Verdict: FAIL**" in section


def test_every_fault_says_what_it_proves() -> None:
    assert set(chaos_report.PROVES) == set(chaos.SCENARIOS)
    md = chaos_report.markdown(passing())
    for name in ("hub-kill", "cloud-outage", "disk-full"):
        section = md.split(f"### {name}:")[1].split("###")[0]
        assert f"*What it proves:* {chaos_report.PROVES[name]}" in section


def test_a_fault_raising_during_injection_fails_the_verdict() -> None:
    def boom(ctx: chaos.Ctx, rep_no: int) -> dict[str, Any]:
        raise OSError(28, "No space left on device")

    info = chaos.inject(boom, None, 0)  # type: ignore[arg-type]  # boom touches nothing
    assert info["fault_injected"] is False
    assert "No space left on device" in info["fault_error"]
    results = passing()
    results["scenarios"]["disk-full"]["reps"][0] = rep(ok_disk=True) | info
    v = judge(results)
    assert v.exit_code == 1
    assert v.reasons["disk-full"][0].startswith("#0: the fault could not be injected: OSError")


def test_a_fault_that_returns_is_marked_injected() -> None:
    info = chaos.inject(lambda ctx, n: {"t_fault": 1.0, "restart_s": 0.4}, None, 0)  # type: ignore[arg-type]
    assert info == {"t_fault": 1.0, "restart_s": 0.4, "fault_injected": True}


class RecordedSuite:
    """Stands in for the suite's processes: `run()` writes the report of given results."""

    results: ClassVar[dict[str, Any]] = {}

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def run(self) -> Path:
        path = Path(self.args.tmp) / "reliability.md"
        return chaos_report.write(self.results, path)


@pytest.mark.parametrize("change", ["cloud", "not-run", "injection", None])
def test_the_exit_status_is_the_report_verdict(
    change: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    RecordedSuite.results = broken(change) if change else passing()
    monkeypatch.setattr(chaos, "Suite", RecordedSuite)
    code = chaos.main(["--short", "--tmp", str(tmp_path)])
    md = (tmp_path / "reliability.md").read_text()
    assert code == (1 if change else 0)
    assert f"exited {code}" in md.split("\n\n")[2]  # the verdict paragraph, after the header


def test_an_unknown_fault_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        chaos.main(["--only", "hub-kill,disk-ful"])
    assert exc.value.code == 2
    assert "no fault named disk-ful" in capsys.readouterr().err
