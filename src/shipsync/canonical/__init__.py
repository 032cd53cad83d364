"""shipsync.canonical (placeholder)."""
