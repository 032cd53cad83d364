{  # noqa: B018
    "name": "shipsync connector",
    "summary": "Apply signed carrier webhooks to pickings; publish Odoo's fulfilment events",
    "version": "18.0.1.1.0",
    "category": "Inventory/Delivery",
    "license": "LGPL-3",
    "author": "shipsync developers",
    "depends": ["stock_delivery", "sale_stock", "mail"],
    "external_dependencies": {"python": ["shipsync"]},
    "data": [
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "views/res_config_settings_views.xml",
    ],
    "installable": True,
    "application": False,
}
