from . import outbox, res_config_settings  # noqa: F401
