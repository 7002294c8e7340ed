"""Background batch writing shared by the record sinks (usage, audit): a bounded memory queue,
a background task that writes batches through an idempotent store, and local spill files for
what the store cannot take yet. Depends on ``core`` and the standard library only."""
