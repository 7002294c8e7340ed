"""The migration history as opening a database reads it, without Alembic, agrees with Alembic."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from keyroute.storage.migrations import SCRIPT_LOCATION, alembic_config, head_revision
from keyroute.storage.registry import open_store


def test_the_head_read_from_file_names_is_alembics_single_head() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [head_revision()]


def test_every_migration_file_is_named_after_its_revision() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    for script in scripts.walk_revisions():
        name = Path(script.path).name
        assert re.fullmatch(rf"{script.revision}_\w+\.py", name), name
    files = list((SCRIPT_LOCATION / "versions").glob("[0-9]*.py"))
    assert len(files) == len(list(scripts.walk_revisions()))


def test_opening_a_current_database_loads_no_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    asyncio.run(open_store(url).migrate())  # in this process: Alembic writes the schema
    code = (
        "import asyncio, sys\n"
        "import keyroute.cli.main\n"
        "from keyroute.storage.registry import open_store\n"
        "async def main():\n"
        f"    store = open_store({url!r})\n"
        "    await store.open()\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
