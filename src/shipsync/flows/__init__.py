"""shipsync.flows (placeholder)."""
