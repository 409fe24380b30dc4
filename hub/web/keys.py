"""Typed application keys."""

from aiohttp import web

from hub.services.container import Services

SERVICES = web.AppKey("services", Services)
