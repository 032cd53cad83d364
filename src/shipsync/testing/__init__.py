"""shipsync.testing (placeholder)."""
