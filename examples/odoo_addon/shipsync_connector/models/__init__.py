from . import res_config_settings  # noqa: F401
