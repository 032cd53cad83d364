"""E-mail over SMTP (aiosmtplib): implicit TLS or STARTTLS, authentication, one message per send.

Each notification becomes a ``multipart/alternative`` message (plain text and HTML) whose
``Message-ID`` derives from the notification id, the same on every attempt, so a mailbox or a
relay that sees it twice can tell. SMTP answers map onto the channel contract: a 4xx, a refused
or dropped connection, a timeout are :class:`~shipsync.errors.ChannelUnavailableError` (try
later); a 5xx (mailbox unknown, message refused) and a failed login are
:class:`~shipsync.errors.ChannelRejectedError` (sending again as it is will not help).
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate

import attrs

from shipsync.errors import (
    ChannelRejectedError,
    ChannelUnavailableError,
    ConfigurationError,
    MissingDependencyError,
)

from ._channel import OutboundMessage, SendReceipt

__all__ = ["EmailChannel", "build_email"]


def build_email(message: OutboundMessage, sender: str, *, domain: str = "shipsync") -> EmailMessage:
    """The e-mail of ``message``: text and HTML alternatives, a stable ``Message-ID``."""
    recipient = message.recipient
    if not recipient.email:
        raise ChannelRejectedError("the recipient has no e-mail address", channel="email")
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = formataddr((recipient.name or "", recipient.email))
    mail["Subject"] = message.subject
    mail["Message-ID"] = f"<{message.id}@{domain}>"
    mail["Date"] = formatdate(message.notification.requested_at.timestamp(), usegmt=True)
    mail["Content-Language"] = message.locale.replace("_", "-")
    mail.set_content(message.text)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail


@attrs.define
class EmailChannel:
    """Sends notifications as e-mail through an SMTP server.

    Args:
        host, port: the SMTP server (587 with STARTTLS, 465 with implicit TLS, 25 plain).
        sender: the ``From`` address.
        username, password: log in when given (only over TLS unless ``allow_plain_auth``).
        use_tls: implicit TLS from the first byte (port 465).
        start_tls: upgrade with STARTTLS (True: required; None: when the server offers it).
        tls_context: the TLS settings (a custom CA, say); the system's by default.
        timeout: seconds for the whole conversation.
    """

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    use_tls: bool = False
    start_tls: bool | None = None
    tls_context: ssl.SSLContext | None = None
    timeout: float = 30.0
    allow_plain_auth: bool = False
    domain: str = "shipsync"
    name: str = "email"

    def __attrs_post_init__(self) -> None:
        if self.use_tls and self.start_tls:
            raise ConfigurationError("use_tls and start_tls exclude each other", path="start_tls")
        if (
            self.username is not None
            and not (self.use_tls or self.start_tls)
            and not self.allow_plain_auth
        ):
            raise ConfigurationError(
                "SMTP auth needs use_tls or start_tls (or allow_plain_auth)", path="username"
            )
        if not 0 < self.port < 65536:
            raise ConfigurationError("an SMTP port is 1 to 65535", path="port")

    @property
    def address(self) -> str | None:
        """E-mail needs the recipient's ``email``."""
        return "email"

    async def send(self, message: OutboundMessage) -> SendReceipt:
        """Send ``message`` as one e-mail."""
        try:
            import aiosmtplib
        except ImportError as exc:  # pragma: no cover - installed with the extra
            raise MissingDependencyError("sending e-mail", "notify") from exc
        mail = build_email(message, self.sender, domain=self.domain)
        try:
            _refused, answer = await aiosmtplib.send(
                mail,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                tls_context=self.tls_context,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise ChannelRejectedError(
                f"the SMTP server refused the login ({exc.code})", channel=self.name
            ) from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = sorted({e.code for e in exc.recipients})
            if all(400 <= c < 500 for c in codes):
                raise ChannelUnavailableError(
                    f"the SMTP server deferred the recipient ({codes})", channel=self.name
                ) from exc
            raise ChannelRejectedError(
                f"the SMTP server refused the recipient ({codes})", channel=self.name
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise ChannelUnavailableError(
                    f"the SMTP server deferred the message ({exc.code})", channel=self.name
                ) from exc
            if 500 <= exc.code < 600:
                raise ChannelRejectedError(
                    f"the SMTP server refused the message ({exc.code})", channel=self.name
                ) from exc
            raise ChannelUnavailableError(
                f"the SMTP server answered {exc.code}", channel=self.name
            ) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ChannelUnavailableError(
                f"the SMTP server cannot be reached ({type(exc).__name__})", channel=self.name
            ) from exc
        return SendReceipt(message.id, self.name, detail=answer[:200])
