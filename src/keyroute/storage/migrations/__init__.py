"""The Alembic migration history shared by every SQL backend, shipped inside the package.

No ``alembic.ini`` is needed at runtime: ``alembic_config(url)`` builds the configuration in code
with ``script_location`` pointing at this folder. ``env.py`` runs the migrations against the
connection or URL it is given; ``versions/`` holds one file per schema change, never edited once
released. The target metadata is ``keyroute.storage.schema.metadata``.

Alembic itself loads only to migrate: opening a database compares its ``alembic_version`` with
``head_revision()``, which reads the file names of ``versions/`` (the history is linear and each
file is named after its revision, ``NNNN_what.py``; a unit test holds both to Alembic's own view),
so every command and worker start skips importing Alembic and every migration script.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().parent
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def alembic_config(sync_url: str | None = None) -> Config:
    """An Alembic ``Config`` for this history; ``sync_url`` is a synchronous SQLAlchemy URL."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if sync_url is not None:
        config.set_main_option("sqlalchemy.url", sync_url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest migration this keyroute ships: the highest ``NNNN`` of ``versions/``."""
    found = (_REVISION_FILE.match(p.name) for p in (SCRIPT_LOCATION / "versions").iterdir())
    return max((m.group(1) for m in found if m), default=None)
