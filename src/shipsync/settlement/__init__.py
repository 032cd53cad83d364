"""shipsync.settlement (placeholder)."""
