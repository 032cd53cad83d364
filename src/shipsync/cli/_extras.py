"""Mark a command as needing an optional extra, so ``--help`` can say why it is unavailable.

A command module imports only click at its top and the library inside the command function, so
loading every command is cheap. What a command cannot know before it runs is whether its extra is
installed; :func:`requires` records which importable modules it needs, and the top-level group
checks them with ``importlib.util.find_spec`` (which finds a module without importing it).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TypeVar

import click

__all__ = ["missing_extra", "requires"]

C = TypeVar("C", bound=click.Command)

_ATTRIBUTE = "_shipsync_requires"


def requires(extra: str, *modules: str) -> Callable[[C], C]:
    """Record that a command needs ``modules``, which the ``extra`` extra installs."""

    def mark(command: C) -> C:
        setattr(command, _ATTRIBUTE, (extra, modules))
        return command

    return mark


def missing_extra(command: click.Command) -> str | None:
    """Why ``command`` cannot run (its extra is not installed), or ``None`` when it can."""
    extra, modules = getattr(command, _ATTRIBUTE, ("", ()))
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"needs the {extra!r} extra: pip install 'shipsync[{extra}]' ({module} missing)"
    return None
