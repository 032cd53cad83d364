from . import test_connector  # noqa: F401
