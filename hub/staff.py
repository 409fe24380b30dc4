"""Issuing, listing and revoking staff tokens (used by the CLI and the admin API)."""

from __future__ import annotations

from typing import Any

from hub.domain import tokens
from hub.domain.ports import IdGen, SystemIds
from hub.errors import InvalidInput, NotFound
from hub.store import repos
from hub.store.db import Store, Tx


async def issue(store: Store, role: str, label: str = "", ids: IdGen | None = None) -> str:
    if role not in tokens.ROLES:
        raise InvalidInput(f"role must be one of {', '.join(tokens.ROLES)}", field="role")
    ids = ids or SystemIds()
    token_id = ids.token(6)
    token = f"th{role[0]}_{ids.token(24)}"

    async def unit(tx: Tx) -> None:
        await repos.insert_staff_token(
            tx, token_id, tokens.hash_staff_token(token), role, label[:60] or role
        )

    await store.write(unit)
    return token


async def revoke(store: Store, token_id: str) -> None:
    async def unit(tx: Tx) -> bool:
        return await repos.revoke_staff_token(tx, token_id)

    if not await store.write(unit):
        raise NotFound(f"no active token '{token_id}'", field="id")


async def listing(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in await repos.list_staff_tokens(store)]
