"""Import cost: how long ``import shipsync.<package>`` and ``shipsync --help`` take, best of N.

Run: ``python bench/imports.py [--runs 10] [--src PATH]``

Each row starts a fresh interpreter N times (``python -c "import ..."``) and reports the best
wall time and the best CPU time (user + system of the child, which other load on the machine
inflates less than wall time), beside a bare ``python -c pass`` floor measured in the same run,
and how many ``shipsync`` modules and modules in all the import loaded. ``--src`` puts another
source tree first on ``sys.path`` (for a before/after comparison against a checkout of main).

The "first use" rows import a name, which loads what a lazy package deferred: the honest cost
of actually using the package.

Targets (issue 18): ``import shipsync.canonical`` <= 120 ms, ``import shipsync.carriers``
<= 200 ms, ``shipsync --help`` <= 250 ms wall. ``python -X importtime -c "import X"`` shows
where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

ROWS = [
    ("python -c pass (floor)", "pass"),
    ("import shipsync", "import shipsync"),
    ("import shipsync.canonical", "import shipsync.canonical"),
    ("import shipsync.webhooks", "import shipsync.webhooks"),
    ("import shipsync.carriers", "import shipsync.carriers"),
    ("first use: canonical.Shipment", "from shipsync.canonical import Shipment"),
    ("first use: CarrierClient", "from shipsync.carriers import CarrierClient"),
    ("import shipsync.idempotency", "import shipsync.idempotency"),
    ("import shipsync.flows", "import shipsync.flows"),
    (
        "shipsync --help",
        "import sys; sys.argv = ['shipsync', '--help']\n"
        "from shipsync.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass",
    ),
]
TARGETS = {
    "import shipsync.canonical": 0.120,
    "import shipsync.carriers": 0.200,
    "shipsync --help": 0.250,
}
COUNT = (
    "import sys, json\n{code}\n"
    "mods = list(sys.modules)\n"
    "ours = sum(m == 'shipsync' or m.startswith('shipsync.') for m in mods)\n"
    "print(json.dumps([len(mods), ours]), file=sys.stderr)"
)


def run(code: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh interpreter running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def modules(code: str, env: dict[str, str]) -> tuple[int, int]:
    """How many modules (all, shipsync's) ``code`` leaves loaded."""
    out = subprocess.run(
        [sys.executable, "-c", COUNT.format(code=code)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    total, ours = json.loads(out.stderr.strip().splitlines()[-1])
    return int(total), int(ours)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="fresh interpreters per row")
    parser.add_argument("--src", help="a source tree to import shipsync from instead")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.src, env.get("PYTHONPATH")]))
    print(
        f"python {platform.python_version()} on {platform.machine()}, best of {args.runs} fresh "
        f"interpreters, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{'what':<28} {'wall ms':>8} {'cpu ms':>8} {'over floor':>10} {'target':>7} "
        f"{'modules':>8} {'shipsync':>8}"
    )
    floor = 0.0
    for name, code in ROWS:
        samples = [run(code, env) for _ in range(args.runs)]
        wall = min(s[0] for s in samples)
        cpu = min(s[1] for s in samples)
        total, ours = modules(code, env)
        if name.startswith("python -c pass"):
            floor = wall
        target = TARGETS.get(name)
        shown = f"{target * 1000:.0f}" if target else ""
        over = f"{(wall - floor) * 1000:.0f}" if floor else ""
        print(
            f"{name:<28} {wall * 1000:>8.0f} {cpu * 1000:>8.0f} {over:>10} {shown:>7} "
            f"{total:>8} {ours:>8}"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
