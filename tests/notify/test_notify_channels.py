"""Every channel against the public conformance kit, e-mail against a real local SMTP server."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from _notify_helpers import LocalEndpoint, smtp_server
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shipsync.errors import (
    ChannelRejectedError,
    ChannelUnavailableError,
    ConfigurationError,
    OdooUnavailableError,
)
from shipsync.notify import (
    EmailChannel,
    EndpointStore,
    OdooChatterChannel,
    RecordingChannel,
    Renderer,
    ShadowChannel,
    WebhookChannel,
    WebhookSender,
)
from shipsync.testing.notify import ChannelConformance, ChannelHarness, sample_notification


class TestRecordingChannel(ChannelConformance):
    """The reference channel passes the kit."""

    @pytest.fixture
    def channel_harness(self) -> ChannelHarness:
        channel = RecordingChannel("recording")
        return ChannelHarness(channel, lambda: [m.id for m in channel.sent])


class TestShadowChannel(ChannelConformance):
    """The shadow wrapper records instead of sending, under the wrapped channel's name."""

    @pytest.fixture
    def channel_harness(self) -> ChannelHarness:
        inner = RecordingChannel("email", address="email")
        shadow = ShadowChannel(inner)
        return ChannelHarness(shadow, lambda: [m.id for m in shadow.recorded])


async def test_the_shadow_channel_sends_nothing_through_the_wrapped_one() -> None:
    """A shadow send renders and records; the wrapped channel never sees the message."""
    inner = RecordingChannel("email", address="email")
    shadow = ShadowChannel(inner)
    harness = ChannelHarness(shadow, list)
    message = Renderer().render(sample_notification("email", harness.recipient))
    receipt = await shadow.send(message)
    assert receipt.shadow
    assert inner.sent == []
    assert shadow.recorded == [message]
    assert (shadow.name, shadow.address) == ("email", "email")


class TestEmailChannel(ChannelConformance):
    """E-mail over a real aiosmtpd server on localhost; the server refuses (451) when broken."""

    @pytest.fixture
    def channel_harness(self) -> Iterator[ChannelHarness]:
        with smtp_server() as (sink, port):

            def down() -> None:
                sink.refusing = True

            def up() -> None:
                sink.refusing = False

            yield ChannelHarness(
                EmailChannel("127.0.0.1", port, "shop@example.com", timeout=5),
                sink.message_ids,
                break_channel=down,
                repair_channel=up,
            )


class TestWebhookChannel(ChannelConformance):
    """Webhooks to a real local endpoint; a failed attempt is scheduled, not raised."""

    @pytest.fixture
    async def channel_harness(self, tmp_path: Path) -> AsyncIterator[ChannelHarness]:
        with LocalEndpoint() as endpoint:
            store = EndpointStore(tmp_path / "ep.db")
            store.add(endpoint.url, id="ep", allow_private=True)
            sender = WebhookSender(store)
            yield ChannelHarness(WebhookChannel(sender), lambda: endpoint.delivered)
            await sender.aclose()
            store.close()


