"""What shipsync's OpenTelemetry hooks cost: a flow's events/s in three modes.

Run: ``python bench/telemetry.py [--shipments 120] [--rounds 5] [--flow sample|demo]``. Two
flows, each run in a fresh directory each time:

* ``sample`` (the default): :class:`shipsync.testing.sample_flow.SampleFlow`, everything in one
  thread with no network (the fake carrier through ``httpx.MockTransport``, signed webhooks
  handed straight to the receiver, the SQLite event log, the dispatcher with two handlers that
  only count, a dead letter now and then). An event does little else here, so this is where the
  telemetry's share is largest;
* ``demo``: what ``shipsync demo`` runs (:func:`shipsync.cli._demo.run_demo`): the fake carrier
  and the webhook receiver served over HTTP on localhost ports by uvicorn threads in this
  process, booking faults and 503s retried, webhooks duplicated and reordered, the dispatcher's
  four handlers (state fold, SQLite ledger, outbox notifier, accruals), the replay of dead
  letters and the closing check against the carrier's tracking API. A run whose checks fail
  stops the bench.

Each flow runs in three modes, interleaved round by round (the order rotating from one round to
the next):

* ``off``: ``shipsync.telemetry.set_enabled(False)``: the hooks return at their first line;
* ``api``: the OpenTelemetry API installed, no SDK configured (what a library user gets);
* ``sdk``: an SDK tracer provider with a **batch** span processor (what a production setup uses)
  into an in-memory exporter, and an SDK meter provider with an in-memory reader (every span and
  every point is really recorded; the exporter is flushed and emptied after each run, so it does
  not grow across rounds). ``--simple`` uses the simple (synchronous) processor instead;
  ``--signals traces`` or ``--signals metrics`` gives shipsync only that SDK provider (the other
  stays the API's no-op), for a deployment that exports only one of them. The SDK's own
  environment variables apply as usual, ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG`` and
  ``OTEL_METRICS_EXEMPLAR_FILTER`` among them.

Figures are events dispatched per CPU-second of this process (``time.process_time``, which counts
the batch processor's worker thread too), the median of the rounds, so other load on the machine
disturbs them less; the ratio column compares each mode with ``off``. Targets: ``api`` within 3 %
of ``off``, ``sdk`` within 15 %.

The ``sdk floor`` line says what the SDK alone charges for the spans and points one event makes:
a run's very spans (names, kinds, links, attributes, span events, parents) and metric points
(instruments, attributes, and whether a recording span was current, which decides exemplar
sampling) are recorded once, then replayed through the same providers with no shipsync code
around them. That is the best ratio any instrumentation emitting those spans and points could
reach.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipsync import telemetry
from shipsync.testing.sample_flow import SampleFlow


def _run_flow(flow: str, shipments: int) -> tuple[int, float]:
    """One run of ``flow``: (events dispatched, CPU seconds of this process)."""
    return _run_demo(shipments) if flow == "demo" else _run_sample(shipments)


def _run_sample(shipments: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-") as work:
        flow = SampleFlow(work, shipments=shipments)
        gc.collect()
        started = time.process_time()
        flow.run(hours=208)
        flow.replay()
        spent = time.process_time() - started
        events = flow.report.events
        flow.close()
    return events, spent


def _run_demo(shipments: int) -> tuple[int, float]:
    from shipsync.cli._demo import run_demo

    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-demo-") as work:
        gc.collect()
        started = time.process_time()  # every thread's: the uvicorn servers' too
        failed = run_demo(shipments=shipments, workdir=work, echo=lines.append, progress=False)
        spent = time.process_time() - started
        if failed:
            raise SystemExit("the demo's checks failed:\n" + "\n".join(lines))
        # Every event the carrier's webhooks brought was published once and dispatched once
        # (the demo checks both), so the log's rows are the events dispatched.
        with contextlib.closing(sqlite3.connect(Path(work) / "events.db")) as db:
            (events,) = db.execute("SELECT count(*) FROM shipsync_events").fetchone()
    return int(events), spent


class _Sdk:
    """The ``sdk`` mode's providers, and what one run recorded."""

    def __init__(self, *, simple: bool, signals: frozenset[str]) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        processor = SimpleSpanProcessor if simple else BatchSpanProcessor
        self.processor = processor.__name__
        self.tracer_provider.add_span_processor(processor(self.exporter))
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        self.signals = signals

    def configure(self, meter_provider: Any = None) -> None:
        """Give shipsync the SDK providers of the signals asked for (None: the API's no-op)."""
        telemetry.set_enabled(True)
        telemetry.configure(
            tracer_provider=self.tracer_provider if "traces" in self.signals else None,
            meter_provider=(meter_provider or self.meter_provider)
            if "metrics" in self.signals
            else None,
        )

    def on(self) -> None:
        self.configure()

    def spans(self) -> list[Any]:
        """The spans of the run just done (flushed), and empty the exporter for the next."""
        self.tracer_provider.force_flush()
        spans = list(self.exporter.get_finished_spans())
        self.exporter.clear()
        return spans


