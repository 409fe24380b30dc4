"""Staff actions done once: every action may carry the client's action id; an id seen
before for the same action changes nothing and answers what the first one acted on (bump bars
and flaky Wi-Fi repeat themselves); an id used before for another action is 409
(`field: "id"`), never that other action's answer.

An action that names the ticket or order it acts on (a screen's tap: `POST /tickets/7/bump`)
keeps its id on that row, among the row's last `ACTS_KEPT` (`once_on`): the row is written by
the action anyway, where an id of the actions table went to a random leaf of its own b-tree
(the busiest write of a kitchen is a bump). Its repeat answers that ticket or order as it is
now; the same id for another action on it is 409. An action that names no ticket (a bump
bar's "the first ticket", a station's recall) keeps which one it acted on in the actions
table (`{"ref": "ticket", "id": 7}`, `once`): a repeat must not act on the next one. An older
store's rows there keep the whole first answer, and are answered with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

import msgspec

from hub.domain.events import Order, Ticket
from hub.errors import Conflict, InvalidInput, NotFound
from hub.store import repos
from hub.store.checks import done_action, save_action
from hub.store.db import Tx

ACTION_ID_MAX = 64
ACTS_KEPT = 8  # a ticket's or an order's last action ids kept on it (start, bump, recall...)

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


async def once_on(
    tx: Tx,
    action_id: str | None,
    op: str,
    where: Literal["tickets", "orders"],
    row_id: int,
    body: Callable[[], Awaitable[Result]],
) -> Result:
    """`body()` inside `tx`, acting on the ticket or order `row_id` of `where`, unless
    `action_id` did `op` on it before: then that row as it is now; `Conflict` when the id did
    another action on it, or (an id of the actions table) anywhere."""
    if action_id is None:
        return await body()
    read, write = _ACTS_SQL[where]
    row = await tx.one(read, (row_id,))
    acts = _acts.decode(row[0]) if row is not None and row[0] else []
    for did, kept_id in acts:
        if kept_id == action_id:
            if did != op:
                raise Conflict("this action id was used for another action", field="id")
            return await _answer_again(tx, {"ref": where[:-1], "id": row_id})
    done, first = await done_action(tx, action_id, op)  # an older hub's, or a bump bar's
    if done:
        return await _answer_again(tx, first)
    result = await body()
    if row is not None:
        kept = [*acts, (op, action_id)][-ACTS_KEPT:]
        await tx.execute(write, (_acts_out(kept), row_id))
    return result


_ACTS_SQL = {
    "tickets": ("SELECT acts FROM tickets WHERE id=?", "UPDATE tickets SET acts=? WHERE id=?"),
    "orders": ("SELECT acts FROM orders WHERE id=?", "UPDATE orders SET acts=? WHERE id=?"),
}
_acts = msgspec.json.Decoder(list[tuple[str, str]])
_acts_out = msgspec.json.Encoder().encode


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
