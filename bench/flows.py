"""Sync flows benchmark: events/s end to end, per event log backend, with 1 and 4 workers.

Run from the repository root (PostgreSQL 5432 and RabbitMQ 5672 on this machine)::

    .venv/bin/python bench/flows.py                   # all backends, 10,000 events each
    .venv/bin/python bench/flows.py --events 4000 --backends sqlite

Each event is published durably, received by a worker, and dispatched to three handlers, each
(event, handler) pair claimed and completed in the idempotency store (SQLite's for the SQLite
log, PostgreSQL's for the other two); handlers only count. Workers are started and connected
before the clock starts; it stops when the last worker finished the batch holding the last event.
Each worker reports its handler calls and its own CPU time after every batch, so the CPU figures
(workers, publisher, PostgreSQL server) stop at that same moment; the workers are told to stop
only then, and the time they would spend polling an empty log is not counted.

* end to end: the clock starts when the publisher (this process, one publisher) begins; the
  workers consume while it publishes. One publisher bounds this figure.
* backlog: the events are published first; the clock starts when the workers are told to go.
  This is the dispatch capacity, and what more workers add.

Then, per backend, the median wall time of one ``publish`` call of one event and of a batch of
100 (``--runs 0`` prints only this); and for PostgreSQL, where the server's CPU goes: one client
makes a worker's calls in turn (publish in batches of 500; then receive 200, claim and complete
their 600 pairs, acknowledge), and the CPU each call costs its server process is read from
``/proc`` (Linux), per event.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from shipsync.canonical import Event, default_catalogue
from shipsync.flows import (
    AsyncEventLog,
    AsyncPostgresEventLog,
    AsyncSQLiteEventLog,
    Dispatcher,
    HandlerContext,
    PostgresEventLog,
    RabbitMQEventLog,
    SQLiteEventLog,
)
from shipsync.idempotency import Acquired, PostgresStore, SQLiteStore
from shipsync.testing.flows import make_tracking_event

POSTGRES_DSN = os.environ.get("SHIPSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
AMQP_URL = os.environ.get("SHIPSYNC_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
HANDLERS = 3


def _open_log(backend: str, name: str, where: str, index: int, workers: int) -> AsyncEventLog:
    if backend == "sqlite":
        return AsyncSQLiteEventLog(where, table=name, synchronous="NORMAL")
    if backend == "postgres":
        return AsyncPostgresEventLog(where, table=name, setup=False)
    return RabbitMQEventLog(
        where, name=name, queues=8, consumer_index=index, consumers=workers, standby_delay=0.2
    )


async def _worker(args: argparse.Namespace) -> None:
    log = _open_log(args.backend, args.name, args.where, args.index, args.workers)
    store: Any
    if args.backend == "sqlite":
        store = SQLiteStore(args.idem, namespace=args.name)
    else:
        store = PostgresStore(POSTGRES_DSN, namespace=args.name, table=f"{args.name}_idem")
    dispatcher = Dispatcher(store, lease=timedelta(seconds=60))
    count = [0]

    def handler(event: Event, ctx: HandlerContext) -> None:
        count[0] += 1

    for h in range(HANDLERS):
        dispatcher.subscribe(None, handler, name=f"h{h}")
    # Warm up before the clock starts, as a worker that has been running is: the log and the
    # store open their connections, and the catalogue builds its event validators (deferred
    # from import to first use: about 23 ms of CPU, once per process), here rather than inside
    # the first timed batch, where each of four workers would pay them again.
    if isinstance(log, RabbitMQEventLog):
        await log.receive(1, timeout=0.01)  # subscribe
    elif await log.receive(1, timeout=0):  # nothing is published before "ready"
        raise SystemExit("the log was not empty before the run")
    store.sweep()
    default_catalogue.prepare()
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    started = _own_cpu()
    stop = asyncio.Event()

    def on_batch(report: object) -> None:
        # Progress for the parent: handler calls so far, when, and this process's CPU so far.
        print(f"batch {count[0]} {time.time()} {_own_cpu() - started}", flush=True)

    async def wait_for_stop() -> None:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "stop"
        stop.set()

    waiting = asyncio.ensure_future(wait_for_stop())
    await dispatcher.run(log, batch_size=200, stop=stop, idle_timeout=args.idle, on_batch=on_batch)
    await log.close()
    print("done", flush=True)
    await waiting  # the parent has read every line


def _own_cpu() -> float:
    """CPU seconds (user + system, every thread) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _events(n: int, run: str) -> list[Event]:
    shipments = max(1, n // 10)
    return [
        make_tracking_event(f"{run}-{s}", i // shipments + 1)
        for i, s in ((i, i % shipments) for i in range(n))
    ]


class _Publisher:
    """The one publisher, in this process: its log is opened and connected before the clock
    starts, as a running service's is, so its server process is one of those whose CPU the run
    counts (a connection made and closed inside the run would be missed)."""

    def __init__(self, backend: str, name: str, where: str) -> None:
        self._runner = asyncio.Runner()
        self._log: AsyncEventLog | None = _open_log(backend, name, where, 0, 1)
        self._runner.run(self._connect(self._log))

    @staticmethod
    async def _connect(log: AsyncEventLog) -> None:
        if isinstance(log, RabbitMQEventLog):
            await log.setup()
        elif await log.receive(1, timeout=0):  # connects; the log is empty until "go"
            raise SystemExit("the log was not empty before the run")

    def publish(self, events: list[Event], step: int = 500) -> None:
        log = self._log
        assert log is not None

        async def run() -> None:
            for i in range(0, len(events), step):
                await log.publish(events[i : i + step])

        self._runner.run(run())

    def close(self) -> None:
        if self._log is not None:
            log, self._log = self._log, None
            self._runner.run(log.close())
            self._runner.close()


def _setup(backend: str, name: str, tmp: Path) -> tuple[str, str]:
    """Create the log's tables or queues; return (where, idempotency path)."""
    idem = str(tmp / f"{name}-idem.db")
    if backend == "sqlite":
        where = str(tmp / f"{name}.db")
        SQLiteEventLog(where, table=name).close()
        SQLiteStore(idem, namespace=name).close()
        return where, idem
    PostgresStore(POSTGRES_DSN, namespace=name, table=f"{name}_idem").close()
    if backend == "postgres":
        PostgresEventLog(POSTGRES_DSN, table=name).close()
        return POSTGRES_DSN, idem

    async def declare() -> None:
        log = RabbitMQEventLog(AMQP_URL, name=name, queues=8)
        await log.setup()
        await log.close()

    asyncio.run(declare())
    return AMQP_URL, idem


def _cleanup(backend: str, name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}, {name}_partitions, {name}_idem")
    if backend == "rabbitmq":

        async def delete() -> None:
            await RabbitMQEventLog(AMQP_URL, name=name, queues=8).delete()

        asyncio.run(delete())


def _stat() -> list[float]:
    """The first line of /proc/stat: jiffies of all cores since boot, by state (user, nice,
    system, idle, iowait, irq, softirq, steal...); zeros off Linux."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        fields = []
    return (fields + [0.0] * 8)[: max(8, len(fields))]


def _cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot (Linux; else zeros)."""
    fields = _stat()
    return sum(fields) - fields[3] - fields[4], sum(fields)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc (Linux; else 0)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (float(fields[11]) + float(fields[12])) / _TICK


def _postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (every backend, all clients)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _maintenance(name: str) -> tuple[int, int]:
    """(checkpoints the PostgreSQL server has made, autovacuum and autoanalyze runs on this run's
    tables): background work whose CPU lands in some runs and not in others."""
    import psycopg

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter), "
            "(SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) "
            "FROM pg_stat_user_tables WHERE relname LIKE %s)",
            (f"{name}%",),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


class _CpuSplit:
    """CPU seconds used during a run by the publisher (this process), the PostgreSQL server (all
    its processes, so other clients' queries count too; one that exits during the run counts
    until its last reading) and the whole machine (busy, and stolen by the hypervisor). The
    workers report their own."""

    def __init__(self) -> None:
        self.start = self._read()

    def _read(self) -> tuple[dict[str, float], dict[int, float]]:
        busy, steal = _machine()
        return (
            {"publisher": _proc_cpu(os.getpid()), "machine": busy, "steal": steal},
            {pid: _proc_cpu(pid) for pid in _postgres_pids()},
        )

    def stop(self) -> dict[str, float]:
        end, pg_end = self._read()
        start, pg_start = self.start
        out = {k: end[k] - start[k] for k in end}
        out["postgres"] = sum(cpu - pg_start.get(pid, 0.0) for pid, cpu in pg_end.items())
        return out


def _machine() -> tuple[float, float]:
    """CPU seconds all cores have been busy (steal excluded) and stolen, from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = _stat()[:8]
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


class _Progress:
    """Reads the workers' progress lines until they report ``wanted`` handler calls in all."""

    def __init__(self, procs: list[subprocess.Popen[str]], wanted: int) -> None:
        self.wanted = wanted
        self.procs = len(procs)
        self.latest: dict[int, tuple[int, float, float]] = {}
        self.finished: set[int] = set()
        self._changed = threading.Condition()
        for index, proc in enumerate(procs):
            threading.Thread(target=self._read, args=(index, proc), daemon=True).start()

    def _read(self, index: int, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            kind, *fields = line.split()
            with self._changed:
                if kind == "batch":
                    self.latest[index] = (int(fields[0]), float(fields[1]), float(fields[2]))
                else:  # "done": told to stop, or idle for too long
                    self.finished.add(index)
                self._changed.notify_all()
        with self._changed:  # the output ended: the worker exited, or died
            self.finished.add(index)
            self._changed.notify_all()

    def _total(self) -> int:
        return sum(count for count, _, _ in self.latest.values())

    def wait(self, timeout: float = 600.0) -> tuple[int, float, float]:
        """(handler calls, time of the last batch, the workers' CPU seconds until then)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._total() >= self.wanted or len(self.finished) == self.procs,
                timeout,
            )
            values = list(self.latest.values())
        return (
            sum(count for count, _, _ in values),
            max((at for _, at, _ in values), default=time.time()),
            sum(cpu for _, _, cpu in values),
        )


class _Sampler:
    """Samples machine-wide CPU use every 50 ms, to tell how busy the cores were in a window."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), *_cpu()))
            time.sleep(0.05)

    def busy(self, start: float, end: float) -> float:
        """Share of all cores busy between ``start`` and ``end`` (0..1)."""
        self._stop.set()
        self._thread.join()
        inside = [x for x in self.samples if start <= x[0] <= end]
        if len(inside) < 2 or inside[-1][2] == inside[0][2]:
            return float("nan")
        return (inside[-1][1] - inside[0][1]) / (inside[-1][2] - inside[0][2])


def measure(
    backend: str, workers: int, n: int, tmp: Path, *, drain: bool
) -> tuple[float, float, dict[str, float]]:
    """(events per second, share of the cores busy, CPU µs per event by process group): end to
    end, or draining a backlog."""
    name = f"bench_flows_{uuid.uuid4().hex[:8]}"
    where, idem = _setup(backend, name, tmp)
    publisher: _Publisher | None = None
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                "--backend",
                backend,
                "--name",
                name,
                "--where",
                where,
                "--idem",
                idem,
                "--index",
                str(i),
                "--workers",
                str(workers),
                "--idle",
                "30",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        events = _events(n, name)
        publisher = _Publisher(backend, name, where)
        sampler = _Sampler()
        if drain:
            publisher.publish(events)
        progress = _Progress(procs, n * HANDLERS)
        maintenance = _maintenance(name) if backend != "sqlite" else (0, 0)
        split = _CpuSplit()
        start = time.time()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        if not drain:
            publisher.publish(events)
        # The clock and the CPU figures stop when the last handler call is reported, not when
        # the workers have noticed that nothing more comes.
        total, end, worker_cpu = progress.wait()
        if total != n * HANDLERS:  # a worker died, or the run stalled: the finally stops the rest
            raise SystemExit(f"{backend}/{workers}: {total} handler calls, wanted {n * HANDLERS}")
        cpu = split.stop()
        publisher.close()  # after the reading: a server process that has exited is not read
        cpu["workers"] = worker_cpu
        cpu = {k: v / n * 1e6 for k, v in cpu.items()}
        if backend != "sqlite":
            after = _maintenance(name)
            cpu["checkpoints"] = after[0] - maintenance[0]
            cpu["autovacuum"] = after[1] - maintenance[1]
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("stop\n")
            p.stdin.close()
        for p in procs:
            p.wait(timeout=60)
        return n / (end - start), sampler.busy(start, end), cpu
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        if publisher is not None:
            publisher.close()
        _cleanup(backend, name)


def publish_latency(backend: str, tmp: Path, calls: int = 300) -> tuple[float, float]:
    """Median wall milliseconds of one publish call: of one event, and of a batch of 100."""
    name = f"bench_pub_{uuid.uuid4().hex[:8]}"
    where, _ = _setup(backend, name, tmp)
    events = _events(calls + 100 * 30, name)

    async def run() -> tuple[float, float]:
        log = _open_log(backend, name, where, 0, 1)
        one, hundred = [], []
        for e in events[:calls]:
            start = time.perf_counter()
            await log.publish([e])
            one.append(time.perf_counter() - start)
        rest = events[calls:]
        for i in range(0, len(rest), 100):
            start = time.perf_counter()
            await log.publish(rest[i : i + 100])
            hundred.append(time.perf_counter() - start)
        await log.close()
        return statistics.median(one) * 1e3, statistics.median(hundred) * 1e3

    try:
        return asyncio.run(run())
    finally:
        _cleanup(backend, name)


def server_split(n: int) -> dict[str, float]:
    """PostgreSQL server CPU µs per event for each call a worker makes, and the publisher's.

    One client makes the calls in turn (no concurrency, so each server process's CPU is that
    call's): ``publish`` in batches of 500, then ``receive`` 200 events, ``claim_many`` and
    ``complete_many`` their (event, handler) pairs, ``ack``.
    """
    name = f"bench_split_{uuid.uuid4().hex[:8]}"
    PostgresStore(POSTGRES_DSN, namespace=name, table=f"{name}_idem").close()
    PostgresEventLog(POSTGRES_DSN, table=name).close()
    log = PostgresEventLog(POSTGRES_DSN, table=name, setup=False)
    store = PostgresStore(POSTGRES_DSN, namespace=name, table=f"{name}_idem", setup=False)
    events = _events(n + 1, name)
    spent: dict[str, float] = dict.fromkeys(
        ("publish", "receive", "claim_many", "complete_many", "ack"), 0.0
    )
    try:
        log.publish(events[:1])  # both connections open, their statements prepared
        warm = log.receive(1)
        (claimed,) = store.claim_many([("warm", "fp")])
        assert isinstance(claimed, Acquired)
        store.complete_many([("warm", claimed.token, b"1")])
        log.ack(warm)
        pids = {"log": log.backend_pid() or 0, "store": store.connection.info.backend_pid}

        def timed(what: str, call: Any, *args: Any) -> Any:
            pid = pids["store" if what.endswith("_many") else "log"]
            before = _proc_cpu(pid)
            out = call(*args)
            spent[what] += _proc_cpu(pid) - before
            return out

        rest = events[1:]
        for i in range(0, n, 500):
            timed("publish", log.publish, rest[i : i + 500])
        done = 0
        while done < n:
            deliveries = timed("receive", log.receive, 200)
            if not deliveries:
                raise SystemExit(f"server split: {done} of {n} events came back")
            pairs = [
                (f"{d.event.id}:h{h}", "0" * 64)
                for d in deliveries
                if d.event is not None
                for h in range(HANDLERS)
            ]
            claimed = timed("claim_many", store.claim_many, pairs)
            completions = [(k, o.token, b"1") for (k, _), o in zip(pairs, claimed, strict=True)]
            timed("complete_many", store.complete_many, completions)
            timed("ack", log.ack, deliveries)
            done += len(deliveries)
    finally:
        log.close()
        store.close()
        _cleanup("postgres", name)
    return {what: cpu / n * 1e6 for what, cpu in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgres,rabbitmq")
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="runs of each (backend, mode), 1 and 4 workers in turn; 0: publish latency only",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--where", help=argparse.SUPPRESS)
    parser.add_argument("--idem", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--idle", type=float, default=2.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(_worker(args))
        return
    print(f"sync flows: {args.events} events, {HANDLERS} handlers each, on {os.cpu_count()} cores")
    print("end to end: one publisher and the workers run at once; the clock stops at the last")
    print("event handled. backlog: the events are published first; the workers drain them.")
    print("cpu: how busy the machine's cores were (all processes) during the run.")
    print("CPU µs/event: workers (all) / publisher / PostgreSQL server (all its processes;")
    print("other clients count too) / the rest of the machine's busy time / time the hypervisor")
    print("stole, each run; then cN: N checkpoints of the server during the")
    print(
        "run, vN: N autovacuum or autoanalyze runs on the run's tables (their CPU is the server's)."
    )
    print(f"Load average at start: {os.getloadavg()}")
    print(f"Each (backend, mode) runs {args.runs} times, 1 worker and 4 workers each time (1 first")
    print("in the 1st, 3rd... run, 4 first in the others); a run's 1->4 divides its 4-worker rate")
    print("by its own 1-worker rate. The median row is the figure.")
    print("cores: the cores the machine kept busy (steal excluded), 1 worker > 4 workers; cost:")
    print("the machine's busy CPU per event with 4 workers divided by that with 1. Busy cores are")
    print("the rate times the CPU per event, so 1->4 = (cores with 4 / cores with 1) / cost: how")
    print("much of the machine one worker left idle, and how much more an event costs when four")
    print("workers share it. The median row gives the median of each.")
    print(
        f"{'backend':<10} {'mode':<11} {'1 worker ev/s':>14} {'cpu':>5} "
        f"{'4 workers ev/s':>15} {'cpu':>5} {'1->4':>6} {'cores':>10} {'cost':>5}  "
        f"{'CPU µs/event 1 worker':>32}   {'CPU µs/event 4 workers':>32}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            for mode in ("end to end", "backlog") if args.runs > 0 else ():
                drain = mode == "backlog"
                ratios: list[float] = []
                cores: list[float] = []  # cores busy with 4 workers / with 1
                costs: list[float] = []  # machine CPU per event with 4 workers / with 1
                for run in range(args.runs):
                    # 1 worker first in the 1st, 3rd... run, 4 first in the others: a machine
                    # that drifts (it slows as it warms, a neighbour comes and goes) biases the
                    # runs both ways, not all one way.
                    got = {
                        workers: measure(backend, workers, args.events, Path(tmp), drain=drain)
                        for workers in ((1, 4) if run % 2 == 0 else (4, 1))
                    }
                    (one, cpu1, split1), (four, cpu4, split4) = got[1], got[4]
                    busy1, busy4 = _cores(one, split1), _cores(four, split4)
                    ratios.append(four / one)
                    cores.append(busy4 / busy1)
                    costs.append(split4["machine"] / split1["machine"])
                    print(
                        f"{backend:<10} {mode:<11} {one:>14,.0f} {cpu1:>5.0%} "
                        f"{four:>15,.0f} {cpu4:>5.0%} {four / one:>5.2f}x "
                        f"{busy1:>5.2f}>{busy4:.2f} {costs[-1]:>5.2f}  "
                        f"{_split(split1):>32}   {_split(split4):>32}",
                        flush=True,
                    )
                print(
                    f"{backend:<10} {mode:<11} {'median of ' + str(len(ratios)):>42} "
                    f"{statistics.median(ratios):>5.2f}x "
                    f"{statistics.median(cores):>8.2f}x {statistics.median(costs):>5.2f}   "
                    f"(runs {min(ratios):.2f}-{max(ratios):.2f})",
                    flush=True,
                )
        print("publish latency, median wall ms per call (durable when it returns):")
        for backend in args.backends.split(","):
            one, hundred = publish_latency(backend, Path(tmp))
            print(f"  {backend:<10} one event {one:>6.2f}   batch of 100 {hundred:>6.2f}")
        if "postgres" in args.backends.split(","):
            split = server_split(args.events)
            print(
                "PostgreSQL server CPU µs per event, by call (one client, calls in turn, "
                f"{args.events} events, {HANDLERS} handlers):"
            )
            print("  " + "   ".join(f"{what} {cpu:.0f}" for what, cpu in split.items()))
            print(f"  in all {sum(split.values()):.0f}")
    print(f"load average at the end: {os.getloadavg()}")


def _cores(rate: float, cpu: dict[str, float]) -> float:
    """How many cores the machine kept busy (steal excluded) at ``rate`` events/s."""
    return rate * cpu["machine"] / 1e6


def _split(cpu: dict[str, float]) -> str:
    other = cpu["machine"] - cpu["workers"] - cpu["publisher"] - cpu["postgres"]
    split = (
        f"{cpu['workers']:.0f} / {cpu['publisher']:.0f} / {cpu['postgres']:.0f}"
        f" / {other:.0f} / {cpu['steal']:.0f}"
    )
    background = "".join(
        f" {label}{int(cpu[key])}"
        for key, label in (("checkpoints", "c"), ("autovacuum", "v"))
        if cpu.get(key)
    )
    return split + background


if __name__ == "__main__":
    main()
