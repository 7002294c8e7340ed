"""The ledger: capped counters with atomic reserve, settle, release and read (``base.Ledger``).

Admission counts plans' monthly quotas, rate-limit windows and budgets on it. ``memory`` serves
one process exactly; ``sqlite`` serves the worker processes of one host exactly, leasing room
from a file next to the database so that most reservations cost no I/O (``leases`` explains why
the cap still holds). A Redis backend implements the same protocol with Lua scripts.
"""

from keyroute.ledger.base import Charge, Hold, Ledger, Settled, Shortfall

__all__ = ["Charge", "Hold", "Ledger", "Settled", "Shortfall"]
