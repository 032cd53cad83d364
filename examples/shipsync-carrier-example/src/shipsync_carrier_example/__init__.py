"""Example Express: an example third-party shipsync carrier driver."""

from shipsync_carrier_example.driver import ExampleConfig, ExampleDriver

__all__ = ["ExampleConfig", "ExampleDriver"]
