"""The application factory that ``keyroute serve --workers N`` gives uvicorn (one per worker)."""

from __future__ import annotations

from starlette.applications import Starlette

from keyroute.api.app import create_app
from keyroute.config.load import load
from keyroute.services import Services


def create_from_env() -> Starlette:
    return create_app(Services.build(load()), freeze_gc=True)
