"""The web console for operations, finance and customer service, and the customer page (ADR 0008)."""
