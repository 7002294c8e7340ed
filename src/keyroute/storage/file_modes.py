"""The SQLite database file and its companions on disk, kept private to the owner (0600).

Invariants: the database file is created empty with mode 0600 before SQLite first opens it, so
the ``-wal``, ``-shm`` and ``-journal`` files SQLite creates next to it are 0600 too (SQLite gives
them the database file's mode). Any of them found readable or writable by group or others (an
install from before this rule) is narrowed to the owner's bits. A file the process may not
change is reported in the log and left as it is.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

COMPANIONS = ("", "-wal", "-shm", "-journal")
log = logging.getLogger("keyroute.storage")


def secure_files(path: Path, *, create: bool) -> None:
    """Make the database file (created empty when ``create``) and its companions 0600."""
    if create and not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    for suffix in COMPANIONS:
        companion = path.with_name(path.name + suffix)
        try:
            mode = stat.S_IMODE(companion.stat().st_mode)
            if mode & 0o077:
                companion.chmod(mode & 0o700)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours to change: say so, keep serving
            log.warning("cannot make %s private: %s", companion, exc.strerror)
