{  # noqa: B018
    "name": "shipsync connector",
    "summary": "Apply signed carrier webhooks to pickings with shipsync",
    "version": "18.0.1.0.0",
    "category": "Inventory/Delivery",
    "license": "LGPL-3",
    "author": "shipsync developers",
    "depends": ["stock_delivery", "mail"],
    "external_dependencies": {"python": ["shipsync"]},
    "data": ["views/res_config_settings_views.xml"],
    "installable": True,
    "application": False,
}
