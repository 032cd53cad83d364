"""OpenTelemetry traces and metrics for shipsync, through the API only.

shipsync never configures an OpenTelemetry SDK: with the ``otel`` extra installed and no SDK
configured, every hook returns at once. Configure an SDK (yourself, or with
``opentelemetry-instrument``) and the event logs, the dispatcher, the webhook receiver, the carrier
client, the Odoo gateway and the reconciler emit spans and metrics; see ``docs/telemetry.md``.
"""

from __future__ import annotations

from typing import Any

from shipsync.telemetry._core import SCOPE, available, configure, enabled, set_enabled
from shipsync.telemetry._hooks import SYSTEM, without_trace_context

__all__ = [
    "SCOPE",
    "SYSTEM",
    "ShipsyncInstrumentor",
    "available",
    "configure",
    "enabled",
    "set_enabled",
    "without_trace_context",
]


class ShipsyncInstrumentor:
    """The ``opentelemetry_instrumentor`` entry point (``opentelemetry-instrument`` loads it).

    shipsync's hooks are always in place; ``instrument`` turns them on (they are on by default)
    and takes the providers to use, as every instrumentor does; ``uninstrument`` turns them off.
    """

    def instrumentation_dependencies(self) -> list[str]:
        """No third-party library is instrumented: shipsync instruments itself."""
        return []

    def instrument(self, **kwargs: Any) -> None:
        """Emit telemetry, to ``tracer_provider``/``meter_provider`` when given."""
        configure(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
        )
        set_enabled(True)

    def uninstrument(self, **kwargs: Any) -> None:
        """Stop emitting telemetry."""
        set_enabled(False)
        configure()
