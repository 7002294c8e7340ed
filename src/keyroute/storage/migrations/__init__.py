"""The Alembic migration history shared by every SQL backend, shipped inside the package.

No ``alembic.ini`` is needed at runtime: ``alembic_config(url)`` builds the configuration in code
with ``script_location`` pointing at this folder. ``env.py`` runs the migrations against the
connection or URL it is given; ``versions/`` holds one file per schema change, never edited once
released. The target metadata is ``keyroute.storage.schema.metadata``.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(sync_url: str | None = None) -> Config:
    """An Alembic ``Config`` for this history; ``sync_url`` is a synchronous SQLAlchemy URL."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if sync_url is not None:
        config.set_main_option("sqlalchemy.url", sync_url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest migration this keyroute ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
