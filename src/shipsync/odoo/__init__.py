"""shipsync.odoo (placeholder)."""
