"""Where shipsync finds its tracer and its instruments, and whether to use them at all.

Theory of operation. shipsync calls only the OpenTelemetry *API*. With no SDK configured the API
hands out proxies whose spans record nothing; shipsync goes one step further and asks, once per
unit of work (a webhook delivery, a dispatch batch, a carrier operation: the hooks inside reuse
the answer), whether the tracer provider and the meter provider in force are real ones (an SDK's)
and skips its span and metric work when they are not: the cost left is two global reads and a
cached identity check. Providers passed to :func:`configure` (or to the instrumentor's
``instrument``) win over the global ones, which is how tests and hosts with several providers
pick theirs.

The handles (tracer, instruments) are rebuilt when a provider changes, so an SDK configured after
shipsync was imported is picked up at the next call. ``OTEL_SEMCONV_STABILITY_OPT_IN`` is read at
that moment too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from shipsync._version import __version__

try:  # the ``otel`` extra
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - exercised by installs without the extra
    _metrics = None  # type: ignore[assignment]
    _trace = None  # type: ignore[assignment]

__all__ = [
    "SCOPE",
    "Handles",
    "Instruments",
    "available",
    "configure",
    "enabled",
    "handles",
    "set_enabled",
]

SCOPE = "shipsync"
"""The instrumentation scope name of every span and instrument shipsync makes."""

_DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAG_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0)


@attrs.frozen
class Instruments:
    """Every metric instrument shipsync records to (one set per meter provider)."""

    deliveries: Any
    duplicates: Any
    event_lag: Any
    handler_duration: Any
    handler_failures: Any
    dead_lettered: Any
    sent_messages: Any
    carrier_duration: Any
    carrier_resends: Any
    breaker_changes: Any
    unmapped_codes: Any
    odoo_round_trips: Any
    reconciliation_lines: Any
    dlq_depth: Any


@attrs.frozen
class Handles:
    """What a call site needs: a tracer (None: no tracing) and instruments (None: no metrics)."""

    tracer: Any
    instruments: Instruments | None
    messaging_dup: bool

    @property
    def active(self) -> bool:
        """Whether anything records at all."""
        return self.tracer is not None or self.instruments is not None


_OFF = Handles(tracer=None, instruments=None, messaging_dup=False)


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.enabled = os.environ.get("SHIPSYNC_TELEMETRY", "").lower() not in {"off", "0", "false"}
        self.tracer_provider: Any = None
        self.meter_provider: Any = None
        self.key: tuple[Any, Any] | None = None
        self.handles: Handles = _OFF
        self.dlq_sources: list[Callable[[], Iterable[tuple[int, dict[str, str]]]]] = []


_state = _State()


def available() -> bool:
    """Whether the OpenTelemetry API is installed (the ``otel`` extra)."""
    return _trace is not None


def enabled() -> bool:
    """Whether shipsync emits telemetry when an SDK is configured (the default)."""
    return _state.enabled and available()


def set_enabled(value: bool) -> None:
    """Turn shipsync's spans and metrics on or off (``SHIPSYNC_TELEMETRY=off`` at start-up)."""
    _state.enabled = bool(value)
    _state.key = None


