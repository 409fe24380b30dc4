"""The fault suite end to end on one scenario (a real hub, broker and load generator, in
their own processes): a calm repetition passes the real checker, and a fault that raises
while being injected fails the verdict, and so the exit status."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pytest

from bench import chaos
from bench.chaos_verdict import judge


@pytest.mark.slow
def test_a_fault_raising_during_injection_fails_a_real_run(tmp_path: Path) -> None:
    args = argparse.Namespace(short=True, reps=2, rate=20.0, only="", keep=False, tmp=str(tmp_path))
    suite = chaos.Suite(args)

    def calm_then_broken(ctx: chaos.Ctx, rep: int) -> dict[str, Any]:
        if rep == 1:
            raise RuntimeError("the printer's switch port did not answer")
        return {"t_fault": time.monotonic()}  # touches nothing: a calm repetition

    sc = suite.scenario("calm-then-broken", calm_then_broken, 2)
    calm, broken = sc["reps"]
    # the real checker, against the generator's record, passes a calm repetition ...
    assert calm["problems"] == [], calm
    assert calm["acked"] > 0
    assert calm["fault_injected"] is True
    # ... and the load of the second was fine too, but its fault was never injected
    assert broken["fault_injected"] is False
    assert "the printer's switch port did not answer" in broken["fault_error"]
    verdict = judge({"scenarios": {"calm-then-broken": sc}})
    assert verdict.exit_code == 1
    assert verdict.reasons["calm-then-broken"] == (
        "#1: the fault could not be injected: "
        'RuntimeError("the printer\'s switch port did not answer")',
    )
