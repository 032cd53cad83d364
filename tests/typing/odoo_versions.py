"""Typical calls of the Odoo 19 gateway, connect() and the version table, type-checked only."""

from __future__ import annotations

from typing import Any, assert_type

from shipsync.odoo import (
    ODOO_VERSIONS,
    Json2Gateway,
    OdooFieldMap,
    OdooGateway,
    OdooLogistics,
    OdooVersion,
    RetryPolicy,
    connect,
    fields_for_version,
    server_version,
    version_facts,
)


def json2(api_key: str) -> None:
    with Json2Gateway("https://erp.example.com", "prod", api_key, retry=RetryPolicy()) as gw:
        assert_type(gw.server_version, tuple[int, int])
        assert_type(gw.call("res.partner", "search", [[]], {"limit": 1}), Any)
        OdooLogistics(gw)


def automatic(api_key: str) -> None:
    gateway = assert_type(connect("https://erp.example.com", "prod", "bot", api_key), OdooGateway)
    facts = assert_type(version_facts(gateway.server_version), OdooVersion)
    assert_type(facts.delivery_module, str)
    assert_type(ODOO_VERSIONS[19].package_model, str)
    assert_type(server_version("https://erp.example.com"), tuple[int, int])
    assert_type(fields_for_version(OdooFieldMap(), (19, 0)), OdooFieldMap)
    connect("https://erp.example.com", "prod", "bot", api_key, protocol="json2")
