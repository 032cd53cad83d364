from . import test_connector, test_outbox  # noqa: F401
