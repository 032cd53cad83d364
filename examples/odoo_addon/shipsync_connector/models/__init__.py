from . import outbox, res_config_settings