class _FakeOdoo:
    """An in-process Odoo gateway routing on (model, method): a sale order and its chatter."""

    def __init__(self) -> None:
        self.orders = {"SO042": 7}
        self.messages: list[dict[str, Any]] = []
        self.down = False

    @property
    def server_version(self) -> tuple[int, int]:
        return (18, 0)

    @property
    def uid(self) -> int:
        return 2

    @property
    def round_trips(self) -> int:
        return 0

    def call(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        if self.down:
            raise OdooUnavailableError("connection refused")
        kwargs = dict(kwargs or {})
        if (model, method) == ("sale.order", "search_read"):
            (domain,) = args
            name = domain[0][2]
            return [{"id": self.orders[name]}] if name in self.orders else []
        if (model, method) == ("mail.message", "search_count"):
            (domain,) = args
            wanted = {tuple(term) for term in domain}
            return sum(
                1
                for m in self.messages
                if ("message_id", "=", m["message_id"]) in wanted
                and ("res_id", "=", m["res_id"]) in wanted
            )
        if (model, method) == ("sale.order", "message_post"):
            (ids,) = args
            self.messages.append({"res_id": ids[0], **kwargs})
            return len(self.messages)
        raise AssertionError(f"unexpected Odoo call {model}.{method}")


class TestOdooChatterChannel(ChannelConformance):
    """The chatter channel on an in-process fake gateway (tests/odoo replays it on Odoo 18)."""

    @pytest.fixture
    def channel_harness(self) -> ChannelHarness:
        odoo = _FakeOdoo()

        def down() -> None:
            odoo.down = True

        def up() -> None:
            odoo.down = False

        return ChannelHarness(
            OdooChatterChannel(odoo),
            lambda: [m["message_id"].strip("<>").split("@")[0] for m in odoo.messages],
            break_channel=down,
            repair_channel=up,
        )


async def test_odoo_posts_a_customer_visible_comment_once_per_notification() -> None:
    """The post is a mail.mt_comment comment with the notification's message id; a repeat of the
    same notification posts nothing more."""
    odoo = _FakeOdoo()
    channel = OdooChatterChannel(odoo)
    harness = ChannelHarness(channel, list)
    message = Renderer().render(sample_notification("odoo", harness.recipient))
    await channel.send(message)
    again = await channel.send(message)
    assert again.detail == "posted before"
    (posted,) = odoo.messages
    assert posted["message_type"] == "comment"
    assert posted["subtype_xmlid"] == "mail.mt_comment"
    assert posted["message_id"] == f"<{message.id}@shipsync>"
    assert posted["res_id"] == 7


async def test_odoo_without_the_order_is_a_rejection() -> None:
    """A notification naming an order Odoo does not have is rejected for good."""
    channel = OdooChatterChannel(_FakeOdoo())
    harness = ChannelHarness(channel, list)
    n = sample_notification("odoo", harness.recipient, order_reference="SO999")
    with pytest.raises(ChannelRejectedError):
        await channel.send(Renderer().render(n))


async def test_smtp_refusing_then_recovering_delivers_the_same_message_id() -> None:
    """A 451 is retryable; after recovery the same Message-ID arrives, text and HTML parts."""
    with smtp_server() as (sink, port):
        channel = EmailChannel("127.0.0.1", port, "shop@example.com", timeout=5)
        harness = ChannelHarness(channel, sink.message_ids)
        message = Renderer().render(sample_notification("email", harness.recipient))
        sink.refusing = True
        with pytest.raises(ChannelUnavailableError):
            await channel.send(message)
        sink.refusing = False
        await channel.send(message)
        (mail,) = sink.messages
        assert sink.refused == 1
        assert mail["Message-ID"] == f"<{message.id}@shipsync>"
        kinds = [part.get_content_type() for part in mail.walk()]
        assert kinds == ["multipart/alternative", "text/plain", "text/html"]


async def test_no_smtp_server_is_unavailable_not_a_crash() -> None:
    """A closed port is a retryable ChannelUnavailableError."""
    from _notify_helpers import free_port

    channel = EmailChannel("127.0.0.1", free_port(), "shop@example.com", timeout=2)
    message = Renderer().render(
        sample_notification("email", ChannelHarness(channel, list).recipient)
    )
    with pytest.raises(ChannelUnavailableError):
        await channel.send(message)


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_starttls_with_login_against_a_real_server(tmp_path: Path) -> None:
    """STARTTLS upgrades the connection (certificate checked) before the login; a wrong
    password is a rejection, the right one delivers."""
    from aiosmtpd.smtp import AuthResult

    cert, key = _certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        def raw(value: str | bytes) -> bytes:
            return value if isinstance(value, bytes) else value.encode()

        ok = raw(data.login) == b"shop" and raw(data.password) == b"s3cret"
        return AuthResult(success=ok, handled=False)

    with smtp_server(
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    ) as (sink, port):

        def channel(password: str) -> EmailChannel:
            return EmailChannel(
                "127.0.0.1",
                port,
                "shop@example.com",
                username="shop",
                password=password,
                start_tls=True,
                tls_context=client_tls,
                timeout=5,
            )

        harness = ChannelHarness(channel("x"), sink.message_ids)
        message = Renderer().render(sample_notification("email", harness.recipient))
        with pytest.raises(ChannelRejectedError):
            await channel("wrong").send(message)
        await channel("s3cret").send(message)
        assert sink.message_ids() == [message.id]


def test_email_settings_are_checked() -> None:
    """Login without TLS, TLS twice and a bad port are configuration errors."""
    with pytest.raises(ConfigurationError):
        EmailChannel("h", 25, "a@b.c", username="u", password="p")
    with pytest.raises(ConfigurationError):
        EmailChannel("h", 465, "a@b.c", use_tls=True, start_tls=True)
    with pytest.raises(ConfigurationError):
        EmailChannel("h", 0, "a@b.c")


async def test_implicit_tls_delivers_and_an_untrusted_certificate_is_unavailable(
    tmp_path: Path,
) -> None:
    """Over implicit TLS (port 465 style) a trusted server gets the message; a client that does
    not trust the certificate fails with a retryable error and sends nothing."""
    cert, key = _certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with smtp_server(ssl_context=server_tls) as (sink, port):
        trusted = EmailChannel(
            "127.0.0.1",
            port,
            "shop@example.com",
            use_tls=True,
            tls_context=ssl.create_default_context(cafile=str(cert)),
            timeout=5,
        )
        untrusted = EmailChannel(
            "127.0.0.1",
            port,
            "shop@example.com",
            use_tls=True,
            tls_context=ssl.create_default_context(),
            timeout=5,
        )
        recipient = ChannelHarness(trusted, list).recipient
        message = Renderer().render(sample_notification("email", recipient))
        with pytest.raises(ChannelUnavailableError):
            await untrusted.send(message)
        assert sink.messages == []
        await trusted.send(message)
        assert sink.message_ids() == [message.id]
