"""Kitchen tickets: one order's lines for one station, and how bumps and recalls change them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hub.errors import Conflict, NotFound


@dataclass(frozen=True, slots=True)
class TicketItem:
    idx: int
    bumped: bool = False


@dataclass(frozen=True, slots=True)
class TicketState:
    status: str  # "held" | "open" | "bumped"
    items: tuple[TicketItem, ...]
    bumped_at: str | None = None

    @property
    def progressed(self) -> bool:
        return self.status == "bumped" or any(i.bumped for i in self.items)


def bump(state: TicketState, item_idx: int | None, now: str) -> TicketState:
    """Bump one item, or the whole ticket; the ticket is bumped with its last item."""
    if state.status == "bumped":
        raise Conflict("ticket is already bumped")
    if state.status == "held":
        raise Conflict("this ticket's course is held: fire it first", field="ticket")
    if item_idx is None:
        items = tuple(replace(i, bumped=True) for i in state.items)
    else:
        if not any(i.idx == item_idx for i in state.items):
            raise NotFound(f"no item {item_idx} on this ticket", field="item")
        items = tuple(
            replace(i, bumped=not i.bumped) if i.idx == item_idx else i for i in state.items
        )
    if all(i.bumped for i in items):
        return TicketState("bumped", items, now)
    return TicketState("open", items, None)


def check_start(state: TicketState) -> None:
    """A cook may start an open ticket only (held: fire it first; bumped: it is made)."""
    if state.status == "held":
        raise Conflict("this ticket's course is held: fire it first", field="ticket")
    if state.status != "open":
        raise Conflict("ticket is already bumped", field="ticket")


def recall(state: TicketState) -> TicketState:
    """Bring a bumped ticket back to the screen with every item to make again."""
    if state.status != "bumped":
        raise Conflict("only a bumped ticket can be recalled")
    return TicketState("open", tuple(replace(i, bumped=False) for i in state.items), None)