def configure(*, tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Use these providers instead of the global ones (None: back to the global one)."""
    with _state.lock:
        _state.tracer_provider = tracer_provider
        _state.meter_provider = meter_provider
        _state.key = None


def _real(provider: Any, proxy_names: frozenset[str]) -> bool:
    return provider is not None and type(provider).__name__ not in proxy_names


_PROXY_TRACERS = frozenset({"ProxyTracerProvider", "NoOpTracerProvider"})
_PROXY_METERS = frozenset({"_ProxyMeterProvider", "NoOpMeterProvider"})


def handles() -> Handles:
    """The tracer and instruments in force now (rebuilt when a provider changed)."""
    if not _state.enabled or _trace is None or _metrics is None:
        return _OFF
    tp = _state.tracer_provider or _trace.get_tracer_provider()
    mp = _state.meter_provider or _metrics.get_meter_provider()
    key = _state.key
    if key is not None and key[0] is tp and key[1] is mp:
        return _state.handles
    with _state.lock:
        tracer = tp.get_tracer(SCOPE, __version__) if _real(tp, _PROXY_TRACERS) else None
        instruments = (
            _instruments(mp.get_meter(SCOPE, __version__)) if _real(mp, _PROXY_METERS) else None
        )
        opt_in = {
            part.strip() for part in os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "").split(",")
        }
        _state.handles = Handles(
            tracer=tracer, instruments=instruments, messaging_dup="messaging/dup" in opt_in
        )
        _state.key = (tp, mp)
        return _state.handles


def add_dead_letter_source(source: Callable[[], Iterable[tuple[int, dict[str, str]]]]) -> None:
    """Register a callable giving (open letters, attributes) pairs for the DLQ depth gauge."""
    with _state.lock:
        _state.dlq_sources.append(source)


def _observe_dead_letters(_options: Any) -> Iterable[Any]:
    from opentelemetry.metrics import Observation

    out = []
    for source in list(_state.dlq_sources):
        try:
            for value, attributes in source():
                out.append(Observation(value, attributes))
        except Exception:  # a store that went away: no observation rather than a failed export
            continue
    return out


def _instruments(meter: Any) -> Instruments:
    return Instruments(
        deliveries=meter.create_counter(
            "shipsync.webhook.deliveries",
            unit="{delivery}",
            description="Webhook deliveries received, by outcome.",
        ),
        duplicates=meter.create_counter(
            "shipsync.duplicates",
            unit="{event}",
            description="Duplicates absorbed (webhook deliveries and dispatched handler pairs).",
        ),
        event_lag=meter.create_histogram(
            "shipsync.event.lag",
            unit="s",
            description="Seconds from the carrier's event time to a stage (received, handled).",
            explicit_bucket_boundaries_advisory=_LAG_BUCKETS,
        ),
        handler_duration=meter.create_histogram(
            "messaging.process.duration",
            unit="s",
            description="Duration of a handler's processing of one event, retries included.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        ),
        handler_failures=meter.create_counter(
            "shipsync.handler.failures",
            unit="{failure}",
            description="Handler runs that failed after their last attempt.",
        ),
        dead_lettered=meter.create_counter(
            "shipsync.dead_letters.recorded",
            unit="{letter}",
            description="Dead letters written, by handler and error type.",
        ),
        sent_messages=meter.create_counter(
            "messaging.client.sent.messages",
            unit="{message}",
            description="Events published to an event log.",
        ),
        carrier_duration=meter.create_histogram(
            "shipsync.carrier.call.duration",
            unit="s",
            description="Duration of one carrier HTTP attempt, by carrier, operation and status.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        ),
        carrier_resends=meter.create_counter(
            "shipsync.carrier.resends",
            unit="{request}",
            description="Carrier requests sent again after a retryable failure.",
        ),
        breaker_changes=meter.create_counter(
            "shipsync.carrier.breaker.changes",
            unit="{change}",
            description="Circuit breaker state changes, by carrier and new state.",
        ),
        unmapped_codes=meter.create_counter(
            "shipsync.carrier.unmapped_codes",
            unit="{event}",
            description="Carrier tracking events whose code maps to no canonical milestone.",
        ),
        odoo_round_trips=meter.create_counter(
            "shipsync.odoo.round_trips",
            unit="{call}",
            description="JSON-RPC calls made to Odoo, by model and method.",
        ),
        reconciliation_lines=meter.create_counter(
            "shipsync.reconciliation.lines",
            unit="{line}",
            description="Invoice lines reconciled, by class.",
        ),
        dlq_depth=meter.create_observable_gauge(
            "shipsync.dead_letters.open",
            callbacks=[_observe_dead_letters],
            unit="{letter}",
            description="Open dead letters in each watched store.",
        ),
    )
