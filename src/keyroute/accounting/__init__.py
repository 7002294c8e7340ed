"""Accounting: what requests cost and what they used.

``cost`` prices a request's token usage exactly (integer pico-dollars); ``pricebook`` applies a
workspace's price overrides and negotiated discounts on top of the model catalogue.
"""
