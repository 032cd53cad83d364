"""The base every canonical model shares: frozen, strict about unknown fields, UTC-only times,
personal data redacted in reprs, and pydantic's errors translated into ours at one boundary."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self, get_args, get_origin

import pydantic
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    StringConstraints,
    WithJsonSchema,
)
from pydantic._internal._model_construction import ModelMetaclass
from pydantic_core import CoreSchema, core_schema

from shipsync.errors import CanonicalValidationError

__all__ = [
    "REDACTED",
    "CanonicalModel",
    "Identifier",
    "KeyIdentifier",
    "KeyText",
    "PersonalData",
    "PersonalStr",
    "ShortText",
    "Text",
    "UtcDatetime",
    "translate_validation_error",
]

REDACTED = "***"


class PersonalData:
    """Marks a field as personal data: reprs, ``str()`` and :meth:`CanonicalModel.redacted` hide it.

    The JSON Schema marks such fields with ``"x-personal-data": true`` so partners know too.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "PersonalData()"


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC form
        raise ValueError("out of range when converted to UTC") from None


def _utc_datetime_schema(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
    """Aware datetimes normalised to UTC, with no Python call for JSON already in UTC.

    JSON input with offset 0 (``...Z``, the form we write) is taken by pydantic-core alone; any
    other offset goes through :func:`_to_utc`. Python input always does, so a ``datetime`` in
    any zone comes out with ``tzinfo=UTC``. Naive or unparsable input fails either way, and so
    does a time whose UTC form falls outside years 1 to 9999. JSON must carry an RFC 3339
    string, as CloudEvents and our schemas say: a number is not read as a Unix timestamp.
    """
    aware = core_schema.no_info_after_validator_function(
        _to_utc, core_schema.datetime_schema(tz_constraint="aware")
    )
    aware_json = core_schema.no_info_after_validator_function(
        _to_utc, core_schema.datetime_schema(tz_constraint="aware", strict=True)
    )
    from_json = core_schema.union_schema(
        [core_schema.datetime_schema(tz_constraint=0, strict=True), aware_json],
        mode="left_to_right",
        custom_error_type="datetime_aware",
        custom_error_message="Input should be a timezone-aware datetime",
    )
    return core_schema.json_or_python_schema(json_schema=from_json, python_schema=aware)


UtcDatetime = Annotated[
    datetime,
    GetPydanticSchema(_utc_datetime_schema),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
            "description": "RFC 3339 date-time with an offset (a naive time is refused)",
        }
    ),
]
"""A timezone-aware datetime, normalised to UTC (offset 0). A naive datetime is rejected."""

# Control characters (C0, DEL, C1) and bidirectional overrides: in an identifier they forge log
# lines, hide what an id really is, or are refused by the stores ids end up in (NUL in PostgreSQL).
_NO_CONTROLS = r"^[^\x{0}-\x{1f}\x{7f}-\x{9f}\x{202a}-\x{202e}\x{2066}-\x{2069}]*$"


def _key_schema(min_length: int, max_length: int, *, strip: bool) -> CoreSchema:
    """A bounded string without control (C0, DEL, C1) or bidirectional formatting characters,
    checked in one pass inside pydantic-core, with one message for every way to fail it."""
    return core_schema.custom_error_schema(
        core_schema.str_schema(
            min_length=min_length,
            max_length=max_length,
            strip_whitespace=strip,
            pattern=_NO_CONTROLS,
        ),
        custom_error_type="key_text",
        custom_error_message=(
            f"Input should be a string of {min_length} to {max_length} characters"
            " without control or bidirectional formatting characters"
        ),
    )


Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
"""An identifier: 1 to 200 characters, surrounding white space removed."""

KeyIdentifier = Annotated[
    str,
    GetPydanticSchema(lambda _source, _handler: _key_schema(1, 200, strip=True)),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[^\u0000-\u001f]+$"}
    ),
]
"""An ``Identifier`` used as a key (an event id): also no control or bidirectional characters.

The check costs about 50 ns a field, so it guards the envelope attributes that stores and logs
use as keys, not every identifier inside ``data``."""

KeyText = Annotated[
    str,
    GetPydanticSchema(lambda _source, _handler: _key_schema(0, 200, strip=False)),
    WithJsonSchema({"type": "string", "maxLength": 200, "pattern": r"^[^\u0000-\u001f]*$"}),
]
"""Like ``ShortText`` (at most 200 characters), without control or bidirectional characters: for
values used as keys (a subject, a correlation or partition key)."""

