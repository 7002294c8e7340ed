"""The canonical model: requests, responses, stream events, usage and errors.

Invariants: stdlib only, no I/O, no clocks. Every wire format (``keyroute.wire``) decodes into and
encodes from these types, so a feature is expressed once here and translated at the edges.
"""
