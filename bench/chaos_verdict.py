"""The fault suite's verdict. `judge(results)` alone decides whether a run passed: the exit
status of `python -m bench.chaos` and the verdict written into its report both come from it.

A scenario fails when any of these holds (each becomes one reason, naming what and why):

- it was not run (no small disk could be mounted, cloud_bridge does not import, ...), it
  stopped with an error, it never started (the suite stopped before it), or no repetition
  ran;
- in a repetition the fault could not be injected (it raised), or was never injected
  (the load never reached the point where it is injected);
- a repetition's checker verdict is not ok (its `problems` say which count is not 0);
- a fault's own check failed (every `ok_*` key of a repetition must be true; disk-full must
  have `ok_disk`: 503 `unavailable` and nothing else while full, then orders again);
- a repetition never recovered (its recovery figure is missing: no 201 after the kill, no
  ticket on MQTT after the broker came back, the cloud never caught up, ...);
- the cloud check after the run failed, or is missing where the scenario has a cloud.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# scenario -> keys each of its repetitions must have, true, with what it means
REQUIRED: dict[str, dict[str, str]] = {
    "disk-full": {
        "ok_disk": "answered 503 `unavailable` (and nothing else) while full, then 201 again",
    },
}
CLOUD = ("cloud-outage",)  # scenarios that must end with a cloud check


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why each scenario failed, in run order (an empty tuple: it passed)."""

    reasons: Mapping[str, tuple[str, ...]]

    @property
    def ok(self) -> bool:
        return bool(self.reasons) and not any(self.reasons.values())

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def failed(self) -> list[str]:
        return [name for name, why in self.reasons.items() if why]

    def line(self) -> str:
        """One line for a terminal or a report: the verdict and the exit status it gives."""
        if self.ok:
            return f"PASS (exit status 0): {len(self.reasons)} faults, every check held"
        return f"FAIL (exit status {self.exit_code}): {', '.join(self.failed) or 'nothing ran'}"


def rep_reasons(name: str, i: int, rep: Mapping[str, Any]) -> list[str]:
    """Why one repetition of `name` failed (empty: it passed)."""
    out: list[str] = []
    if rep.get("fault_error"):
        out.append(f"the fault could not be injected: {rep['fault_error']}")
    elif not rep.get("fault_injected"):
        out.append("the fault was never injected")
    if not rep.get("ok"):
        out.append("checker: " + (", ".join(rep.get("problems") or []) or "not ok"))
    for key, meaning in REQUIRED.get(name, {}).items():
        if rep.get(key) is not True:
            out.append(f"{key} is {rep.get(key)!r}: it must have {meaning}")
    for key, value in rep.items():
        if key.startswith("ok_") and key not in REQUIRED.get(name, {}) and value is not True:
            out.append(f"{key} is {value!r}")
    recovery = rep.get("recovery")
    if recovery and recovery[1] is None:
        out.append(f"never recovered ({recovery[0]}: none within the run)")
    return [f"#{i}: {r}" for r in out]


def scenario_reasons(name: str, sc: Mapping[str, Any]) -> list[str]:
    """Why one scenario failed (empty: it passed)."""
    if "not_run" in sc:
        return [f"not run: {sc['not_run']}"]
    out: list[str] = []
    if sc.get("error"):
        out.append(f"stopped with an error: {sc['error']}")
    reps = sc.get("reps") or []
    if not reps:
        out.append("no repetition ran")
    for i, rep in enumerate(reps):
        out += rep_reasons(name, i, rep)
    cloud = sc.get("cloud")
    if cloud is None and name in CLOUD and reps:
        out.append("no cloud check after the run")
    elif cloud is not None and not cloud.get("ok"):
        bits = ", ".join(f"{k} {cloud.get(k)}" for k in CLOUD_COUNTS if cloud.get(k))
        out.append(f"cloud: {bits or 'not ok'}")
    return out


CLOUD_COUNTS = (
    "missing",
    "differ",
    "extra",
    "orders_missing_in_cloud",
    "tickets_missing_in_cloud",
)


def judge(results: Mapping[str, Any], wanted: Iterable[str] | None = None) -> Verdict:
    """The run's verdict. `wanted` (else `results["wanted"]`, else what ran) names the
    scenarios asked for: one asked for and absent from the results failed."""
    scenarios: Mapping[str, Any] = results.get("scenarios", {})
    names = list(wanted if wanted is not None else results.get("wanted") or scenarios)
    names += [n for n in scenarios if n not in names]
    reasons = {
        name: tuple(
            scenario_reasons(name, scenarios[name])
            if name in scenarios
            else ["never ran: the suite stopped before it"]
        )
        for name in names
    }
    return Verdict(reasons)