class _Recorded:
    """Every metric point one run made: instrument, value, attributes, and whether a recording
    span was current (the SDK's default exemplar filter samples only those)."""

    def __init__(self) -> None:
        self.instruments: dict[str, tuple[str, tuple[Any, ...], dict[str, Any]]] = {}
        self.points: list[tuple[str, float, dict[str, Any], bool]] = []


class _RecordingMeter:
    """A meter whose synchronous instruments note each point, then pass it on."""

    def __init__(self, meter: Any, recorded: _Recorded) -> None:
        self._meter, self._recorded = meter, recorded

    def __getattr__(self, name: str) -> Any:
        make = getattr(self._meter, name)
        if not name.startswith("create_") or "observable" in name:
            return make
        recorded = self._recorded
        from opentelemetry import trace

        def create(*args: Any, **kwargs: Any) -> Any:
            instrument = make(*args, **kwargs)
            key = str(args[0] if args else kwargs["name"])
            recorded.instruments[key] = (name, args, kwargs)

            def note(value: float, attributes: Any) -> None:
                recording = trace.get_current_span().is_recording()
                recorded.points.append((key, value, dict(attributes or {}), recording))

            class Recording:
                def add(self, value: float, attributes: Any = None) -> None:
                    note(value, attributes)
                    instrument.add(value, attributes)

                def record(self, value: float, attributes: Any = None) -> None:
                    note(value, attributes)
                    instrument.record(value, attributes)

            return Recording()

        return create


class _RecordingMeterProvider:
    def __init__(self, provider: Any) -> None:
        self._provider, self.recorded = provider, _Recorded()

    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        return _RecordingMeter(self._provider.get_meter(*args, **kwargs), self.recorded)


def _record_run(sdk: _Sdk, flow: str, shipments: int) -> tuple[int, list[Any], _Recorded]:
    """One run with the SDK on: its events, its finished spans and its metric points."""
    recording = _RecordingMeterProvider(sdk.meter_provider)
    sdk.configure(meter_provider=recording)
    sdk.spans()
    events, _ = _run_flow(flow, shipments)
    return events, sdk.spans(), recording.recorded


def _sdk_floor(sdk: _Sdk, spans: list[Any], recorded: _Recorded, events: int) -> float:
    """CPU ns per event the SDK alone charges for the very spans and points a run made.

    Each span is started again with its name, kind, links and final attributes (all given at
    start, which costs the SDK no more than setting some later), made current and ended, under a
    parent when it had one; its span events and error status are added again. Each metric point
    is recorded again on a same-shaped instrument with its attributes, inside a recording span
    when it was (the SDK then offers it as an exemplar). No shipsync code runs.
    """
    from opentelemetry import context, trace
    from opentelemetry.trace import Link, Status, StatusCode

    tracer = sdk.tracer_provider.get_tracer("bench-floor")
    meter = sdk.meter_provider.get_meter("bench-floor")
    instruments = {
        key: getattr(meter, make)(*args, **kwargs)
        for key, (make, args, kwargs) in recorded.instruments.items()
    }
    replayed = [
        (
            s.name,
            s.kind,
            dict(s.attributes or {}),
            [Link(link.context, dict(link.attributes or {})) for link in s.links] or None,
            s.parent is not None,
            [(e.name, dict(e.attributes or {})) for e in s.events],
            s.status.status_code is StatusCode.ERROR,
            s.status.description,
        )
        for s in spans
    ]
    points = [
        (
            getattr(instruments[key], "add", None) or instruments[key].record,
            value,
            attributes,
            recording,
        )
        for key, value, attributes, recording in recorded.points
    ]
    parent = tracer.start_span("bench floor parent")
    parent_context = trace.set_span_in_context(parent)
    costs = []
    for _ in range(3):
        gc.collect()
        started = time.process_time()
        for name, kind, attributes, links, child, span_events, error, why in replayed:
            span = tracer.start_span(
                name,
                context=parent_context if child else None,
                kind=kind,
                attributes=attributes,
                links=links,
            )
            token = context.attach(trace.set_span_in_context(span))
            for event_name, event_attributes in span_events:
                span.add_event(event_name, event_attributes)
            if error:
                span.set_status(Status(StatusCode.ERROR, why))
            context.detach(token)
            span.end()
        token = context.attach(parent_context)
        for point, value, attributes, recording in points:
            if recording:
                point(value, attributes)
        context.detach(token)
        for point, value, attributes, recording in points:
            if not recording:
                point(value, attributes)
        costs.append(time.process_time() - started)
        sdk.spans()
    parent.end()
    sdk.spans()
    return statistics.median(costs) / events * 1e9


