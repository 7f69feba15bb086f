"""Pledge: keeps a company's promises to its customers, exactly once, within budget, on a ledger."""

__version__ = "0.1.0"
