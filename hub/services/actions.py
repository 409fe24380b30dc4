"""Staff actions done once: every action may carry the client's action id; an id seen
before for the same action changes nothing and answers what the first one acted on (bump bars
and flaky Wi-Fi repeat themselves); an id used before for another action is 409
(`field: "id"`), never that other action's answer.

An action that answers a ticket or an order keeps only which one (`{"ref": "ticket", "id": 7}`,
a few dozen bytes, where the whole answer was a few hundred: a kitchen's busiest write is a
bump); its repeat answers that ticket or order as it is now. An older store's rows keep the
whole first answer, and are answered with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hub.domain.events import Order, Ticket
from hub.errors import InvalidInput, NotFound
from hub.store import repos
from hub.store.checks import done_action, save_action
from hub.store.db import Tx

ACTION_ID_MAX = 64

# what an action answers: the ticket or order it changed, or, repeated, the stored answer
Result = Ticket | Order | dict[str, Any]


def check_action_id(action_id: str | None) -> str | None:
    if action_id is None:
        return None
    if not isinstance(action_id, str) or not 1 <= len(action_id) <= ACTION_ID_MAX:
        raise InvalidInput("must be a text of 1-64 characters", field="id")
    return action_id


async def once(
    tx: Tx, action_id: str | None, op: str, body: Callable[[], Awaitable[Result]]
) -> Result:
    """`body()` inside `tx`, unless `action_id` did `op` before: then its stored answer;
    `Conflict` when the id did another. `op` is the kind of action (`bump`), not what it acted
    on: a bump bar's retry of "bump the first ticket" is answered with the ticket it bumped,
    not with a conflict because another ticket is first now."""
    if action_id is not None:
        done, first = await done_action(tx, action_id, op)
        if done:
            return await _answer_again(tx, first)
    result = await body()
    if action_id is not None:
        await save_action(tx, action_id, op, _kept(result))
    return result


def _kept(result: Result) -> Any:
    """What the store keeps of an action's answer: which ticket or order, or the answer."""
    if isinstance(result, Ticket):
        return {"ref": "ticket", "id": result.id}
    if isinstance(result, Order):
        return {"ref": "order", "id": result.order_id}
    return result


async def _answer_again(tx: Tx, first: Any) -> Result:
    if isinstance(first, dict) and first.keys() == {"ref", "id"}:
        found: Ticket | Order | None = None
        if first["ref"] == "ticket":
            found = await repos.tx_ticket(tx, int(first["id"]))
        elif first["ref"] == "order":
            found = await repos.tx_order(tx, int(first["id"]))
        if found is None:  # tickets and orders are never deleted: a damaged store
            raise NotFound(f"this action's {first['ref']} is gone", field="id")
        return found
    return dict(first)
