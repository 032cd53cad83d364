"""The tenant model, its resolvers and its typed errors (tenant ids come from outsiders)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import shipsync.tenants
from shipsync.errors import (
    ConfigurationError,
    InvalidInputError,
    TenantConfigurationError,
    TenantError,
    UnknownTenantError,
)
from shipsync.tenants import (
    TENANT_ID_PATTERN,
    SettingsTenantResolver,
    StaticTenantResolver,
    Tenant,
    TenantResolver,
    check_tenant_id,
)

SECRET = "whsec_do-not-print-me"

EXPORTS = [
    "DEFAULT_ENV_PREFIX",
    "TENANT_HEADER",
    "TENANT_ID_PATTERN",
    "CarrierAccount",
    "NotificationEndpoint",
    "OdooConnection",
    "SettingsTenantResolver",
    "StaticTenantResolver",
    "Tenant",
    "TenantConfig",
    "TenantResolver",
    "WebhookSource",
    "check_tenant_id",
    "resolve_tenant",
]


def _tenant(tenant_id: str = "acme", **extra: object) -> Tenant:
    return Tenant(id=tenant_id, webhooks={"fake": {"secrets": [SECRET]}}, **extra)


def test_exports_are_pinned() -> None:
    """shipsync.tenants exports exactly these names, each importable."""
    assert shipsync.tenants.__all__ == EXPORTS
    for name in EXPORTS:
        assert getattr(shipsync.tenants, name) is not None


def test_defaults_give_each_tenant_its_own_namespace_and_partition() -> None:
    """Two tenants never share an idempotency namespace or an event-log partition by default."""
    a, b = _tenant("acme"), _tenant("acme-2")
    assert (a.namespace, a.partition) == ("tenant/acme", "acme")
    assert (b.namespace, b.partition) == ("tenant/acme-2", "acme_2")
    assert a.table("shipsync_events") == "shipsync_events_acme"
    long = [_tenant("x" * 40 + "-one"), _tenant("x" * 40 + "-two")]
    assert long[0].partition != long[1].partition
    assert all(len(t.partition) == 24 for t in long)


def test_secrets_never_show_in_reprs_or_errors() -> None:
    """A tenant's repr, str and every error about it keep secrets out."""
    tenant = _tenant(
        odoo={"url": "https://o.example", "database": "d", "user": "u", "api_key": SECRET}
    )
    assert SECRET not in repr(tenant)
    assert SECRET not in str(tenant)
    with pytest.raises(TenantConfigurationError) as caught:
        Tenant(id="acme", odoo={"url": SECRET, "database": "d", "user": "u", "api_key": SECRET})
    assert SECRET not in str(caught.value)
    assert caught.value.path == "odoo.url"


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"webhooks": {"fake": {"secrets": []}}}, "webhooks.fake.secrets"),
        ({"webhooks": {"fake": {"secrets": ["  "]}}}, "webhooks.fake.secrets"),
        ({"odoo": {"url": "https://o", "database": "d", "user": "u"}}, "odoo.api_key"),
        ({"carriers": {"ups": {"rate_limit": 0}}}, "carriers.ups.rate_limit"),
        ({"carriers": {"UPS!": {}}}, "carriers"),
        ({"idempotency_namespace": "has space"}, "idempotency_namespace"),
        ({"event_log_partition": "drop;table"}, "event_log_partition"),
        ({"unknown_setting": 1}, "unknown_setting"),
    ],
    ids=[
        "no-secret",
        "blank-secret",
        "odoo-no-key",
        "zero-rate",
        "bad-carrier-name",
        "bad-namespace",
        "bad-partition",
        "unknown-setting",
    ],
)
def test_bad_configuration_names_tenant_and_setting(config: dict[str, object], path: str) -> None:
    """A bad or missing setting is a TenantConfigurationError naming the tenant and the setting."""
    with pytest.raises(TenantConfigurationError) as caught:
        Tenant(id="acme", **config)
    assert caught.value.tenant == "acme"
    assert caught.value.path == path
    assert isinstance(caught.value, ConfigurationError)


def test_missing_pieces_are_named_when_asked_for() -> None:
    """Accessors and require() name the missing setting of the tenant."""
    tenant = _tenant()
    for call, path in [
        (lambda: tenant.webhook("ups"), "webhooks.ups"),
        (lambda: tenant.carrier("ups"), "carriers.ups"),
        (tenant.odoo_connection, "odoo"),
        (lambda: tenant.notification("ops"), "notifications.ops"),
        (lambda: tenant.require(webhooks=["fake", "ups"]), "webhooks.ups"),
    ]:
        with pytest.raises(TenantConfigurationError) as caught:
            call()
        assert (caught.value.tenant, caught.value.path) == ("acme", path)
    assert tenant.require(webhooks=["fake"]) is tenant


