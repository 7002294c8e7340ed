"""Migration scripts, one per schema change, applied in ``down_revision`` order.

A released migration is never edited; a schema change is a new file here.
"""
