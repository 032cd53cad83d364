"""The exception tree: one base, three kinds of failure, subsystem branches, safe messages."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import shipsync.errors as errors
from shipsync.errors import (
    CanonicalValidationError,
    CarrierError,
    CarrierUnavailableError,
    FingerprintMismatchError,
    InvalidInputError,
    MalformedHeaderError,
    MissingDependencyError,
    RemoteDataError,
    ShipsyncError,
    StoreUnavailableError,
    UnavailableError,
    WebhookSecretError,
    WebhookVerificationError,
)

ROOT = Path(__file__).resolve().parents[2]
CLASSES = [getattr(errors, name) for name in errors.__all__]


def test_all_is_sorted_and_complete() -> None:
    """__all__ lists every exception class the module defines, sorted."""
    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and not name.startswith("_")
    }
    assert errors.__all__ == sorted(errors.__all__)
    assert set(errors.__all__) == defined


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_derives_from_the_base(cls: type[Exception]) -> None:
    """Catching ShipsyncError catches every error shipsync raises."""
    assert issubclass(cls, ShipsyncError)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_is_drawn_in_the_tree_and_the_docs(cls: type[Exception]) -> None:
    """The docstring tree and docs/errors.md name every class, so the drawing never goes stale."""
    assert errors.__doc__ is not None
    assert f" {cls.__name__} " in f" {errors.__doc__.replace(chr(10), ' ')} "
    assert cls.__name__ in (ROOT / "docs" / "errors.md").read_text()


def test_tree_drawing_matches_the_class_hierarchy() -> None:
    """Each class is drawn under its first base (the subsystem or kind it belongs to)."""
    assert errors.__doc__ is not None
    lines = [
        line for line in errors.__doc__.splitlines() if "──" in line or "ShipsyncError" in line
    ]
    stack: list[tuple[int, str]] = []
    checked = 0
    for line in lines:
        if "ShipsyncError" in line and "──" not in line:
            stack = [(0, "ShipsyncError")]
            continue
        head, _, rest = line.partition("── ")
        name = rest.split()[0]
        depth = len(head)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1]
        cls = getattr(errors, name)
        assert cls.__bases__[0].__name__ == parent, name
        stack.append((depth, name))
        checked += 1
    assert checked == len(errors.__all__) - 1


def test_three_kinds_are_distinct() -> None:
    """Bad input, bad remote data and unavailability are separate branches."""
    assert not issubclass(InvalidInputError, RemoteDataError | UnavailableError)
    assert not issubclass(RemoteDataError, InvalidInputError | UnavailableError)
    assert UnavailableError.retryable is True
    assert InvalidInputError.retryable is False
    assert RemoteDataError.retryable is False


def test_subsystem_errors_also_carry_their_kind() -> None:
    """A forged webhook is remote bad data; a store outage is retryable; a bad key is config."""
    assert issubclass(WebhookVerificationError, RemoteDataError)
    assert issubclass(StoreUnavailableError, UnavailableError)
    assert StoreUnavailableError("down").retryable is True
    assert issubclass(WebhookSecretError, InvalidInputError)
    assert issubclass(FingerprintMismatchError, InvalidInputError)
    assert issubclass(CarrierUnavailableError, CarrierError)
    assert CarrierUnavailableError("x").retryable is True


def test_carrier_error_names_carrier_operation_and_code() -> None:
    """A carrier error carries what a caller needs to act, and says where it came from."""
    exc = CarrierUnavailableError(
        "rate limited", carrier="fake", operation="track", code="429", retry_after=2.5
    )
    assert str(exc) == "fake.track: rate limited"
    assert (exc.carrier, exc.operation, exc.code, exc.retry_after) == ("fake", "track", "429", 2.5)


def test_validation_error_names_paths_without_echoing_input() -> None:
    """The message lists field paths and reasons, never the rejected values."""
    exc = CanonicalValidationError("Address", [("street.0", "too long"), ("country", "bad")])
    assert exc.path == "street.0"
    assert "street.0: too long" in str(exc)
    assert "country: bad" in str(exc)


def test_validation_error_caps_the_message() -> None:
    """A hundred problems do not make a hundred-line message."""
    exc = CanonicalValidationError("X", [(f"f{i}", "bad") for i in range(100)])
    assert "(+95 more)" in str(exc)
    assert len(exc.errors) == 100


def test_header_and_dependency_errors_name_what_is_wrong() -> None:
    """Header errors name the header; a missing extra names the pip command."""
    assert MalformedHeaderError("webhook-timestamp", "not an integer").header == "webhook-timestamp"
    message = str(MissingDependencyError("RedisStore", "redis"))
    assert "pip install 'shipsync[redis]'" in message
