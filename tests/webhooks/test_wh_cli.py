"""The ``webhook`` command group: sign and verify from the shell, body on standard input."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from _wh_helpers import ED_SECRET, HMAC_SECRET, NOW, OTHER_SECRET
from click.testing import CliRunner

from shipsync.webhooks import StandardWebhooksScheme
from shipsync.webhooks._cli import webhook

BODY = b'{"hello":"world"}\xff'


def _run(*args: str, body: bytes = BODY) -> tuple[int, str, str]:
    result = CliRunner().invoke(webhook, list(args), input=body)
    return result.exit_code, result.stdout, result.stderr


def test_sign_standard_prints_the_reference_signature_value() -> None:
    """``sign --scheme standard`` prints exactly the webhook-signature our signer computes."""
    code, out, _ = _run(
        "sign", "--scheme", "standard", "--secret", HMAC_SECRET, "--id", "m1",
        "--timestamp", str(NOW),
    )  # fmt: skip
    expected = StandardWebhooksScheme().signer(HMAC_SECRET).signature("m1", NOW, BODY)
    assert (code, out) == (0, expected + "\n")


def test_sign_then_verify_standard_round_trip_with_now_and_tolerance() -> None:
    """A signature printed by sign verifies (exit 0), and fails as too old past the tolerance."""
    _, signature, _ = _run(
        "sign", "--scheme", "standard", "--secret", ED_SECRET, "--id", "m1",
        "--timestamp", str(NOW),
    )  # fmt: skip
    public = StandardWebhooksScheme.public_key(ED_SECRET)
    common = ["verify", "--scheme", "standard", "--secret", public, "--id", "m1"]
    common += ["--timestamp", str(NOW), "--signature", signature.strip()]
    assert _run(*common, "--now", str(NOW + 10))[:2] == (0, "valid\n")
    code, out, err = _run(*common, "--now", str(NOW + 10), "--tolerance", "5")
    assert (code, out) == (1, "")
    assert err.startswith("TimestampTooOldError: ")


def test_verify_failures_exit_1_with_class_name_and_no_secret() -> None:
    """A wrong secret exits 1 naming NoMatchingSignatureError; stderr never shows secrets."""
    _, signature, _ = _run(
        "sign", "--scheme", "standard", "--secret", HMAC_SECRET, "--id", "m1",
        "--timestamp", str(NOW),
    )  # fmt: skip
    code, _, err = _run(
        "verify", "--scheme", "standard", "--secret", OTHER_SECRET, "--id", "m1",
        "--timestamp", str(NOW), "--now", str(NOW), "--signature", signature.strip(),
    )  # fmt: skip
    assert code == 1
    assert err.startswith("NoMatchingSignatureError: ")
    assert OTHER_SECRET[6:] not in err
    assert signature.strip()[3:] not in err


def test_verify_reads_the_body_from_stdin() -> None:
    """A different body on standard input fails verification."""
    _, signature, _ = _run(
        "sign", "--scheme", "standard", "--secret", HMAC_SECRET, "--id", "m1",
        "--timestamp", str(NOW),
    )  # fmt: skip
    code, _, err = _run(
        "verify", "--scheme", "standard", "--secret", HMAC_SECRET, "--id", "m1",
        "--timestamp", str(NOW), "--now", str(NOW), "--signature", signature.strip(),
        body=BODY + b" ",
    )  # fmt: skip
    assert code == 1
    assert err.startswith("NoMatchingSignatureError")


def test_verify_without_id_reports_the_missing_header() -> None:
    """Standard verification without --id exits 1 with MissingHeaderError."""
    code, _, err = _run(
        "verify", "--scheme", "standard", "--secret", HMAC_SECRET, "--timestamp", str(NOW),
        "--signature", "v1,xx",
    )  # fmt: skip
    assert code == 1
    assert err.startswith("MissingHeaderError: missing header 'webhook-id'")


def test_stripe_sign_and_verify() -> None:
    """Stripe signatures carry their own timestamp; verify honours --now."""
    secret = "whsec_stripe"
    code, out, _ = _run("sign", "--scheme", "stripe", "--secret", secret, "--timestamp", str(NOW))
    mac = hmac.new(secret.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert (code, out) == (0, f"t={NOW},v1={mac}\n")
    args = ["verify", "--scheme", "stripe", "--secret", secret, "--signature", out.strip()]
    assert _run(*args, "--now", str(NOW))[0] == 0
    code, _, err = _run(*args, "--now", str(NOW - 1000))
    assert (code, err.split(":")[0]) == (1, "TimestampTooNewError")


@pytest.mark.parametrize(
    ("extra", "digest"),
    [
        ([], lambda raw: raw.hex()),
        (["--algorithm", "sha512", "--encoding", "base64", "--prefix", "sha512="], None),
    ],
    ids=["hex-sha256", "base64-sha512-prefixed"],
)
def test_hmac_sign_and_verify(extra: list[str], digest: object) -> None:
    """Plain HMAC signing prints prefix+digest; verify accepts it and refuses a wrong secret."""
    code, out, _ = _run("sign", "--scheme", "hmac", "--secret", "s3cret", *extra)
    assert code == 0
    if digest is not None:
        assert out.strip() == hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    args = ["verify", "--scheme", "hmac", "--signature", out.strip(), *extra]
    assert _run(*args, "--secret", "s3cret")[0] == 0
    assert _run(*args, "--secret", "other")[0] == 1


def test_github_preset() -> None:
    """--scheme github signs with GitHub's documented example."""
    code, out, _ = _run(
        "sign",
        "--scheme",
        "github",
        "--secret",
        "It's a Secret to Everybody",
        body=b"Hello, World!",
    )
    assert code == 0
    assert out.strip() == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_secret_from_the_environment() -> None:
    """SHIPSYNC_WEBHOOK_SECRET supplies the secret when --secret is absent."""
    result = CliRunner(env={"SHIPSYNC_WEBHOOK_SECRET": "s3cret"}).invoke(
        webhook, ["sign", "--scheme", "hmac"], input=BODY
    )
    assert result.stdout.strip() == hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()


def test_bad_secret_exits_1_with_the_secret_error() -> None:
    """A malformed secret is reported by class name, without echoing it."""
    code, _, err = _run(
        "sign", "--scheme", "standard", "--secret", "whsec_not base64!", "--id", "m"
    )
    assert code == 1
    assert err.startswith("WebhookSecretError: ")
    assert "not base64!" not in err


def test_sign_standard_without_id_is_an_input_error() -> None:
    """Standard signatures need a message id."""
    code, _, err = _run("sign", "--scheme", "standard", "--secret", HMAC_SECRET)
    assert code == 1
    assert err.startswith("InvalidInputError: ")


@pytest.mark.parametrize(
    "args",
    [
        ["sign", "--scheme", "hmac", "--secret", "s", "--id", "x"],
        ["sign", "--scheme", "stripe", "--secret", "s", "--id", "x"],
        ["sign", "--scheme", "nope", "--secret", "s"],
        ["verify", "--scheme", "hmac", "--secret", "s"],
    ],
    ids=["hmac-with-id", "stripe-with-id", "unknown-scheme", "verify-without-signature"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    """Options that do not apply and missing required options are usage errors."""
    assert _run(*args)[0] == 2
