"""The ``shipsync webhook`` commands: sign a body, or verify a signature, from the shell.

Both read the body as raw bytes from standard input. ``verify`` exits 0 when the signature is
valid and 1 (with the error's class name and message on standard error) when it is not. Secrets
may come from ``SHIPSYNC_WEBHOOK_SECRET`` instead of ``--secret`` to keep them out of process
listings.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import BinaryIO, NoReturn

import click

from shipsync.errors import ShipsyncError
from shipsync.webhooks._hmac import EASYPOST_SCHEME, GITHUB_SCHEME, HmacScheme
from shipsync.webhooks._scheme import SignatureScheme
from shipsync.webhooks._standard import StandardWebhooksScheme
from shipsync.webhooks._stripe import StripeScheme

__all__ = ["webhook"]

_SCHEMES = ("standard", "stripe", "hmac", "github", "easypost")
# Bounds that keep a typed error (or a usage error) from ever turning into an OverflowError.
_MAX_TOLERANCE = 10**9  # about 31 years, in seconds
_MAX_NOW = 10**12  # the first Unix second with 13 digits


def _tolerance(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not 0 <= value <= _MAX_TOLERANCE:  # also refuses NaN
        raise click.BadParameter(f"must be a number of seconds from 0 to {_MAX_TOLERANCE}")
    return value


def _scheme(
    name: str,
    *,
    tolerance: float | None = None,
    algorithm: str = "sha256",
    encoding: str = "hex",
    prefix: str = "",
    header: str = "X-Signature",
) -> SignatureScheme:
    window = timedelta(minutes=5) if tolerance is None else timedelta(seconds=tolerance)
    if name == "standard":
        return StandardWebhooksScheme(tolerance=window)
    if name == "stripe":
        return StripeScheme(tolerance=window)
    if name == "github":
        return GITHUB_SCHEME
    if name == "easypost":
        return EASYPOST_SCHEME
    return HmacScheme(
        header=header,
        algorithm=algorithm,  # type: ignore[arg-type]
        encoding=encoding,  # type: ignore[arg-type]
        prefix=prefix,
    )


def _fail(error: ShipsyncError) -> NoReturn:
    click.echo(f"{type(error).__name__}: {error}", err=True)
    sys.exit(1)


def _stdin() -> bytes:
    stream: BinaryIO = sys.stdin.buffer
    return stream.read()


def _only_standard(scheme: str, msg_id: str | None, timestamp: int | None, verb: str) -> None:
    if scheme in ("hmac", "github", "easypost") and (msg_id is not None or timestamp is not None):
        raise click.UsageError(
            f"--id and --timestamp do not apply when you {verb} --scheme {scheme}"
        )
    if scheme == "stripe" and msg_id is not None:
        raise click.UsageError("--id does not apply to --scheme stripe")


_scheme_option = click.option(
    "--scheme", type=click.Choice(_SCHEMES), required=True, help="Signature scheme."
)
_secret_option = click.option(
    "--secret",
    "secrets",
    multiple=True,
    required=True,
    envvar="SHIPSYNC_WEBHOOK_SECRET",
    help="Secret or key; repeat for several (rotation). Env: SHIPSYNC_WEBHOOK_SECRET.",
)


@click.group(name="webhook")
def webhook() -> None:
    """Sign and verify webhook deliveries (body on standard input)."""


@webhook.command()
@_scheme_option
@_secret_option
@click.option("--id", "msg_id", help="Message id (standard; required there).")
@click.option("--timestamp", type=int, help="Unix seconds to sign (default: now).")
@click.option("--algorithm", type=click.Choice(["sha256", "sha512"]), default="sha256")
@click.option("--encoding", type=click.Choice(["hex", "base64"]), default="hex")
@click.option("--prefix", default="", help="Text before the digest, e.g. 'sha256=' (hmac).")
def sign(
    scheme: str,
    secrets: Sequence[str],
    msg_id: str | None,
    timestamp: int | None,
    algorithm: str,
    encoding: str,
    prefix: str,
) -> None:
    """Print the signature header value for the body read from standard input."""
    _only_standard(scheme, msg_id, timestamp, "sign")
    body = _stdin()
    try:
        chosen = _scheme(scheme, algorithm=algorithm, encoding=encoding, prefix=prefix)
        signer = chosen.signer(list(secrets))
        headers = signer.sign(body, msg_id=msg_id, timestamp=timestamp)
    except ShipsyncError as error:
        _fail(error)
    signature = next(v for k, v in headers.items() if k.lower() not in _NOT_SIGNATURE)
    click.echo(signature)


_NOT_SIGNATURE = frozenset({"webhook-id", "webhook-timestamp"})


@webhook.command()
@_scheme_option
@_secret_option
@click.option("--signature", required=True, help="The signature header value to check.")
@click.option("--id", "msg_id", help="Message id (standard).")
@click.option("--timestamp", type=int, help="Signed Unix seconds (standard).")
@click.option(
    "--now",
    type=click.IntRange(0, _MAX_NOW),
    help="Unix seconds to verify at (default: now).",
)
@click.option("--tolerance", type=float, callback=_tolerance, help="Seconds either way [300].")
@click.option("--algorithm", type=click.Choice(["sha256", "sha512"]), default="sha256")
@click.option("--encoding", type=click.Choice(["hex", "base64"]), default="hex")
@click.option("--prefix", default="", help="Text before the digest, e.g. 'sha256=' (hmac).")
def verify(
    scheme: str,
    secrets: Sequence[str],
    signature: str,
    msg_id: str | None,
    timestamp: int | None,
    now: int | None,
    tolerance: float | None,
    algorithm: str,
    encoding: str,
    prefix: str,
) -> None:
    """Exit 0 if SIGNATURE is valid for the body on standard input, else 1 with the reason."""
    _only_standard(scheme, msg_id, timestamp, "verify")
    body = _stdin()
    at = time.time() if now is None else float(now)
    try:
        chosen = _scheme(
            scheme, tolerance=tolerance, algorithm=algorithm, encoding=encoding, prefix=prefix
        )
        verifier = chosen.verifier(list(secrets), clock=lambda: at)
        headers: dict[str, str] = {}
        if scheme == "standard":
            if msg_id is not None:
                headers["webhook-id"] = msg_id
            if timestamp is not None:
                headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = signature
        else:
            headers[_header_of(chosen)] = signature
        verifier.verify(body, headers)
    except ShipsyncError as error:
        _fail(error)
    click.echo("valid")


def _header_of(scheme: SignatureScheme) -> str:
    assert isinstance(scheme, HmacScheme | StripeScheme)
    return scheme.header
