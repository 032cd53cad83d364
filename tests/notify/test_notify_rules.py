"""The customer status projection, the rules (quiet hours, coalescing, preferences), rendering."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from _notify_helpers import T0, created, milestone, tracking

from shipsync.canonical import Milestone, Money, Reason, ShipmentStatus, fold
from shipsync.errors import CanonicalValidationError, ConfigurationError
from shipsync.notify import (
    DEFAULT_RANKS,
    CustomerStatus,
    Notification,
    Notifier,
    NotifyState,
    PreferenceBook,
    Preferences,
    QuietHours,
    Recipient,
    Renderer,
    Rule,
    Rules,
    StatusProjection,
)
from shipsync.notify._render import format_money

C = CustomerStatus


def _view(*events: object, promised: date | None = None, predicted: date | None = None) -> object:
    state = fold(list(events), shipment_id="S1")  # type: ignore[arg-type]
    return StatusProjection().project(state, promised=promised, predicted=predicted)


def test_the_default_table_maps_milestones_to_the_customer_vocabulary() -> None:
    """In transit reads 'shipped', a failed attempt 'action needed', delivered 'delivered'."""
    view = _view(tracking("S1", Milestone.IN_TRANSIT, 1))
    assert view is not None
    assert view.status is C.SHIPPED
    view = _view(tracking("S1", Milestone.DELIVERY_ATTEMPTED, 1))
    assert view.status is C.ACTION_NEEDED  # type: ignore[attr-defined]
    view = _view(tracking("S1", Milestone.DELIVERED, 1))
    assert view.status is C.DELIVERED  # type: ignore[attr-defined]


def test_an_exception_is_action_needed_or_delayed_by_its_reason() -> None:
    """A customs hold asks the customer to act; bad weather only delays."""
    held = _view(tracking("S1", Milestone.EXCEPTION, 1, reason=Reason.CUSTOMS_HOLD))
    weather = _view(tracking("S1", Milestone.EXCEPTION, 1, reason=Reason.WEATHER))
    assert held.status is C.ACTION_NEEDED  # type: ignore[attr-defined]
    assert weather.status is C.DELAYED  # type: ignore[attr-defined]


def test_a_prediction_after_the_promise_shows_delayed_with_both_dates() -> None:
    """A shipment in transit predicted after its promised date is 'delayed', dates kept."""
    view = _view(
        tracking("S1", Milestone.IN_TRANSIT, 1),
        promised=date(2026, 12, 3),
        predicted=date(2026, 12, 5),
    )
    assert view.status is C.DELAYED  # type: ignore[attr-defined]
    assert view.promised == date(2026, 12, 3)  # type: ignore[attr-defined]
    assert view.predicted == date(2026, 12, 5)  # type: ignore[attr-defined]


def test_unknown_tells_nothing_and_a_custom_table_is_used() -> None:
    """No known milestone projects to nothing; a host table replaces the default."""
    assert _view(tracking("S1", Milestone.UNKNOWN, 1)) is None
    table = {ShipmentStatus.IN_TRANSIT: C.OUT_FOR_DELIVERY}
    state = fold([tracking("S1", Milestone.IN_TRANSIT, 1)], shipment_id="S1")
    view = StatusProjection(table=table).project(state)
    assert view is not None
    assert view.status is C.OUT_FOR_DELIVERY


def test_a_table_naming_a_status_without_rank_is_refused() -> None:
    """Every customer status a table produces needs a rank, else the config is refused."""
    ranks = {k: v for k, v in DEFAULT_RANKS.items() if k is not C.RETURNED}
    with pytest.raises(ConfigurationError) as info:
        StatusProjection(ranks=ranks)
    assert info.value.path == "ranks"


@pytest.mark.parametrize(
    ("local", "zone", "expected_local"),
    [
        pytest.param(
            datetime(2026, 12, 6, 23, 30),
            "Europe/Paris",
            datetime(2026, 12, 7, 7, 0),
            id="late-evening-waits-for-morning",
        ),
        pytest.param(
            datetime(2026, 12, 7, 3, 0),
            "Europe/Paris",
            datetime(2026, 12, 7, 7, 0),
            id="after-midnight-waits-same-day",
        ),
        pytest.param(
            datetime(2026, 12, 7, 12, 0),
            "Europe/Paris",
            datetime(2026, 12, 7, 12, 0),
            id="daytime-goes-now",
        ),
        pytest.param(
            datetime(2026, 3, 29, 1, 30),
            "Europe/Berlin",
            datetime(2026, 3, 29, 7, 0),
            id="across-spring-dst",
        ),
        pytest.param(
            datetime(2026, 12, 6, 22, 30),
            "America/New_York",
            datetime(2026, 12, 7, 7, 0),
            id="new-york-night",
        ),
    ],
)
def test_quiet_hours_hold_a_message_until_morning_in_the_recipients_zone(
    local: datetime, zone: str, expected_local: datetime
) -> None:
    """A message due in 22:00-07:00 local time waits for 07:00 local, DST included."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    when = local.replace(tzinfo=tz).astimezone(UTC)
    released = QuietHours(time(22), time(7)).release_at(when, zone)
    assert released.astimezone(tz).replace(tzinfo=None) == expected_local


