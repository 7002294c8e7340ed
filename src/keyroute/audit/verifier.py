"""``verify``: recompute one audit chain and name its first broken record.

Invariants:
- The chain is read in ``seq`` order, a page at a time (constant memory).
- A record is broken when its stored hash is not the hash of its own fields and the previous
  record's hash (it was edited), when its ``prev_hash`` is not the previous record's hash, or
  when its ``seq`` does not follow the previous one (a record before it was deleted, inserted
  or moved). The first record must be ``seq`` 1 after ``GENESIS``, or be covered by the chain's
  latest checkpoint (the records before it were pruned, and the checkpoint says so).
- ``expect`` (a published head, ``(seq, hash)``) must still be in the chain with that hash: a
  truncated tail, or a chain rewritten from some point on, fails it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from keyroute.core.audit import GENESIS, AuditQuery, AuditRow, AuditStore, row_hash


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    log: str
    records: int
    head: AuditRow | None
    broken: AuditRow | None = None  # the first broken record (None: intact)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _name(row: AuditRow) -> str:
    ident = f"record seq {row.seq} (id {row.entry.id}"
    if row.entry.request_id:
        ident += f", request {row.entry.request_id}"
    return ident + ")"


def _link_problem(row: AuditRow, prev: AuditRow | None) -> str | None:
    if prev is None:
        if row.seq == 1 and row.prev_hash != GENESIS:
            return f"{_name(row)} is the first record but does not follow the chain's start"
        return None
    if row.seq != prev.seq + 1:
        return (
            f"seq {prev.seq + 1} is missing before {_name(row)}: deleted or moved"
            if row.seq > prev.seq + 1
            else f"{_name(row)} repeats or precedes seq {prev.seq}"
        )
    if row.prev_hash != prev.hash:
        return (
            f"{_name(row)} does not follow seq {prev.seq}: "
            "a record was changed, inserted or reordered"
        )
    return None


def _start_problem(first: AuditRow, pruned: dict[str, object] | None) -> str | None:
    if first.seq == 1:
        return None
    if pruned is None or pruned.get("pruned_through_seq") != first.seq - 1:
        return (
            f"{_name(first)} is the first record, but no checkpoint records the pruning "
            f"of seq 1 to {first.seq - 1}"
        )
    if pruned.get("pruned_hash") != first.prev_hash:
        return f"{_name(first)} does not follow the last pruned record its checkpoint names"
    return None


async def verify(store: AuditStore, log: str, *, expect: tuple[int, str] | None = None) -> Verdict:
    prev: AuditRow | None = None
    first: AuditRow | None = None
    pruned: dict[str, object] | None = None
    expected_seen = False
    count = 0
    async for row in store.scan(AuditQuery(log=log)):
        count += 1
        first = first or row
        problem = _link_problem(row, prev)
        if problem is None and row_hash(row.prev_hash, row.entry, row.seq) != row.hash:
            problem = f"{_name(row)} was changed: its hash does not match its contents"
        if problem is not None:
            return Verdict(log=log, records=count, head=prev, broken=row, problem=problem)
        if row.entry.kind == "checkpoint":
            pruned = json.loads(row.entry.data)
        if expect is not None and row.seq == expect[0]:
            expected_seen = True
            if row.hash != expect[1]:
                return Verdict(
                    log=log,
                    records=count,
                    head=prev,
                    broken=row,
                    problem=f"{_name(row)} is not the published head: the chain was rewritten",
                )
        prev = row
    if first is not None:
        problem = _start_problem(first, pruned)
        if problem is not None:
            return Verdict(log=log, records=count, head=prev, broken=first, problem=problem)
    if expect is not None and not expected_seen:
        return Verdict(
            log=log,
            records=count,
            head=prev,
            problem=f"the published head seq {expect[0]} is not in the chain: its tail was cut",
        )
    return Verdict(log=log, records=count, head=prev)
