"""shipsync.webhooks (placeholder)."""
