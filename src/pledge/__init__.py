"""Pledge: keeps a company's promises to its customers, exactly once, within budget, on an auditable ledger."""

__version__ = "0.1.0"
