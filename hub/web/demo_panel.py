"""The demo's devices page: press the simulated call and bump buttons, watch the LEDs.

Only `tablehub demo` has these routes (a store box has real buttons, so none of this exists
there). The page is a staff page like the floor view; a press goes through the real button
agent on gpiozero's mock pins (see `devices.buttons.demo`), so what the hub sees is exactly
what a wired button sends.

    GET  /demo/devices                     the page
    GET  /api/v1/demo/buttons              every button and LED ({"buttons": [...]})
    POST /api/v1/demo/buttons/{pin}/press  press and release one button (204)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.errors import Conflict, NotFound
from hub.services.container import Services
from hub.web import auth
from hub.web.keys import SERVICES

routes = web.RouteTableDef()


def setup(app: web.Application, services: Services, page: Any) -> None:
    """Add the page (`page`: the handler serving demo.html to staff) and its API, if the
    hub runs the demo's button board."""
    if services.demo_buttons is None:
        return
    app.router.add_get("/demo/devices", page)
    app.add_routes(routes)


@routes.get("/api/v1/demo/buttons")
async def get_buttons(request: web.Request) -> web.Response:
    await auth.require(request, "floor")
    board = request.app[SERVICES].demo_buttons
    return web.json_response({"device": board.config.device, "buttons": board.buttons()})


@routes.post("/api/v1/demo/buttons/{pin}/press")
async def press(request: web.Request) -> web.Response:
    await auth.require(request, "floor")
    board = request.app[SERVICES].demo_buttons
    raw = request.match_info["pin"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not board.pressable(int(raw)):
        raise NotFound(f"no button on pin '{raw[:8]}'", field="pin")
    if board.pressing:  # one finger: a burst of taps must not queue up worker threads
        raise Conflict("a button is being pressed; try again in a moment", field="pin")
    await board.press(int(raw))
    return web.Response(status=204)
