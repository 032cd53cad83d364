"""shipsync.idempotency (placeholder)."""
