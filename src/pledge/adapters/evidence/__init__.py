"""Evidence files for claims: checked by content, re-encoded, kept content-addressed (ADR 28)."""
