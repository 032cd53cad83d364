"""Rendering: a notification becomes a subject, plain text, HTML and a JSON payload.

Templates are Jinja2 (``status.subject.j2``, ``status.txt.j2``, ``status.html.j2``; HTML is
autoescaped, text is not). A host overrides any of them with a directory of its own, searched
first, and per-channel variants (``email/status.html.j2``) win over the shared ones. Words come
from :data:`TEXTS` by locale (English, German, French built in; a host adds its own), falling
back from ``de_AT`` to ``de`` to English. Dates, times and money are formatted by Babel for the
recipient's locale, times in the recipient's time zone: the template filters ``date``,
``datetime`` and ``money``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from os import PathLike
from typing import Any

import attrs

from shipsync.canonical import Money
from shipsync.errors import ConfigurationError, MissingDependencyError

from ._channel import OutboundMessage
from ._model import Notification, NotificationRequested
from ._rules import zone

__all__ = ["TEXTS", "Renderer", "webhook_payload"]

_STATUS_EN = {
    "order_confirmed": "Order confirmed",
    "preparing": "Preparing your shipment",
    "shipped": "Shipped",
    "delayed": "Delayed",
    "out_for_delivery": "Out for delivery",
    "action_needed": "Action needed",
    "ready_for_pickup": "Ready for pickup",
    "delivered": "Delivered",
    "returned": "Returned",
    "cancelled": "Cancelled",
}
_LEAD_EN = {
    "order_confirmed": "We have confirmed your order %(order)s.",
    "preparing": "We are preparing order %(order)s for shipping.",
    "shipped": "Your order %(order)s is on its way.",
    "delayed": "Your order %(order)s is delayed. We are sorry for the wait.",
    "out_for_delivery": "Your order %(order)s is out for delivery today.",
    "action_needed": "Your order %(order)s needs your attention: please contact us or the carrier.",
    "ready_for_pickup": "Your order %(order)s is ready for pickup.",
    "delivered": "Your order %(order)s was delivered.",
    "returned": "Your order %(order)s is being returned to us.",
    "cancelled": "The shipment of your order %(order)s was cancelled.",
}
_STATUS_DE = {
    "order_confirmed": "Bestellung bestätigt",
    "preparing": "Sendung wird vorbereitet",
    "shipped": "Versandt",
    "delayed": "Verspätet",
    "out_for_delivery": "In Zustellung",
    "action_needed": "Handlung erforderlich",
    "ready_for_pickup": "Zur Abholung bereit",
    "delivered": "Zugestellt",
    "returned": "Zurückgesandt",
    "cancelled": "Storniert",
}
_LEAD_DE = {
    "order_confirmed": "Wir haben Ihre Bestellung %(order)s bestätigt.",
    "preparing": "Wir bereiten Ihre Bestellung %(order)s für den Versand vor.",
    "shipped": "Ihre Bestellung %(order)s ist unterwegs.",
    "delayed": "Ihre Bestellung %(order)s verspätet sich. Bitte entschuldigen Sie die Wartezeit.",
    "out_for_delivery": "Ihre Bestellung %(order)s wird heute zugestellt.",
    "action_needed": "Ihre Bestellung %(order)s braucht Ihre Mithilfe: bitte melden Sie sich.",
    "ready_for_pickup": "Ihre Bestellung %(order)s liegt zur Abholung bereit.",
    "delivered": "Ihre Bestellung %(order)s wurde zugestellt.",
    "returned": "Ihre Bestellung %(order)s wird an uns zurückgesandt.",
    "cancelled": "Der Versand Ihrer Bestellung %(order)s wurde storniert.",
}
_STATUS_FR = {
    "order_confirmed": "Commande confirmée",
    "preparing": "Expédition en préparation",
    "shipped": "Expédiée",
    "delayed": "Retardée",
    "out_for_delivery": "En cours de livraison",
    "action_needed": "Action requise",
    "ready_for_pickup": "Prête à être retirée",
    "delivered": "Livrée",
    "returned": "Retournée",
    "cancelled": "Annulée",
}
_LEAD_FR = {
    "order_confirmed": "Nous avons confirmé votre commande %(order)s.",
    "preparing": "Nous préparons l'expédition de votre commande %(order)s.",
    "shipped": "Votre commande %(order)s est en route.",
    "delayed": "Votre commande %(order)s a du retard. Veuillez nous en excuser.",
    "out_for_delivery": "Votre commande %(order)s est en cours de livraison aujourd'hui.",
    "action_needed": "Votre commande %(order)s demande votre attention : contactez-nous.",
    "ready_for_pickup": "Votre commande %(order)s vous attend au point de retrait.",
    "delivered": "Votre commande %(order)s a été livrée.",
    "returned": "Votre commande %(order)s nous est retournée.",
    "cancelled": "L'expédition de votre commande %(order)s a été annulée.",
}

TEXTS: Mapping[str, Mapping[str, Any]] = {
    "en": {
        "hello": "Hello,",
        "greeting": "Hello %(name)s,",
        "subject": "Order %(order)s",
        "predicted": "Expected delivery: %(date)s.",
        "promised": "Delivery promised by %(date)s.",
        "tracking": "Tracking",
        "updated": "Last update: %(time)s",
        "status": _STATUS_EN,
        "lead": _LEAD_EN,
    },
    "de": {
        "hello": "Guten Tag,",
        "greeting": "Guten Tag %(name)s,",
        "subject": "Bestellung %(order)s",
        "predicted": "Voraussichtliche Zustellung: %(date)s.",
        "promised": "Zustellung zugesagt bis %(date)s.",
        "tracking": "Sendungsverfolgung",
        "updated": "Letzte Aktualisierung: %(time)s",
        "status": _STATUS_DE,
        "lead": _LEAD_DE,
    },
    "fr": {
        "hello": "Bonjour,",
        "greeting": "Bonjour %(name)s,",
        "subject": "Commande %(order)s",
        "predicted": "Livraison prévue : %(date)s.",
        "promised": "Livraison promise d'ici le %(date)s.",
        "tracking": "Suivi",
        "updated": "Dernière mise à jour : %(time)s",
        "status": _STATUS_FR,
        "lead": _LEAD_FR,
    },
}
"""Words by locale: the greeting, subject, lead sentence and label of each status."""


def webhook_payload(notification: Notification) -> dict[str, Any]:
    """The JSON object a machine channel sends: the change, without personal data."""
    n = notification
    return {
        "type": "shipment.customer_status",
        "id": n.notification_id,
        "shipment_id": n.shipment_id,
        "order_reference": n.order_reference,
        "status": n.status.value,
        "previous": n.previous.value if n.previous else None,
        "reason": n.reason.value if n.reason else None,
        "promised": n.promised.isoformat() if n.promised else None,
        "predicted": n.predicted.isoformat() if n.predicted else None,
        "changed_at": n.changed_at.isoformat() if n.changed_at else None,
        "carrier": n.carrier,
        "tracking_numbers": list(n.tracking_numbers),
        "recipient": n.recipient.id,
    }


@attrs.define
class Renderer:
    """Renders notifications with Jinja2 and Babel.

    Args:
        templates: a directory searched before the built-in templates.
        texts: extra or replacement words by locale, merged over :data:`TEXTS`.
    """

    templates: str | PathLike[str] | None = None
    texts: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    _env: Any = attrs.field(init=False, default=None, repr=False)

    def _environment(self) -> Any:
        if self._env is not None:
            return self._env
        try:
            import jinja2
        except ImportError as exc:  # pragma: no cover - the extra is installed in tests
            raise MissingDependencyError("rendering notifications", "notify") from exc
        loaders: list[Any] = []
        if self.templates is not None:
            loaders.append(jinja2.FileSystemLoader(str(self.templates)))
        loaders.append(jinja2.PackageLoader("shipsync.notify", "templates"))
        env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html.j2", "html"), default_for_string=False
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        env.filters["date"] = format_date
        env.filters["datetime"] = format_datetime
        env.filters["money"] = format_money
        self._env = env
        return env

    def words(self, locale: str) -> Mapping[str, Any]:
        """The words of ``locale``, falling back to its language and then to English."""
        merged: dict[str, Mapping[str, Any]] = {**TEXTS, **self.texts}
        language = locale.replace("-", "_").split("_")[0]
        for name in (locale, language, "en"):
            if name in merged:
                return merged[name]
        raise ConfigurationError("no words for English", path="texts")  # pragma: no cover

    def _template(self, channel: str, part: str) -> Any:
        env = self._environment()
        return env.get_or_select_template([f"{channel}/status.{part}.j2", f"status.{part}.j2"])

    def render(self, notification: Notification) -> OutboundMessage:
        """Render ``notification`` for its channel and recipient's locale."""
        n = notification
        locale = n.recipient.locale.replace("-", "_")
        context = {"n": n, "t": self.words(locale), "locale": locale}
        try:
            subject = self._template(n.channel, "subject").render(context).strip()
            text = self._template(n.channel, "txt").render(context).strip() + "\n"
            html = self._template(n.channel, "html").render(context)
        except ConfigurationError:
            raise
        except Exception as exc:  # a host template with an error, an unknown locale name
            raise ConfigurationError(
                f"the templates of channel {n.channel!r} failed: {type(exc).__name__}: {exc}",
                path="templates",
            ) from exc
        return OutboundMessage(
            id=n.notification_id,
            channel=n.channel,
            event_type="shipment.customer_status",
            recipient=n.recipient,
            notification=n,
            payload=webhook_payload(n),
            subject=" ".join(subject.split()),
            text=text,
            html=html,
            locale=locale,
        )

    def render_event(self, event: NotificationRequested) -> OutboundMessage:
        """Render the notification an event carries."""
        return self.render(event.data)


def known_locale(locale: str) -> str:
    """``locale`` if Babel knows it, else its language, else ``"en"``."""
    from babel import Locale, UnknownLocaleError

    for name in (locale, locale.split("_")[0]):
        try:
            Locale.parse(name)
        except (UnknownLocaleError, ValueError, TypeError):
            continue
        return name
    return "en"


def format_date(value: date, locale: str = "en") -> str:
    """``value`` as the locale writes a long date (``December 6, 2026``, ``6. Dezember 2026``)."""
    from babel.dates import format_date as babel_date

    return str(babel_date(value, format="long", locale=known_locale(locale)))


def format_datetime(value: datetime, locale: str = "en", timezone: str = "UTC") -> str:
    """``value`` in ``timezone``, as the locale writes a medium date and short time."""
    from babel.dates import format_datetime as babel_datetime

    return str(
        babel_datetime(value, format="medium", tzinfo=zone(timezone), locale=known_locale(locale))
    )


def format_money(value: Money, locale: str = "en") -> str:
    """``value`` as the locale writes an amount of its currency (``€1,234.50``, ``1.234,50 €``)."""
    from babel.numbers import format_currency

    return str(format_currency(value.amount, value.currency, locale=known_locale(locale)))
