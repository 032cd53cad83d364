"""Batch jobs: chunks with checkpoints resume after a crash without redoing finished chunks."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipsync.errors import ConfigurationError
from shipsync.flows import BatchJob, Chunk


class Crash(Exception):
    """The process 'dies' here."""


def test_a_crashed_job_resumes_without_redoing_finished_chunks(tmp_path: Path) -> None:
    """After a crash in chunk 3, a rerun skips chunks 0-2 and finishes; each chunk runs once
    successfully."""
    done: list[int] = []
    crash_at = 3

    def work(chunk: Chunk[int]) -> None:
        if chunk.index == crash_at:
            raise Crash
        done.append(chunk.index)

    job: BatchJob[int] = BatchJob("accruals-2026-11", tmp_path / "ck.db", chunk_size=10)
    with pytest.raises(Crash):
        job.run(range(95), work)
    assert done == [0, 1, 2]
    crash_at = -1
    report = job.run(range(95), work)
    assert done == list(range(10))
    assert (report.done, report.skipped, report.items) == (7, 3, 95)
    again = job.run(range(95), work)
    assert (again.done, again.skipped) == (0, 10)
    assert done == list(range(10))


def test_checkpoints_survive_a_new_process_handle(tmp_path: Path) -> None:
    """Checkpoints live in the file: a new BatchJob object with the same name resumes."""
    seen: list[str] = []
    BatchJob("j", tmp_path / "ck.db", chunk_size=2).run("abcd", lambda c: seen.extend(c.items))
    report = BatchJob("j", tmp_path / "ck.db", chunk_size=2).run(
        "abcdef", lambda c: seen.extend(c.items)
    )
    assert seen == list("abcdef")
    assert report.skipped == 2


def test_changed_items_under_a_checkpoint_are_refused(tmp_path: Path) -> None:
    """A finished chunk whose items changed is an error, never a silent skip."""
    job: BatchJob[str] = BatchJob("j", tmp_path / "ck.db", chunk_size=2)
    job.run("abcd", lambda c: None)
    with pytest.raises(ConfigurationError):
        job.run("abXd", lambda c: None)
    assert job.reset() == 2
    assert job.run("abXd", lambda c: None).done == 2


def test_chunk_keys_are_stable() -> None:
    """A chunk's key names its job and index, for idempotent effects."""
    assert Chunk("j", 4, [1]).key == "j:4"


def test_memory_stays_flat_while_streaming(tmp_path: Path) -> None:
    """A long stream is held one chunk at a time: peak memory does not grow with the stream."""

    def items(n: int) -> Iterator[bytes]:
        for i in range(n):
            yield i.to_bytes(8, "big") * 16

    def peak(n: int) -> int:
        job: BatchJob[bytes] = BatchJob(f"m{n}", tmp_path / "ck.db", chunk_size=100)
        tracemalloc.start()
        job.run(items(n), lambda c: None)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        job.close()
        return top

    small, large = peak(1_000), peak(20_000)
    assert large < small * 2


@pytest.mark.parametrize("size", [0, -1])
def test_chunk_size_is_checked(tmp_path: Path, size: int) -> None:
    """A chunk size below one is a configuration error."""
    with pytest.raises(ConfigurationError):
        BatchJob("j", tmp_path / "ck.db", chunk_size=size)


KILLED_JOB = """
import os, signal, sys
from pathlib import Path
from shipsync.flows import BatchJob

out = Path(sys.argv[2])
def work(chunk):
    if chunk.index == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
    with out.open("a") as f:
        f.write(f"{chunk.index}\\n")

BatchJob("kill", sys.argv[1], chunk_size=10).run(range(60), work)
"""


def test_a_sigkilled_job_resumes_at_the_chunk_it_died_in(tmp_path: Path) -> None:
    """A process killed with SIGKILL in chunk 2 leaves chunks 0-1 checkpointed; the rerun
    does chunks 2-5 only."""
    import signal
    import subprocess
    import sys

    script = tmp_path / "job.py"
    script.write_text(KILLED_JOB)
    out, db = tmp_path / "out.txt", tmp_path / "ck.db"
    first = subprocess.run([sys.executable, str(script), str(db), str(out), "2"], check=False)
    assert first.returncode == -signal.SIGKILL
    assert out.read_text().split() == ["0", "1"]
    second = subprocess.run([sys.executable, str(script), str(db), str(out), "-1"], check=False)
    assert second.returncode == 0
    assert out.read_text().split() == [str(i) for i in range(6)]


def test_reset_starts_a_job_over(tmp_path: Path) -> None:
    """reset() forgets the checkpoints; a closed table is a typed error, not sqlite3's."""
    from shipsync.errors import EventLogUnavailableError

    job: BatchJob[int] = BatchJob("again", tmp_path / "ck.db", chunk_size=5)
    job.run(range(12), lambda chunk: None)
    assert job.reset() == 3
    assert job.run(range(12), lambda chunk: None).done == 3
    job.close()
    with pytest.raises(EventLogUnavailableError):
        job.reset()