def test_quiet_hours_refuse_bad_settings() -> None:
    """Equal bounds, an unknown zone and a naive time are configuration errors."""
    with pytest.raises(ConfigurationError):
        QuietHours(time(7), time(7))
    with pytest.raises(ConfigurationError):
        QuietHours().release_at(datetime(2026, 1, 1, tzinfo=UTC), "Mars/Olympus")
    with pytest.raises(ConfigurationError):
        QuietHours().release_at(datetime(2026, 1, 1), "UTC")


def test_preferences_opt_a_recipient_out_of_a_channel_or_of_everything() -> None:
    """Opting out of e-mail keeps webhooks; opting out of everything routes nothing."""
    book = PreferenceBook()
    rules = Rules.of([Rule(("webhook", "email"))], book)
    ada = Recipient(id="ada", email="ada@example.com")
    assert set(rules.routes(C.SHIPPED, ada)) == {"webhook", "email"}
    book.opt_out("ada", "email")
    assert set(rules.routes(C.SHIPPED, ada)) == {"webhook"}
    book.opt_out("ada")
    assert rules.routes(C.SHIPPED, ada) == {}
    quiet = Rules.of([Rule(("email",))], {"ada": Preferences(statuses_off=frozenset({C.SHIPPED}))})
    assert quiet.routes(C.SHIPPED, ada) == {}
    assert set(quiet.routes(C.DELIVERED, ada)) == {"email"}


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_burst_within_the_window_becomes_one_message_with_the_latest_status() -> None:
    """Three scans within ten minutes publish one notification: the last status."""
    clock = _Clock()
    notifier = Notifier(
        NotifyState(":memory:"),
        Rules.of([Rule(("email",), coalesce=timedelta(minutes=10))]),
        clock=clock,
    )
    published: list[object] = []
    await notifier.handle(created("S1"), published.extend)
    for minutes, ms in (
        (0, Milestone.LABEL_CREATED),
        (2, Milestone.PICKED_UP),
        (4, Milestone.OUT_FOR_DELIVERY),
    ):
        clock.now += timedelta(minutes=2)
        await notifier.handle(milestone("S1", ms, minutes), published.extend)
    assert published == []
    clock.now += timedelta(minutes=3)
    assert await notifier.flush(published.extend) == 0  # 12:09: the window is still open
    clock.now += timedelta(minutes=4)
    assert await notifier.flush(published.extend) == 1
    (event,) = published
    assert event.data.status is C.OUT_FOR_DELIVERY  # type: ignore[attr-defined]
    assert await notifier.flush(published.extend) == 0


async def test_a_recipient_without_an_address_is_not_routed_to_that_channel() -> None:
    """A shipment with no consignee e-mail gets webhooks but no e-mail notification."""
    notifier = Notifier(
        NotifyState(":memory:"),
        Rules.of([Rule(("webhook", "email"))]),
        reachable={"email": lambda r: bool(r.email)},
    )
    published: list[object] = []
    await notifier.handle(created("S1", email=None), published.extend)
    await notifier.handle(milestone("S1", Milestone.IN_TRANSIT, 1), published.extend)
    assert [e.data.channel for e in published] == ["webhook"]  # type: ignore[attr-defined]


