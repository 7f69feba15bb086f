"""Payout rails: one module per provider, each implementing usecases.payout_ports.PayoutRail."""
