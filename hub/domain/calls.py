"""Table calls (waiter, bill, water): one open call per table and kind; escalation by age."""

from __future__ import annotations

from dataclasses import dataclass

from hub.errors import Conflict, InvalidInput

KINDS = ("waiter", "bill", "water")
STATES = ("open", "acked", "closed")


@dataclass(frozen=True, slots=True)
class CallState:
    state: str
    opened_ms: int
    escalated: bool = False


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    return kind


def acknowledge(call: CallState) -> CallState:
    if call.state != "open":
        raise Conflict(f"the call is {call.state}", field="call")
    return CallState("acked", call.opened_ms, call.escalated)


def close(call: CallState) -> CallState:
    if call.state == "closed":
        raise Conflict("the call is already closed", field="call")
    return CallState("closed", call.opened_ms, call.escalated)


def due_for_escalation(call: CallState, now_ms: int, after_seconds: int) -> bool:
    """An open call nobody acknowledged within `after_seconds` escalates, once."""
    return (
        call.state == "open"
        and not call.escalated
        and now_ms - call.opened_ms >= after_seconds * 1000
    )
