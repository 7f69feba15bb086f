"""The ``pledge`` command line (the contract in CONTRACT.md)."""
