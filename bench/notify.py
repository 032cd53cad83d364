"""Notify benchmark: outbound webhooks/s and e-mails/s to local servers, beside bare loops.

Run from the repository root (the ``server`` and ``notify`` extras and aiosmtpd installed)::

    .venv/bin/python bench/notify.py                  # 2,000 webhooks, 300 e-mails
    .venv/bin/python bench/notify.py --webhooks 5000 --emails 500

Webhooks: a local endpoint (uvicorn, a bare ASGI app answering 204) runs in its own process.
``WebhookSender.deliver_due`` delivers N accepted messages to it, with 1 and 8 attempts in
flight: each attempt claims its delivery in the SQLite endpoint store, resolves and checks the
target address (SSRF guard), signs the body (Standard Webhooks, HMAC-SHA256), posts it with
httpx, reads the answer and records the attempt. Its peer is a bare httpx loop posting the same
bodies with the same headers (a Standard Webhooks signature computed beforehand) to the same
endpoint with 1 and 8 requests in flight (no store, no signing, no checks), so the endpoint does
the same work for both. The two alternate (``--reps`` rounds each, never at the same time) and
the table gives the median rate and the median CPU time of this process per post (threads
included; the endpoint runs in its own process), which the machine's load disturbs less.

E-mails: an aiosmtpd server (its Sink handler) runs in its own process. ``EmailChannel.send``
sends N rendered notifications (text + HTML, one SMTP connection each, as the channel does),
with 1 and 8 in flight, beside a bare ``aiosmtplib.send`` loop sending the same prepared
message: the peer does not build a MIME message per send, the channel does (about 1.5 ms of
CPU with the standard library's ``email`` package), so this ratio is a floor, not a target.
``uptime`` is printed before and after: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from shipsync.notify import EmailChannel, EndpointStore, Renderer, WebhookSender, build_email
from shipsync.testing.notify import ChannelHarness, sample_notification
from shipsync.webhooks import StandardWebhooksScheme, generate_secret

ASGI_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _signed_headers(body: bytes) -> dict[str, str]:
    """The headers WebhookSender sends, computed once (the peer does no signing)."""
    signer = StandardWebhooksScheme().signer([generate_secret()])
    return {
        **signer.sign(body, msg_id="msg-0", timestamp=int(time.time())),
        "content-type": "application/json",
        "user-agent": "shipsync-webhooks",
    }


async def _bare_posts(url: str, body: bytes, count: int, inflight: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds of ``count`` bare posts, ``inflight`` at a time."""
    headers = _signed_headers(body)
    async with httpx.AsyncClient(trust_env=False) as client:
        queue = iter(range(count))

        async def worker() -> None:
            for _ in queue:
                response = await client.post(url, content=body, headers=headers)
                assert response.status_code == 204

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(inflight)))
        return time.perf_counter() - started, time.process_time() - cpu


async def _sender_posts(
    url: str, body: bytes, count: int, inflight: int, tmp: Path
) -> tuple[float, float]:
    """Wall seconds and CPU seconds of ``WebhookSender`` delivering ``count`` accepted messages."""
    store = EndpointStore(tmp / f"ep-{inflight}-{time.monotonic_ns()}.db")
    store.add(url, id="bench", allow_private=True)
    for i in range(count):
        store.accept(f"msg-{i}", "shipment.customer_status", body)
    sender = WebhookSender(store, concurrency=inflight)
    started, cpu = time.perf_counter(), time.process_time()
    delivered = 0
    while delivered < count:
        report = await sender.deliver_due()
        if report.succeeded == 0:
            raise RuntimeError(f"a round delivered nothing: {report}")
        delivered += report.succeeded
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    await sender.aclose()
    store.close()
    return elapsed, used