def _hook_cost(calls: int = 200_000) -> tuple[float, float]:
    """CPU ns per call of a decorated no-op with telemetry off and with the API only."""
    from shipsync.telemetry._hooks import traced_publish

    class Log:
        table = "bench"

        def publish(self, events: object) -> None:
            return None

        traced = traced_publish(publish)

    log, batch = Log(), [object()]
    out = []
    for enabled in (False, True):
        telemetry.configure()
        telemetry.set_enabled(enabled)
        started = time.process_time()
        for _ in range(calls):
            log.traced(batch)
        decorated = time.process_time() - started
        started = time.process_time()
        for _ in range(calls):
            log.publish(batch)
        plain = time.process_time() - started
        out.append((decorated - plain) / calls * 1e9)
    return out[0], out[1]


def _hooks_per_event(flow: str, shipments: int) -> float:
    """How many times the hooks ask for their handles, per event dispatched."""
    from shipsync.telemetry import _core, _hooks

    count = [0]
    real = _core.handles

    def counting() -> _core.Handles:
        count[0] += 1
        return real()

    setattr(_hooks, "handles", counting)  # noqa: B010  (a benchmark's probe, not an API)
    try:
        events, _ = _run_flow(flow, shipments)
    finally:
        setattr(_hooks, "handles", real)  # noqa: B010
    return count[0] / events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--simple", action="store_true", help="the simple span processor, not the batch one"
    )
    parser.add_argument(
        "--signals",
        default="traces,metrics",
        help="the SDK providers shipsync gets in the sdk mode: traces, metrics or both",
    )
    parser.add_argument(
        "--flow",
        choices=("sample", "demo"),
        default="sample",
        help="the in-process sample flow, or what `shipsync demo` runs (HTTP, four handlers)",
    )
    args = parser.parse_args()
    signals = frozenset(part.strip() for part in args.signals.split(",") if part.strip())
    if not signals or not signals <= {"traces", "metrics"}:
        parser.error("--signals takes traces, metrics or traces,metrics")
    logging.getLogger("shipsync").setLevel(logging.ERROR)  # the unknown-status scenario warns

    sdk = _Sdk(simple=args.simple, signals=signals)

    def off() -> None:
        telemetry.configure()
        telemetry.set_enabled(False)

    def api() -> None:
        telemetry.configure()
        telemetry.set_enabled(True)

    modes: dict[str, Callable[[], None]] = {"off": off, "api": api, "sdk": sdk.on}
    rates: dict[str, list[float]] = {name: [] for name in modes}
    events_seen = 0
    span_count = 0
    _run_flow(args.flow, max(8, args.shipments // 10))  # warm up imports and caches
    names = list(modes)
    for round_number in range(args.rounds):
        # Rotate the order each round, so no mode always runs first (warm caches, GC state).
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            switch = modes[name]
            switch()
            events, spent = _run_flow(args.flow, args.shipments)
            events_seen = events
            rates[name].append(events / spent)
            if name == "sdk":
                span_count = len(sdk.spans())
    off()
    floor_events, floor_spans, recorded = _record_run(sdk, args.flow, args.shipments)
    spans_per_event = len(floor_spans) / floor_events
    attributes_per_span = sum(len(s.attributes or {}) for s in floor_spans) / max(
        1, len(floor_spans)
    )
    points_per_event = len(recorded.points) / floor_events
    floor_ns = _sdk_floor(sdk, floor_spans, recorded, floor_events)
    off()

    load = os.getloadavg()
    print(
        f"shipsync telemetry bench, {args.flow} flow: python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs,"
    )
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.shipments} shipments,")
    print(f"{events_seen} events per run, {args.rounds} rounds; median events per CPU-second")
    print(
        f"(sdk: {' and '.join(sorted(signals))}, {sdk.processor}, "
        f"{span_count} spans recorded per run)"
    )
    print()
    off_ns, api_ns = _hook_cost()
    per_event = _hooks_per_event(args.flow, args.shipments)
    base = statistics.median(rates["off"])
    event_ns = 1e9 / base
    print(
        f"hook cost per call: {off_ns:,.0f} ns off, {api_ns:,.0f} ns API only; "
        f"{per_event:.1f} calls per event;"
    )
    print(
        f"API only therefore adds {per_event * api_ns:,.0f} ns to the {event_ns:,.0f} ns an event "
        f"costs ({per_event * api_ns / event_ns:.2%})"
    )
    print(
        f"sdk floor: {spans_per_event:.2f} spans ({attributes_per_span:.1f} attributes each) and "
        f"{points_per_event:.2f} metric points per event, replayed, cost the SDK alone "
        f"{floor_ns:,.0f} ns: at best {event_ns / (event_ns + floor_ns):.1%} of off"
    )
    print()
    print(f"{'mode':<6}{'events/s':>12}{'min':>10}{'max':>10}{'vs off':>10}")
    for name, values in rates.items():
        median = statistics.median(values)
        print(
            f"{name:<6}{median:>12,.0f}{min(values):>10,.0f}{max(values):>10,.0f}"
            f"{median / base:>9.1%}"
        )


if __name__ == "__main__":
    main()
