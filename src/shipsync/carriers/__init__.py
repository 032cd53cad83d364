"""shipsync.carriers (placeholder)."""
