"""Context-manager mixins: every store and log closes itself at the end of a ``with`` block.

``Closing`` gives a class with ``close()`` the ``with`` form; ``AsyncClosing`` gives a class
with ``async close()`` the ``async with`` form. Both return the object itself on entry.
"""

from __future__ import annotations

from typing import Any, Self

__all__ = ["AsyncClosing", "Closing"]


class Closing:
    """``with obj: ...`` calls ``obj.close()`` at the end."""

    def close(self) -> None:  # pragma: no cover - every user defines its own
        """Release what the object holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClosing:
    """``async with obj: ...`` awaits ``obj.close()`` at the end."""

    async def close(self) -> Any:  # pragma: no cover - every user defines its own
        """Release what the object holds."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
