"""Webhooks: the transactional outbox, and delivery with signatures and retries."""
