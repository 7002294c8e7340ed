"""Accounting: what requests cost and how much a workspace used.

``cost`` prices a request's token usage exactly (integer pico-dollars); ``pricebook`` applies a
workspace's price overrides and negotiated discounts on top of the model catalogue.
``usage_row`` turns a finished ``RequestRecord`` into a usage-table row; ``UsageWriter`` is the
``RecordSink`` that queues records and writes them in batches off the request path (spilling to
``UsageSpill`` files when it cannot keep up, so no record is lost); ``UsageReport`` totals the
usage table for ``keyroute usage`` and the admin API.
"""
