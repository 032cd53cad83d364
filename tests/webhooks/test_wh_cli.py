"""The ``webhook`` command group: sign and verify from the shell, body on standard input."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from _wh_helpers import ED_SECRET, HMAC_SECRET, NOW, OTHER_SECRET
from click.testing import CliRunner

from shipsync.cli import main
from shipsync.webhooks import StandardWebhooksScheme

BODY = b'{"hello":"world"}\xff'


def _run(*args: str, body: bytes = BODY) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["webhook", *args], input=body)
    return result.exit_code, result.stdout, result.stderr


def test_sign_standard_prints_the_reference_signature_value() -> None:
    """``sign --scheme standard`` prints exactly the webhook-signature our signer computes."""
    code, out, _ = _run(
        "sign", "--signature-only", "--scheme", "standard", "--secret", HMAC_SECRET, "--id", "m1",
        "--timestamp", str(NOW),
    )  # fmt: skip
    expected = StandardWebhooksScheme().signer(HMAC_SECRET).signature("m1", NOW, BODY)
    assert (code, out) == (0, expected + "\n")


def test_sign_then_verify_standard_round_trip_with_now_and_tolerance() -> None:
    """A signature printed by sign verifies (exit 0), and fails as too old past the tolerance."""
    _, signature, _ = _run(
        "sign", "--signature-only", "--scheme", "standard", "--secret", ED_SECRET, "--id", "m1",
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
        "sign", "--signature-only", "--scheme", "standard", "--secret", HMAC_SECRET, "--id", "m1",
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
        "sign", "--signature-only", "--scheme", "standard", "--secret", HMAC_SECRET, "--id", "m1",
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
    code, out, _ = _run(
        "sign",
        "--signature-only",
        "--scheme",
        "stripe",
        "--secret",
        secret,
        "--timestamp",
        str(NOW),
    )
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
    code, out, _ = _run(
        "sign", "--signature-only", "--scheme", "hmac", "--secret", "s3cret", *extra
    )
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
        "--signature-only",
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
        main, ["webhook", "sign", "--signature-only", "--scheme", "hmac"], input=BODY
    )
    assert result.stdout.strip() == hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()


def test_bad_secret_exits_1_with_the_secret_error() -> None:
    """A malformed secret is reported by class name, without echoing it."""
    code, _, err = _run(
        "sign",
        "--signature-only",
        "--scheme",
        "standard",
        "--secret",
        "whsec_not base64!",
        "--id",
        "m",
    )
    assert code == 1
    assert err.startswith("WebhookSecretError: ")
    assert "not base64!" not in err


def test_sign_standard_without_id_is_an_input_error() -> None:
    """Standard signatures need a message id."""
    code, _, err = _run("sign", "--signature-only", "--scheme", "standard", "--secret", HMAC_SECRET)
    assert code == 1
    assert err.startswith("InvalidInputError: ")


@pytest.mark.parametrize(
    "args",
    [
        ["sign", "--signature-only", "--scheme", "hmac", "--secret", "s", "--id", "x"],
        ["sign", "--signature-only", "--scheme", "stripe", "--secret", "s", "--id", "x"],
        ["sign", "--signature-only", "--scheme", "nope", "--secret", "s"],
        ["verify", "--scheme", "hmac", "--secret", "s"],
    ],
    ids=["hmac-with-id", "stripe-with-id", "unknown-scheme", "verify-without-signature"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    """Options that do not apply and missing required options are usage errors."""
    assert _run(*args)[0] == 2


def _signed_standard(secret: str = HMAC_SECRET) -> list[str]:
    _, signature, _ = _run(
        "sign", "--signature-only", "--scheme", "standard", "--secret", secret, "--id", "m1",
        "--timestamp", str(NOW),
    )  # fmt: skip
    return [
        "verify", "--scheme", "standard", "--secret", HMAC_SECRET, "--id", "m1",
        "--timestamp", str(NOW), "--now", str(NOW), "--signature", signature.strip(),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"--signature": "v1,"}, "MalformedHeaderError"),
        ({"--timestamp": "-5"}, "MalformedHeaderError"),
        ({"--now": str(NOW + 301)}, "TimestampTooOldError"),
        ({"--now": str(NOW - 301)}, "TimestampTooNewError"),
        ({"--id": "m 2"}, "MalformedHeaderError"),
        ({"--secret": "whsk_AAAA"}, "WebhookSecretError"),
        ({"--secret": OTHER_SECRET}, "NoMatchingSignatureError"),
    ],
    ids=["empty-v1", "negative-ts", "too-old", "too-new", "bad-id", "bad-secret", "other-secret"],
)
def test_verify_failures_print_exactly_one_line_class_colon_message(
    change: dict[str, str], error: str
) -> None:
    """Exit 1 with a single stderr line '<ErrorClass>: <message>' and nothing on stdout; the
    line holds neither the secret nor the signature."""
    args = _signed_standard()
    signature = args[args.index("--signature") + 1]
    for option, value in change.items():
        args[args.index(option) + 1] = value
    code, out, err = _run(*args)
    assert (code, out) == (1, "")
    assert err.endswith("\n")
    assert err.count("\n") == 1
    name, _, message = err.rstrip("\n").partition(": ")
    assert name == error
    assert message
    assert HMAC_SECRET[6:] not in err
    assert signature[3:] not in err


@pytest.mark.parametrize(
    "extra",
    [
        ["--tolerance", "inf"],
        ["--tolerance", "nan"],
        ["--tolerance", "1e300"],
        ["--tolerance", "-1"],
        ["--now", "9" * 40],
        ["--now", "-1"],
    ],
    ids=["tolerance-inf", "tolerance-nan", "tolerance-huge", "tolerance-negative", "now-huge",
         "now-negative"],
)  # fmt: skip
def test_out_of_range_numbers_are_usage_errors_not_crashes(extra: list[str]) -> None:
    """Numbers no verifier could use exit 2 with click's usage message, never a traceback."""
    result = CliRunner().invoke(main, ["webhook", *_signed_standard(), *extra], input=BODY)
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr


def test_zero_tolerance_accepts_only_the_exact_second() -> None:
    """--tolerance 0 verifies at the signed second and fails one second later."""
    args = [*_signed_standard(), "--tolerance", "0"]
    assert _run(*args)[:2] == (0, "valid\n")
    args[args.index("--now") + 1] = str(NOW + 1)
    assert _run(*args)[0] == 1


@pytest.mark.parametrize("scheme", ["stripe", "hmac", "github", "easypost"])
def test_a_secret_that_is_not_unicode_is_a_secret_error(scheme: str) -> None:
    """A secret with a lone surrogate (undecodable bytes in argv) exits 1 with the secret error."""
    code, _, err = _run("sign", "--signature-only", "--scheme", scheme, "--secret", "s\udcff")
    assert code == 1
    assert err.startswith("WebhookSecretError: ")


def test_sign_refuses_a_timestamp_no_verifier_could_read() -> None:
    """A 13-digit timestamp is refused with an InvalidInputError (exit 1)."""
    code, _, err = _run(
        "sign", "--signature-only", "--scheme", "standard", "--secret", HMAC_SECRET, "--id", "m",
        "--timestamp", str(10**12),
    )  # fmt: skip
    assert code == 1
    assert err.startswith("InvalidInputError: ")