def test_static_resolver_resolves_and_refuses() -> None:
    """The in-memory resolver finds known tenants and refuses unknown or malformed ids, typed."""
    resolver = StaticTenantResolver([_tenant("acme"), _tenant("beta")])
    assert isinstance(resolver, TenantResolver)
    assert resolver.resolve("beta").id == "beta"
    assert resolver.ids() == ("acme", "beta")
    for bad in ("gamma", "ACME", "../acme", "", "a" * 64):
        with pytest.raises(UnknownTenantError) as caught:
            resolver.resolve(bad)
        assert isinstance(caught.value, InvalidInputError)
        assert isinstance(caught.value, TenantError)
    with pytest.raises(ConfigurationError, match="given twice"):
        StaticTenantResolver([_tenant("acme"), _tenant("acme")])


def test_resolver_checks_every_tenant_at_start_up() -> None:
    """require() on the resolver names the first tenant missing what the host will use."""
    resolver = StaticTenantResolver([_tenant("acme"), Tenant(id="beta")])
    with pytest.raises(TenantConfigurationError) as caught:
        resolver.require(webhooks=["fake"])
    assert (caught.value.tenant, caught.value.path) == ("beta", "webhooks.fake")


@given(st.text(max_size=80))
def test_any_outsider_id_is_a_tenant_id_or_unknown(raw: str) -> None:
    """Any text from a path or header either is a slug (returned as is) or an UnknownTenantError
    naming where it came from, its shown id at most 64 characters."""
    if re.fullmatch(TENANT_ID_PATTERN, raw) is None:
        with pytest.raises(UnknownTenantError) as caught:
            check_tenant_id(raw, path="x-shipsync-tenant")
        assert caught.value.path == "x-shipsync-tenant"
        assert len(caught.value.tenant) <= 64
    else:
        assert check_tenant_id(raw, path="x-shipsync-tenant") == raw
        assert "/" not in raw
        assert "." not in raw
        assert raw == raw.lower()


def test_settings_resolver_reads_a_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tenants come from a TOML file; a variable overrides one nested setting; secrets stay
    SecretStr."""
    path = tmp_path / "tenants.toml"
    path.write_text(
        '[tenants.acme.webhooks.fake]\nsecrets = ["whsec_file_a"]\n'
        '[tenants.beta.webhooks.fake]\nsecrets = ["whsec_file_b"]\n'
        '[tenants.beta.carriers.fake.settings]\nbase_url = "http://127.0.0.1:1"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SHIPSYNC_TENANTS__BETA__WEBHOOKS__FAKE__SECRETS", '["whsec_env_b"]')
    monkeypatch.setenv(
        "SHIPSYNC_TENANTS__GAMMA__ODOO",
        json.dumps({"url": "https://odoo.example", "database": "g", "user": "u", "api_key": "k"}),
    )
    resolver = SettingsTenantResolver(path)
    assert resolver.ids() == ("acme", "beta", "gamma")
    assert resolver.resolve("acme").webhook("fake").secret_values() == ("whsec_file_a",)
    beta = resolver.resolve("beta")
    assert beta.webhook("fake").secret_values() == ("whsec_env_b",)
    assert beta.carrier("fake").settings == {"base_url": "http://127.0.0.1:1"}
    assert resolver.resolve("gamma").odoo_connection().database == "g"


def test_settings_resolver_reads_json(tmp_path: Path) -> None:
    """A .json file works like a TOML one."""
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps({"tenants": {"acme": {"webhooks": {"fake": {"secrets": ["s"]}}}}}))
    assert SettingsTenantResolver(path).resolve("acme").webhook("fake").scheme == "standard"


def test_settings_resolver_refuses_bad_settings_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad setting in the file or the environment fails when the resolver is built, naming the
    tenant and the setting; a malformed tenant id is refused too."""
    path = tmp_path / "tenants.toml"
    path.write_text("[tenants.acme.webhooks.fake]\nsecrets = []\n", encoding="utf-8")
    with pytest.raises(TenantConfigurationError) as caught:
        SettingsTenantResolver(path)
    assert (caught.value.tenant, caught.value.path) == ("acme", "webhooks.fake.secrets")
    path.write_text('[tenants."Bad_Id".webhooks.fake]\nsecrets = ["s"]\n', encoding="utf-8")
    with pytest.raises(UnknownTenantError):
        SettingsTenantResolver(path)
    with pytest.raises(ConfigurationError, match="no tenants file"):
        SettingsTenantResolver(tmp_path / "missing.toml")
    path.write_text("[tenants.acme\n", encoding="utf-8")
    with pytest.raises(ConfigurationError):
        SettingsTenantResolver(path)