def _notification(locale: str, name: str = "Ada", zone: str = "Europe/Paris") -> Notification:
    return Notification(
        notification_id="n-1",
        channel="email",
        shipment_id="S1",
        recipient=Recipient(
            id="r", name=name, email="ada@example.com", locale=locale, timezone=zone
        ),
        status=C.OUT_FOR_DELIVERY,
        predicted=date(2026, 12, 9),
        changed_at=T0,
        requested_at=T0,
        order_reference="SO042",
        tracking_numbers=("1Z1",),
    )


@pytest.mark.parametrize(
    ("locale", "words", "day"),
    [
        pytest.param("en", "out for delivery", "December 9, 2026", id="en"),
        pytest.param("de", "wird heute zugestellt", "9. Dezember 2026", id="de"),
        pytest.param("fr_CH", "en cours de livraison", "9 décembre 2026", id="fr_CH-falls-back"),
    ],
)
def test_templates_speak_the_recipients_language_and_babel_writes_dates(
    locale: str, words: str, day: str
) -> None:
    """Words come from the locale (fr_CH falls back to fr), dates in the locale's long form."""
    message = Renderer().render(_notification(locale))
    assert words in message.text
    assert day in message.text
    assert day in message.html
    assert message.subject.startswith(("Order", "Bestellung", "Commande"))


def test_times_are_shown_in_the_recipients_zone() -> None:
    """08:00 UTC reads 09:00 for a recipient in Paris in winter."""
    message = Renderer().render(_notification("en", zone="Europe/Paris"))
    assert "9:00:00" in message.text


def test_html_escapes_what_the_customer_typed_and_text_does_not() -> None:
    """A name with markup is escaped in HTML; the plain text keeps it as typed."""
    message = Renderer().render(_notification("en", name="<script>x</script>"))
    assert "<script>" not in message.html
    assert "&lt;script&gt;" in message.html
    assert "<script>x</script>" in message.text


def test_babel_formats_money_by_locale() -> None:
    """The money filter writes amounts the way each locale does."""
    amount = Money.of("1234.5", "EUR")
    assert format_money(amount, "en") == "€1,234.50"
    assert format_money(amount, "de").replace("\xa0", " ") == "1.234,50 €"


def test_a_host_template_overrides_the_builtin_one_per_channel(tmp_path: object) -> None:
    """A file email/status.subject.j2 in the host directory wins for that channel only."""
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "email").mkdir()
    (root / "email" / "status.subject.j2").write_text("[shop] {{ n.status.value }}")
    message = Renderer(templates=root).render(_notification("en"))
    assert message.subject == "[shop] out_for_delivery"


def test_a_broken_host_template_is_a_configuration_error(tmp_path: object) -> None:
    """A template that fails to render names the channel and is a ConfigurationError."""
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "status.txt.j2").write_text("{{ n.no_such_field.deeper }}")
    with pytest.raises(ConfigurationError) as info:
        Renderer(templates=root).render(_notification("en"))
    assert "email" in str(info.value)


def test_a_locale_nobody_knows_falls_back_to_english_words_and_formats() -> None:
    """A recipient locale Babel and the texts do not know renders in English, not an error."""
    message = Renderer().render(_notification("zz"))
    assert "out for delivery" in message.text
    assert "December 9, 2026" in message.text


def test_an_unknown_time_zone_of_a_recipient_is_refused_naming_the_field() -> None:
    """A recipient whose zone does not exist is refused when built, the field named."""
    with pytest.raises(CanonicalValidationError) as info:
        Recipient(id="r", timezone="Mars/Olympus")
    assert info.value.path == "timezone"


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: Rule(("a:b",)), id="colon-in-channel"),
        pytest.param(lambda: Rule(()), id="no-channel"),
        pytest.param(
            lambda: Rule(("email",), coalesce=timedelta(minutes=-1)), id="negative-window"
        ),
    ],
)
def test_bad_rules_are_configuration_errors(build: object) -> None:
    """A rule with a bad channel name or a negative window is refused at construction."""
    with pytest.raises(ConfigurationError):
        build()  # type: ignore[operator]
