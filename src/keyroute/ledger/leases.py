"""The lease transaction of ``SqliteLedger``: one ``BEGIN IMMEDIATE`` over the ledger file.

Two tables. ``ledger_counters`` holds each counter's settled amount per period, and whether it
is ``tight`` (a reservation was refused on it: leases there shrink to what is held).
``ledger_leases`` holds, per worker process, the room it was granted and has not settled yet
(``amount``), what it held at its last synchronisation (``held``, informative), and when the
lease expires unless renewed.

**Invariant (why the cap holds):** for every counter and period,
``settled + sum(amount of every live lease) <= cap``. A transaction grants a lease only when it
fits in ``cap - settled - the other workers' leases``, and transactions are serialised by
SQLite's write lock (``BEGIN IMMEDIATE``), so two workers never grant from the same room. A
worker holds reservations only inside its own lease, and settling moves an amount from its lease
to ``settled`` (never more than was reserved, for the worst-case reservations of budgets and
quotas), so the sum never grows past the cap. A lease whose worker stopped renewing it (a crashed
process) expires after ``ttl`` seconds and is deleted by the next transaction of any worker,
which gives its room back.

A bucket (``Ask.window``: a rate limit) is the same counter whose settled amount drains at
``cap`` per ``window`` seconds from ``stamp``; a transaction drains it before anything else, so
its room grows with time alone. A tight counter stops being tight once a quarter of its cap is
free again (a bucket drained, a cap raised), so leases grow again and reservations stop taking
a transaction each.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from keyroute.ledger.base import drain

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ledger_counters ("
    " counter TEXT NOT NULL, period TEXT NOT NULL, settled INTEGER NOT NULL DEFAULT 0,"
    " period_end REAL NOT NULL, tight INTEGER NOT NULL DEFAULT 0,"
    " stamp REAL NOT NULL DEFAULT 0,"
    " PRIMARY KEY (counter, period)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS ledger_leases ("
    " counter TEXT NOT NULL, period TEXT NOT NULL, worker TEXT NOT NULL,"
    " amount INTEGER NOT NULL, held INTEGER NOT NULL, expires REAL NOT NULL,"
    " PRIMARY KEY (counter, period, worker)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS ledger_leases_expiry ON ledger_leases (expires)",
)
SCHEMA_VERSION = 2
_UPGRADES = {1: "ALTER TABLE ledger_counters ADD COLUMN stamp REAL NOT NULL DEFAULT 0"}

_COUNTER = "SELECT settled, tight, stamp FROM ledger_counters WHERE counter = ? AND period = ?"
_NEW_COUNTER = (
    "INSERT INTO ledger_counters (counter, period, settled, period_end) VALUES (?, ?, 0, ?)"
)
_SAVE_COUNTER = (
    "UPDATE ledger_counters SET settled = ?, tight = ?, stamp = ? WHERE counter = ? AND period = ?"
)
_OTHERS = (
    "SELECT COALESCE(SUM(amount), 0), COALESCE(SUM(MAX(amount - held, 0)), 0)"
    " FROM ledger_leases WHERE counter = ? AND period = ? AND worker != ?"
)
_SAVE_LEASE = (
    "INSERT INTO ledger_leases (counter, period, worker, amount, held, expires)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (counter, period, worker)"
    " DO UPDATE SET amount = excluded.amount, held = excluded.held, expires = excluded.expires"
)
_LEASED = "SELECT COALESCE(SUM(amount), 0) FROM ledger_leases WHERE counter = ? AND period = ?"
_DROP_LEASE = "DELETE FROM ledger_leases WHERE counter = ? AND period = ? AND worker = ?"
_EXPIRE = "DELETE FROM ledger_leases WHERE expires < ?"
_WORKERS = "SELECT COUNT(DISTINCT worker) FROM ledger_leases WHERE worker != ?"
_SHARE = 4  # a lease takes at most 1/(4 x workers) of the room left beyond the request


@dataclass(frozen=True, slots=True)
class Ask:
    """One counter's synchronisation: flush ``flush`` settled amounts, keep ``held``, and grow
    the lease by ``need`` beyond ``held`` (0: only renew, or shrink if the counter is tight).
    ``lease`` is the worker's lease as it knows it, ``drop`` gives the lease back entirely."""

    counter: str
    period: str
    cap: int
    period_end: float
    lease: int
    held: int
    flush: int
    need: int = 0
    drop: bool = False
    window: float = 0.0  # a bucket's (``Charge.window``)


@dataclass(frozen=True, slots=True)
class Answer:
    """The worker's new ``lease``; ``granted`` is False when ``need`` did not fit, then
    ``waitable`` says whether other workers hold unused room that tightness will return.
    ``outside`` is ``settled`` plus the other workers' leases (for the remaining room)."""

    lease: int
    granted: bool
    waitable: bool
    settled_before: int
    settled_after: int
    outside: int
    tight: bool


