"""The demo's simulated printers: the admin page links to a picture of what each printed
last; a real printer has none (404 naming the printer)."""

from __future__ import annotations

import dataclasses

import aiohttp

from hub.app import running_hub
from hub.config import HubConfig


async def test_a_simulated_printers_last_print_is_a_picture(
    hub_config: HubConfig, http: aiohttp.ClientSession, menu_doc: dict[str, object]
) -> None:
    from hub.config import PrinterConfig
    from hub.services import staff

    png = b"\x89PNG\r\n\x1a\n-test"
    config = dataclasses.replace(
        hub_config,
        printers=(PrinterConfig(id="bar-1", stations=("bar",)), PrinterConfig(id="grill-1")),
    )
    async with running_hub(
        config, seed_menu=menu_doc, printer_previews={"bar-1": lambda: png}
    ) as hub:
        auth = {"Authorization": f"Bearer {await staff.issue(hub.services.store, 'admin', 'a')}"}
        async with http.get(f"{hub.url}/api/v1/printers", headers=auth) as r:
            listed = {p["id"]: p["preview"] for p in (await r.json())["printers"]}
        assert listed == {"bar-1": True, "grill-1": False}
        async with http.get(f"{hub.url}/api/v1/printers/bar-1/preview.png", headers=auth) as r:
            assert (r.status, r.content_type, await r.read()) == (200, "image/png", png)
        async with http.get(f"{hub.url}/api/v1/printers/grill-1/preview.png", headers=auth) as r:
            assert r.status == 404
            assert (await r.json())["field"] == "printer"