ShortText = Annotated[str, StringConstraints(max_length=200)]
Text = Annotated[str, StringConstraints(max_length=4000)]

PersonalStr = Annotated[
    str,
    StringConstraints(max_length=200),
    PersonalData(),
    Field(json_schema_extra={"x-personal-data": True}),
]
"""A string holding personal data (a name, a street line, a phone number, an e-mail address)."""


def _holds_personal_data(annotation: Any) -> bool:
    """True when ``annotation`` is, or contains (in a union or container), a personal-data type."""
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        return any(isinstance(m, PersonalData) for m in metadata) or _holds_personal_data(base)
    return any(_holds_personal_data(arg) for arg in get_args(annotation))


def _loc_to_path(loc: Iterable[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def translate_validation_error(
    exc: pydantic.ValidationError, model: str, *, prefix: str = ""
) -> CanonicalValidationError:
    """Turn pydantic's error into ours: one ``(path, reason)`` per problem, no input echoed."""
    errors = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        path = _loc_to_path(error["loc"])
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        errors.append((path, error["msg"].removeprefix("Value error, ")))
    return CanonicalValidationError(model, errors)


class _CanonicalMeta(ModelMetaclass):
    """Translates validation errors of direct construction (``Money(...)``) into ours.

    Overriding ``__init__`` instead would make pydantic call it for every nested model it
    validates, which costs half the parse speed; the metaclass sees only the user's own calls.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except pydantic.ValidationError as exc:
            raise translate_validation_error(exc, cls.__name__) from None


class CanonicalModel(BaseModel, metaclass=_CanonicalMeta):
    """Base of every canonical model.

    Frozen and hashable; unknown fields are errors; strings are bounded. Constructing or validating
    a model raises :class:`shipsync.errors.CanonicalValidationError` naming each bad field's path.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_max_length=100_000,
        ser_json_bytes="base64",
        val_json_bytes="base64",
        use_enum_values=False,
        validate_default=False,
        cache_strings="keys",
        defer_build=True,
    )

    __personal_fields__: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.__personal_fields__ = frozenset(
            name
            for name, field in cls.model_fields.items()
            if any(isinstance(meta, PersonalData) for meta in field.metadata)
            or _holds_personal_data(field.annotation)
        )

    @classmethod
    def model_validate(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        extra: Any = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        try:
            return super().model_validate(
                obj,
                strict=strict,
                extra=extra,
                from_attributes=from_attributes,
                context=context,
                by_alias=by_alias,
                by_name=by_name,
            )
        except pydantic.ValidationError as exc:
            raise translate_validation_error(exc, cls.__name__) from None

    @classmethod
    def model_validate_json(
        cls,
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        extra: Any = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        try:
            return super().model_validate_json(
                json_data,
                strict=strict,
                extra=extra,
                context=context,
                by_alias=by_alias,
                by_name=by_name,
            )
        except pydantic.ValidationError as exc:
            raise translate_validation_error(exc, cls.__name__) from None

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        personal = self.__personal_fields__
        for name, value in super().__repr_args__():
            if name in personal and value is not None:
                yield name, REDACTED
            else:
                yield name, value

    def redacted(self) -> dict[str, Any]:
        """A JSON-ready dict with every personal-data field, at any depth, replaced by ``***``."""
        redacted: dict[str, Any] = _redact(self)
        return redacted


def _redact(value: Any) -> Any:
    if isinstance(value, CanonicalModel):
        out: dict[str, Any] = {}
        for name in type(value).model_fields:
            item = getattr(value, name)
            if name in value.__personal_fields__ and item is not None:
                out[name] = REDACTED
            else:
                out[name] = _redact(item)
        # Extension attributes of an event (scalars, never personal data) are kept as well.
        out.update(value.__pydantic_extra__ or {})
        return out
    if isinstance(value, list | tuple):
        return [_redact(item) for item in value]
    if isinstance(value, dict):
        return {key: _redact(item) for key, item in value.items()}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if value is None or type(value) in _JSON_SCALARS:
        return value
    dumped: Any = _adapter_for(type(value)).dump_python(value, mode="json")
    return dumped


_JSON_SCALARS = frozenset({str, int, float, bool})


_ADAPTERS: dict[type[Any], pydantic.TypeAdapter[Any]] = {}


def _adapter_for(kind: type[Any]) -> pydantic.TypeAdapter[Any]:
    """One adapter per leaf type (a handful: Decimal, datetime, the enums...): building one costs
    far more than dumping a value."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = pydantic.TypeAdapter(kind)
    return adapter
