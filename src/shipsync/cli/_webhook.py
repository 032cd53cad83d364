"""The ``shipsync webhook`` commands: sign, verify or send a delivery from the shell.

``sign`` and ``verify`` read the body as raw bytes from standard input; ``send`` reads it from a
file or standard input. ``verify`` exits 0 when the signature is valid and 1 (with the error's class
name and message on standard error) when it is not. Header values given on the command line
(``--timestamp``, ``--id``, ``--signature``) reach the verifier as the text typed, so the command
is exactly as strict as the library. Secrets may come from ``SHIPSYNC_WEBHOOK_SECRET`` instead of
``--secret`` to keep them out of process listings.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO, NoReturn

import click

if TYPE_CHECKING:
    from shipsync.errors import ShipsyncError
    from shipsync.webhooks import SignatureScheme

__all__ = ["webhook"]

_SCHEMES = ("standard", "stripe", "hmac", "github", "easypost")
# Bounds that keep a typed error (or a usage error) from ever turning into an OverflowError.
_MAX_TOLERANCE = 10**9  # about 31 years, in seconds
_MAX_NOW = 10**12  # the first Unix second with 13 digits
_DIGITS = re.compile(r"[0-9]+")


def _tolerance(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not 0 <= value <= _MAX_TOLERANCE:  # also refuses NaN
        raise click.BadParameter(f"must be a number of seconds from 0 to {_MAX_TOLERANCE}")
    return value


def _sign_timestamp(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    """Signing needs a number: plain ASCII digits only (no sign, underscore or other digits)."""
    if value is None:
        return None
    if _DIGITS.fullmatch(value) is None:
        raise click.BadParameter("must be Unix seconds written as plain ASCII digits")
    return int(value)


def _scheme(
    name: str,
    *,
    tolerance: float | None = None,
    algorithm: str = "sha256",
    encoding: str = "hex",
    prefix: str = "",
    header: str = "X-Signature",
) -> SignatureScheme:
    from datetime import timedelta

    from shipsync.webhooks import (
        EASYPOST_SCHEME,
        GITHUB_SCHEME,
        HmacScheme,
        StandardWebhooksScheme,
        StripeScheme,
    )

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


def _only_standard(scheme: str, msg_id: str | None, timestamp: object, verb: str) -> None:
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
_hmac_options = [
    click.option("--algorithm", type=click.Choice(["sha256", "sha512"]), default="sha256"),
    click.option("--encoding", type=click.Choice(["hex", "base64"]), default="hex"),
    click.option("--prefix", default="", help="Text before the digest, e.g. 'sha256=' (hmac)."),
]


def _with_hmac_options(fn: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_hmac_options):
        fn = option(fn)
    return fn


def _signed_headers(
    scheme: str,
    secrets: Sequence[str],
    body: bytes,
    msg_id: str | None,
    timestamp: int | None,
    algorithm: str,
    encoding: str,
    prefix: str,
) -> dict[str, str]:
    from shipsync.errors import ShipsyncError

    try:
        chosen = _scheme(scheme, algorithm=algorithm, encoding=encoding, prefix=prefix)
        return chosen.signer(list(secrets)).sign(body, msg_id=msg_id, timestamp=timestamp)
    except ShipsyncError as error:
        _fail(error)


@click.group(name="webhook")
def webhook() -> None:
    """Sign, verify and send webhook deliveries."""


@webhook.command()
@_scheme_option
@_secret_option
@click.option("--id", "msg_id", help="Message id (standard; required there).")
@click.option("--timestamp", callback=_sign_timestamp, help="Unix seconds to sign (default: now).")
@_with_hmac_options
@click.option("--signature-only", is_flag=True, help="Print only the signature value, for scripts.")
def sign(
    scheme: str,
    secrets: Sequence[str],
    msg_id: str | None,
    timestamp: int | None,
    algorithm: str,
    encoding: str,
    prefix: str,
    signature_only: bool,
) -> None:
    """Print the headers that sign the body read from standard input.

    One ``-H 'name: value'`` line per header (id, timestamp and signature, as the scheme signs
    them), ready to paste into a curl command; ``--signature-only`` prints just the signature.
    """
    _only_standard(scheme, msg_id, timestamp, "sign")
    headers = _signed_headers(
        scheme, secrets, _stdin(), msg_id, timestamp, algorithm, encoding, prefix
    )
    if signature_only:
        click.echo(next(v for k, v in headers.items() if k.lower() not in _NOT_SIGNATURE))
        return
    lines = [f"-H {shlex.quote(f'{name}: {value}')}" for name, value in headers.items()]
    click.echo(" \\\n".join(lines))


_NOT_SIGNATURE = frozenset({"webhook-id", "webhook-timestamp"})


@webhook.command()
@_scheme_option
@_secret_option
@click.option("--signature", required=True, help="The signature header value to check.")
@click.option("--id", "msg_id", help="Message id (standard).")
@click.option("--timestamp", help="Signed Unix seconds, as the header's text (standard).")
@click.option(
    "--now",
    type=click.IntRange(0, _MAX_NOW),
    help="Unix seconds to verify at (default: now).",
)
@click.option("--tolerance", type=float, callback=_tolerance, help="Seconds either way [300].")
@_with_hmac_options
def verify(
    scheme: str,
    secrets: Sequence[str],
    signature: str,
    msg_id: str | None,
    timestamp: str | None,
    now: int | None,
    tolerance: float | None,
    algorithm: str,
    encoding: str,
    prefix: str,
) -> None:
    """Exit 0 if SIGNATURE is valid for the body on standard input, else 1 with the reason."""
    from shipsync.errors import ShipsyncError

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
                headers["webhook-timestamp"] = timestamp  # the text, unchanged
            headers["webhook-signature"] = signature
        else:
            headers[_header_of(chosen)] = signature
        verifier.verify(body, headers)
    except ShipsyncError as error:
        _fail(error)
    click.echo("valid")


@webhook.command()
@click.argument("url")
@_scheme_option
@_secret_option
@click.option(
    "--body",
    "body_file",
    type=click.File("rb"),
    default="-",
    show_default=True,
    help="File holding the body to send; '-' reads standard input.",
)
@click.option("--id", "msg_id", help="Message id (standard; default: a new msg_… id).")
@click.option("--timestamp", callback=_sign_timestamp, help="Unix seconds to sign (default: now).")
@click.option(
    "--content-type", default="application/json", show_default=True, help="Content-Type sent."
)
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True)
@_with_hmac_options
def send(
    url: str,
    scheme: str,
    secrets: Sequence[str],
    body_file: BinaryIO,
    msg_id: str | None,
    timestamp: int | None,
    content_type: str,
    timeout: float,
    algorithm: str,
    encoding: str,
    prefix: str,
) -> None:
    """POST a signed delivery to URL and print the answer's status line and body.

    Exits 0 when the answer is 2xx, 1 otherwise (or when the URL cannot be reached).
    """
    import httpx

    _only_standard(scheme, msg_id, timestamp, "send")
    if scheme == "standard" and msg_id is None:
        msg_id = f"msg_{uuid.uuid4().hex}"
    body = body_file.read()
    headers = _signed_headers(scheme, secrets, body, msg_id, timestamp, algorithm, encoding, prefix)
    headers["content-type"] = content_type
    try:
        answer = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot send to {url}: {type(exc).__name__}: {exc}") from None
    click.echo(f"{answer.status_code} {answer.reason_phrase}")
    if answer.content:
        click.echo(answer.text)
    if not answer.is_success:
        sys.exit(1)


def _header_of(scheme: SignatureScheme) -> str:
    from shipsync.webhooks import HmacScheme, StripeScheme

    assert isinstance(scheme, HmacScheme | StripeScheme)
    return scheme.header
