"""The ``shipsync`` command: the top floor, importing the library the way any application does.

Every click command lives in this package; no library package imports click.
"""

from shipsync.cli._main import main

__all__ = ["main"]