def prepare(conn: sqlite3.Connection) -> None:
    """Create the tables (once) on a connection in autocommit mode."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("BEGIN IMMEDIATE")  # one process creates or upgrades the file
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"the ledger file is at version {version}; this keyroute knows {SCHEMA_VERSION}"
            )
        for old in range(version, SCHEMA_VERSION) if version else ():  # an older file
            conn.execute(_UPGRADES[old])
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def sync(
    conn: sqlite3.Connection, worker: str, asks: list[Ask], now: float, ttl: float
) -> list[Answer]:
    """One transaction: expire dead leases, then flush, renew, grow or shrink each lease."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_EXPIRE, (now,))
        workers = 1 + int(conn.execute(_WORKERS, (worker,)).fetchone()[0])
        answers = [_one(conn, worker, ask, now, now + ttl, workers) for ask in asks]
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return answers


def _one(
    conn: sqlite3.Connection, worker: str, ask: Ask, now: float, expires: float, workers: int
) -> Answer:
    key = (ask.counter, ask.period)
    row = conn.execute(_COUNTER, key).fetchone()
    if row is None:
        conn.execute(_NEW_COUNTER, (*key, ask.period_end))
        settled, tight, stamp = 0, False, now
    else:
        settled, tight, stamp = int(row[0]), bool(row[1]), float(row[2])
    if ask.window:  # a bucket: drain first; a flush may be negative (an estimate corrected)
        settled, stamp = drain(settled, stamp, ask.cap, ask.window, now)
        before = settled
        settled = max(0, settled + ask.flush)
    else:
        before = settled
        settled += ask.flush
    others, others_free = (int(v) for v in conn.execute(_OTHERS, (*key, worker)).fetchone())
    room = ask.cap - settled - others - ask.held  # what this worker may lease beyond its holds
    if tight and room - ask.need >= max(1, ask.cap // _SHARE):
        tight = False  # a bucket drained, or the cap was raised: leases may grow again
    granted, waitable = True, False
    if ask.need:
        if room >= ask.need:
            extra = 0 if tight else (room - ask.need) // (_SHARE * workers)
            lease = ask.held + ask.need + extra
        else:  # refused: the counter is at its cap; leases there shrink to what is held
            granted, tight = False, True
            waitable = room + others_free >= ask.need
            lease = ask.held
    elif tight:
        lease = ask.held
    else:  # renew what it has, within what is left (settlements above reservations shrink it)
        lease = max(ask.held, min(ask.lease - ask.flush, ask.held + max(room, 0)))
    conn.execute(_SAVE_COUNTER, (settled, int(tight), stamp, *key))
    if ask.drop and not ask.held:
        conn.execute(_DROP_LEASE, (*key, worker))
        lease = 0
    else:
        conn.execute(_SAVE_LEASE, (*key, worker, lease, ask.held, expires))
    return Answer(
        lease=lease,
        granted=granted,
        waitable=waitable,
        settled_before=before,
        settled_after=settled,
        outside=settled + others,
        tight=tight,
    )


def outside(
    conn: sqlite3.Connection, counters: list[tuple[str, str, int, float]], now: float
) -> list[int]:
    """Each counter's settled amount (a bucket's drained to ``now``) plus every lease on it,
    for a worker that has none: ``(counter, period, cap, window)`` each. A read."""
    found = []
    for counter, period, cap, window in counters:
        row = conn.execute(_COUNTER, (counter, period)).fetchone()
        level = 0
        if row is not None:
            level = int(row[0])
            if window:
                level = drain(level, float(row[2]), cap, window, now)[0]
        leased = conn.execute(_LEASED, (counter, period)).fetchone()[0]
        found.append(level + int(leased))
    return found


def seed(conn: sqlite3.Connection, ask: tuple[str, str, float, int, int]) -> None:
    """Raise a counter's settled amount to at least ``amount`` (``(counter, period,
    period_end, cap, amount)``); tight if that leaves less than the leases on it."""
    counter, period, period_end, cap, amount = ask
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(_COUNTER, (counter, period)).fetchone()
        if row is None:
            conn.execute(_NEW_COUNTER, (counter, period, period_end))
        if row is None or int(row[0]) < amount:
            leased = int(conn.execute(_LEASED, (counter, period)).fetchone()[0])
            conn.execute(
                "UPDATE ledger_counters SET settled = ?, tight = MAX(tight, ?)"
                " WHERE counter = ? AND period = ?",
                (amount, int(amount + leased > cap), counter, period),
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def settled(conn: sqlite3.Connection, counter: str, period: str) -> int:
    row = conn.execute(_COUNTER, (counter, period)).fetchone()
    return 0 if row is None else int(row[0])


def tight_counters(conn: sqlite3.Connection, now: float) -> set[tuple[str, str]]:
    """The counters whose leases must shrink to what is held (read without the write lock)."""
    rows = conn.execute(
        "SELECT counter, period FROM ledger_counters WHERE tight = 1 AND period_end > ?", (now,)
    ).fetchall()
    return {(str(c), str(p)) for c, p in rows}


def prune(conn: sqlite3.Connection, before: float) -> None:
    """Forget counters of periods that ended before ``before`` (and their leases)."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "DELETE FROM ledger_leases WHERE (counter, period) IN"
        " (SELECT counter, period FROM ledger_counters WHERE period_end < ?)",
        (before,),
    )
    conn.execute("DELETE FROM ledger_counters WHERE period_end < ?", (before,))
    conn.execute("COMMIT")