async def _run_inflight(
    send: Callable[[], Awaitable[object]], count: int, inflight: int
) -> tuple[float, float]:
    """Wall seconds and CPU seconds of ``count`` sends, ``inflight`` at a time."""
    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            await send()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(inflight)))
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3, help="alternating rounds per figure")
    args = parser.parse_args()
    print(f"notify bench on {os.cpu_count()} cores; before: {_uptime()}")
    tmp = Path(tempfile.mkdtemp(prefix="shipsync-bench-notify-"))
    app = tmp / "bench_asgi_app.py"
    app.write_text(ASGI_APP)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench_asgi_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=tmp,
    )
    smtp_port = _free_port()
    smtp = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Sink",
            "-l",
            f"127.0.0.1:{smtp_port}",
        ],
    )
    try:
        _wait_port(port)
        _wait_port(smtp_port)
        url = f"http://127.0.0.1:{port}/hooks"
        recipient = ChannelHarness(EmailChannel("h", 25, "a@b.c"), list).recipient
        message = Renderer().render(sample_notification("webhook", recipient))
        import json

        body = json.dumps({"type": message.event_type, "data": dict(message.payload)}).encode()
        asyncio.run(_bare_posts(url, body, 200, 8))  # warm up the server
        print(
            f"\nwebhooks: {args.webhooks} posts of {len(body)} bytes to a local endpoint, "
            f"median of {args.reps} alternating rounds"
        )
        print(
            f"{'in flight':>9}  {'bare httpx/s':>13}  {'WebhookSender/s':>16}  {'ratio':>6}  "
            f"{'bare CPU us/post':>17}  {'sender CPU us/post':>19}  {'CPU ratio':>9}  load"
        )
        for inflight in (1, 8):
            bare_runs, our_runs = [], []
            for _ in range(args.reps):
                bare_runs.append(asyncio.run(_bare_posts(url, body, args.webhooks, inflight)))
                our_runs.append(asyncio.run(_sender_posts(url, body, args.webhooks, inflight, tmp)))
            bare_rate = args.webhooks / statistics.median(w for w, _ in bare_runs)
            our_rate = args.webhooks / statistics.median(w for w, _ in our_runs)
            bare_cpu = statistics.median(c for _, c in bare_runs) / args.webhooks * 1e6
            our_cpu = statistics.median(c for _, c in our_runs) / args.webhooks * 1e6
            print(
                f"{inflight:>9}  {bare_rate:>13.0f}  {our_rate:>16.0f}  "
                f"{our_rate / bare_rate:>6.2f}  {bare_cpu:>17.0f}  {our_cpu:>19.0f}  "
                f"{bare_cpu / our_cpu:>9.2f}  {os.getloadavg()[0]:.1f}"
            )

        email = EmailChannel("127.0.0.1", smtp_port, "shop@example.com", timeout=30)
        mail_message = Renderer().render(sample_notification("email", recipient))
        prepared = build_email(mail_message, "shop@example.com")

        async def bare_mail() -> object:
            import aiosmtplib

            return await aiosmtplib.send(prepared, hostname="127.0.0.1", port=smtp_port)

        async def channel_mail() -> object:
            return await email.send(mail_message)

        print(
            f"\ne-mails: {args.emails} messages (text + HTML) to a local aiosmtpd Sink, "
            f"median of {args.reps} alternating rounds"
        )
        print(
            f"{'in flight':>9}  {'bare aiosmtplib/s':>18}  {'EmailChannel/s':>15}  {'ratio':>6}  "
            f"{'bare CPU us/mail':>17}  {'channel CPU us/mail':>20}  {'CPU ratio':>9}  load"
        )
        for inflight in (1, 8):
            bare_runs, our_runs = [], []
            for _ in range(args.reps):
                bare_runs.append(asyncio.run(_run_inflight(bare_mail, args.emails, inflight)))
                our_runs.append(asyncio.run(_run_inflight(channel_mail, args.emails, inflight)))
            bare_rate = args.emails / statistics.median(w for w, _ in bare_runs)
            our_rate = args.emails / statistics.median(w for w, _ in our_runs)
            bare_cpu = statistics.median(c for _, c in bare_runs) / args.emails * 1e6
            our_cpu = statistics.median(c for _, c in our_runs) / args.emails * 1e6
            print(
                f"{inflight:>9}  {bare_rate:>18.0f}  {our_rate:>15.0f}  "
                f"{our_rate / bare_rate:>6.2f}  {bare_cpu:>17.0f}  {our_cpu:>20.0f}  "
                f"{bare_cpu / our_cpu:>9.2f}  {os.getloadavg()[0]:.1f}"
            )
    finally:
        server.terminate()
        smtp.terminate()
        server.wait(10)
        smtp.wait(10)
    print(f"\nafter: {_uptime()}")


if __name__ == "__main__":
    main()
