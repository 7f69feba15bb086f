"""Selection engines: a campaign's window and rule run where the purchase history lives (ADR 29)."""
