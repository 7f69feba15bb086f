"""Fake payment providers served on loopback: the provider's side of each rail, with injectable faults."""
