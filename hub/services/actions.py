"""Staff actions done once: every action may carry the client's action id; an id seen
before returns the first result and changes nothing (bump bars and flaky Wi-Fi repeat
themselves)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hub.domain.events import Order, Ticket
from hub.errors import InvalidInput
from hub.store import repos
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


async def once(tx: Tx, action_id: str | None, body: Callable[[], Awaitable[Result]]) -> Result:
    """`body()` inside `tx`, unless `action_id` was done before: then its stored answer."""
    if action_id is not None:
        done = await repos.get_action(tx, action_id)
        if done is not None:
            return dict(done)
    result = await body()
    if action_id is not None:
        await repos.put_action(tx, action_id, result)
    return result
