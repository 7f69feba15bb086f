"""The web shell both HTTP entry points stand on: keys and scopes, calls with idempotency and audit, errors,
input checks, body rules, rate limits, jobs and the per-app context (ADR 0021)."""
