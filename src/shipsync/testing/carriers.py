"""The driver conformance kit: a reusable suite a vendor points at their driver.

Subclass :class:`DriverConformance` in your test suite, give it a driver instance and the
recorded responses of your carrier (from a sandbox, or cassettes), and pytest runs the checks::

    from shipsync.testing.carriers import DriverConformance, load_recordings

    class TestAcmeConformance(DriverConformance):
        driver = AcmeDriver({"base_url": "https://sandbox.acme.example", ...})
        recordings = load_recordings("tests/recordings")

The checks: the metadata is complete; every declared capability is implemented and every other
one raises :class:`~shipsync.errors.UnsupportedOperationError` before sending anything; every
recording parses into canonical data; with ``specs`` (see :mod:`shipsync.testing.openapi`) every
request the driver sends during the run matches the carrier's OpenAPI document, strictly; every
recording parses into canonical data (or, for recorded failures, a typed
:class:`~shipsync.errors.CarrierError`); broken variants of every recorded answer (truncated,
fields missing or of the wrong type) fail with a typed error, never a ``KeyError``; an unknown
status code maps to ``Milestone.UNKNOWN`` with the raw code kept; nothing opens a socket while
building requests or parsing answers; and the same inputs always give the same requests and
results (a driver that reads a clock or a random source fails that).
Recordings are replayed through a real :class:`~shipsync.carriers.CarrierClient` over an
``httpx.MockTransport``, so the same error boundary applies as in production.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import socket
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import attrs
import httpx
from pydantic import BaseModel, SecretStr

from shipsync.canonical import (
    Address,
    FreightInvoice,
    Manifest,
    Milestone,
    Pickup,
    ProofOfDelivery,
    Rate,
    ReturnShipment,
    Shipment,
    TrackingEvent,
)
from shipsync.carriers import (
    AccessToken,
    AddressValidation,
    Capability,
    CarrierClient,
    CarrierConfig,
    CarrierRequest,
    Driver,
    ManifestRequest,
    PickupRequest,
    RetryPolicy,
    SleepRecorder,
    is_compatible_api_version,
)
from shipsync.errors import CarrierError, InvalidInputError, UnsupportedOperationError
from shipsync.testing.fake_carrier import sample_address, sample_shipment
from shipsync.testing.openapi import OpenAPISpec, check_request

__all__ = [
    "DriverConformance",
    "Recording",
    "check_driver",
    "check_spec",
    "check_spec_recording",
    "load_recordings",
    "recordings_from_cassette",
]

_SECRET_WORDS = ("secret", "password", "api_key", "apikey", "token", "private")
_RESULT_TYPES: dict[Capability, Any] = {
    Capability.VALIDATE_ADDRESS: AddressValidation,
    Capability.QUOTE_RATES: Rate,
    Capability.CREATE_SHIPMENT: Shipment,
    Capability.CANCEL_SHIPMENT: type(None),
    Capability.SCHEDULE_PICKUP: Pickup,
    Capability.CANCEL_PICKUP: type(None),
    Capability.TRACK: TrackingEvent,
    Capability.PARSE_WEBHOOK: TrackingEvent,
    Capability.FETCH_INVOICES: FreightInvoice,
    Capability.CREATE_RETURN: ReturnShipment,
    Capability.CREATE_MANIFEST: Manifest,
    Capability.QUOTE_LANDED_COST: Rate,
    Capability.FETCH_PROOF_OF_DELIVERY: ProofOfDelivery,
    Capability.UPDATE_PICKUP: Pickup,
}


@attrs.frozen
class Recording:
    """What the carrier answered to one operation.

    ``responses`` are ``(status, headers, body)`` in the order the flow sends its requests (the
    token request excluded: the kit supplies a token). ``args`` override the kit's sample inputs
    (``tracking_number``, ``carrier_shipment_id``, ``confirmation_number``, ``shipment`` and
    ``address`` (validation and pickups) as JSON). ``expect`` is ``"ok"``, ``"error"`` (a typed
    ``CarrierError``) or ``"unknown_status"`` (the result holds an UNKNOWN event whose
    ``carrier_code`` contains ``raw_code``). For
    ``parse_webhook`` the first response's body is the webhook body.
    """

    operation: Capability = attrs.field(converter=Capability)
    responses: tuple[tuple[int, tuple[tuple[str, str], ...], bytes], ...]
    name: str = ""
    args: Mapping[str, Any] = attrs.field(factory=dict)
    expect: str = "ok"
    raw_code: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, name: str = "") -> Recording:
        """Read the JSON form (``body`` may be a string or any JSON value).

        The form is an object: ``operation`` (a :class:`~shipsync.carriers.Capability` value),
        ``responses`` (a list of objects with ``status`` (int, default 200), ``headers`` (an
        object of strings) and ``body``), and optional ``name``, ``args`` (an object),
        ``expect`` (``"ok"``, ``"error"`` or ``"unknown_status"``) and ``raw_code``. Any other
        shape is an :class:`~shipsync.errors.InvalidInputError` whose ``path`` names the field.
        """
        if not isinstance(data, Mapping):
            raise InvalidInputError("a recording must be a JSON object", path=name or "recording")
        items = data.get("responses")
        if not isinstance(items, list):
            raise InvalidInputError("must be a list of responses", path="responses")
        responses = []
        for index, item in enumerate(items):
            where = f"responses.{index}"
            if not isinstance(item, Mapping):
                raise InvalidInputError("a response must be an object", path=where)
            body = item.get("body", b"")
            if not isinstance(body, str | bytes):
                body = json.dumps(body)
            raw = body.encode() if isinstance(body, str) else body
            headers = item.get("headers", {})
            if not isinstance(headers, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
            ):
                raise InvalidInputError("must be an object of strings", path=f"{where}.headers")
            status = item.get("status", 200)
            if type(status) is not int or not 100 <= status <= 599:
                raise InvalidInputError("must be an HTTP status code", path=f"{where}.status")
            responses.append((status, tuple(headers.items()), raw))
        operation = data.get("operation")
        if not isinstance(operation, str) or operation not in {c.value for c in Capability}:
            raise InvalidInputError(
                f"must be one of {', '.join(sorted(c.value for c in Capability))}",
                path="operation",
            )
        args = data.get("args", {})
        if not isinstance(args, Mapping):
            raise InvalidInputError("must be an object", path="args")
        expect = data.get("expect", "ok")
        if not isinstance(expect, str) or expect not in ("ok", "error", "unknown_status"):
            raise InvalidInputError("must be ok, error or unknown_status", path="expect")
        raw_code = data.get("raw_code")
        if raw_code is not None and not isinstance(raw_code, str):
            raise InvalidInputError("must be a string", path="raw_code")
        return cls(
            operation=operation,
            responses=tuple(responses),
            name=str(data.get("name", name)),
            args=dict(args),
            expect=expect,
            raw_code=raw_code,
        )


def load_recordings(path: str | Path) -> list[Recording]:
    """Every recording in a JSON file (a list) or in the ``*.json`` files of a folder."""
    root = Path(path)
    files = sorted(root.glob("*.json")) if root.is_dir() else [root]
    recordings = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidInputError(f"not a JSON recording file: {exc}", path=str(file)) from None
        items = data if isinstance(data, list) else [data]
        for index, item in enumerate(items):
            recordings.append(Recording.from_json(item, name=f"{file.stem}[{index}]"))
    return recordings


def recordings_from_cassette(
    path: str | Path,
    routes: Sequence[tuple[str, str, Capability | str]],
    *,
    skip: Sequence[str] = ("/oauth/token",),
) -> list[Recording]:
    """One recording per interaction of a vcrpy cassette (YAML; needs PyYAML, as vcrpy does).

    ``routes`` are ``(method, path regex, capability)``; the regex's named groups become the
    recording's ``args`` (``(?P<tracking_number>[^/]+)``). Interactions whose path ends with one
    of ``skip`` (the token endpoint) are left out; 2xx answers expect ``"ok"``, others
    ``"error"``. Use ``attrs.evolve`` to mark an ``"unknown_status"`` recording.
    """
    yaml: Any = importlib.import_module("yaml")
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    compiled = [(m.upper(), re.compile(p), Capability(c)) for m, p, c in routes]
    recordings = []
    for index, interaction in enumerate(data.get("interactions", [])):
        request, response = interaction["request"], interaction["response"]
        request_path = urlsplit(request["uri"]).path
        if any(request_path.endswith(s) for s in skip):
            continue
        found = [
            (capability, match)
            for method, pattern, capability in compiled
            if method == request["method"].upper()
            and (match := pattern.fullmatch(request_path)) is not None
        ]
        if not found:
            raise ValueError(f"no route for {request['method']} {request_path}")
        capability, match = found[0]
        body = response["body"]["string"]
        raw = body.encode() if isinstance(body, str) else bytes(body)
        headers = tuple(
            (str(k), str(v)) for k, values in response.get("headers", {}).items() for v in values
        )
        status = int(response["status"]["code"])
        recordings.append(
            Recording(
                capability,
                ((status, headers, raw),),
                name=f"{Path(path).stem}[{index}]",
                args=match.groupdict(),
                expect="ok" if 200 <= status < 300 else "error",
            )
        )
    return recordings


# -- checks -------------------------------------------------------------------------------------


def check_metadata(driver: Driver) -> list[str]:
    """Problems with the driver's declared metadata (empty when complete)."""
    info = driver.info
    problems = []
    if (
        not info.name
        or not info.name.replace("-", "_").isidentifier()
        or info.name != info.name.lower()
    ):
        problems.append("name must be a lower-case identifier (dashes allowed)")
    if not info.display_name:
        problems.append("display_name is empty")
    if not is_compatible_api_version(info.api_version):
        problems.append(f"api_version {info.api_version!r} is not compatible")
    if not info.capabilities:
        problems.append("no capabilities declared")
    if {
        Capability.QUOTE_RATES,
        Capability.CREATE_SHIPMENT,
    } & info.capabilities and not info.services:
        problems.append("services are empty but rates or shipments are declared")
    if Capability.CREATE_SHIPMENT in info.capabilities and not info.label_formats:
        problems.append("label_formats are empty but create_shipment is declared")
    if Capability.PARSE_WEBHOOK in info.capabilities and (
        info.signature_scheme is None or driver.signature_scheme is None
    ):
        problems.append("parse_webhook is declared without a signature scheme")
    model: object = driver.config_model
    if not (isinstance(model, type) and issubclass(model, CarrierConfig)):
        problems.append("config_model must subclass CarrierConfig")
    for field, spec in driver.config_model.model_fields.items():
        secret_like = any(word in field.lower() for word in _SECRET_WORDS)
        if secret_like and "SecretStr" not in str(spec.annotation):
            problems.append(f"config field {field!r} looks secret but is not a SecretStr")
    return problems


def check_capabilities(driver: Driver) -> list[str]:
    """Declared operations must be overridden; undeclared ones must raise unsupported."""
    problems = []
    for capability in Capability:
        implemented = getattr(type(driver), capability.value) is not getattr(
            Driver, capability.value
        )
        declared = capability in driver.info.capabilities
        if declared and not implemented:
            problems.append(f"{capability.value} is declared but not implemented")
    return problems


class _ReplayExhausted(Exception):
    """The flow asked for more requests than were recorded."""


class _Replay:
    def __init__(self, responses: Sequence[tuple[int, tuple[tuple[str, str], ...], bytes]]) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.responses:
            raise _ReplayExhausted("the flow sent more requests than were recorded")
        status, headers, body = self.responses.pop(0)
        return httpx.Response(status, headers=list(headers), content=body)


_FIXED_NOW = 1_767_600_000.0  # 2026-01-05T08:00:00Z: the replay client's clock stands still


def _replay_client(driver: Driver, replay: Any) -> CarrierClient:
    client = CarrierClient(
        driver,
        transport=httpx.MockTransport(replay),
        retry=RetryPolicy(attempts=1),
        sleeper=SleepRecorder(),
        clock=lambda: _FIXED_NOW,
    )
    client.tokens.put(AccessToken("conformance-token", 10**9), client.clock())
    return client


def _shipment(args: Mapping[str, Any], *, booked: bool = False) -> Shipment:
    if "shipment" in args:
        return Shipment.model_validate(args["shipment"])
    shipment = sample_shipment(shipment_id="CONFORMANCE-1")
    if booked:
        shipment = shipment.model_copy(
            update={"carrier_shipment_id": args.get("carrier_shipment_id", "X1")}
        )
    return shipment


def _pickup(args: Mapping[str, Any]) -> PickupRequest:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    address = Address.model_validate(args["address"]) if "address" in args else sample_address()
    numbers = tuple(str(n) for n in args.get("tracking_numbers", ()))
    return PickupRequest(address, start, start + timedelta(hours=4), numbers)


def _call(client: CarrierClient, recording: Recording) -> Any:
    args = recording.args
    op = recording.operation
    if op is Capability.VALIDATE_ADDRESS:
        return client.validate_address(
            Address.model_validate(args["address"]) if "address" in args else sample_address()
        )
    if op is Capability.QUOTE_RATES:
        return client.quote_rates(_shipment(args))
    if op is Capability.CREATE_SHIPMENT:
        return client.create_shipment(_shipment(args), idempotency_key="conformance-key")
    if op is Capability.CANCEL_SHIPMENT:
        return client.cancel_shipment(str(args.get("carrier_shipment_id", "X1")))
    if op is Capability.SCHEDULE_PICKUP:
        return client.schedule_pickup(_pickup(args), idempotency_key="conformance-key")
    if op is Capability.UPDATE_PICKUP:
        number = str(args.get("confirmation_number", "PU1"))
        return client.update_pickup(number, _pickup(args))
    if op is Capability.QUOTE_LANDED_COST:
        return client.quote_landed_cost(_shipment(args))
    if op is Capability.FETCH_PROOF_OF_DELIVERY:
        number = str(args.get("tracking_number", "T1"))
        return client.fetch_proof_of_delivery(number, shipment_id=args.get("shipment_id"))
    if op is Capability.CANCEL_PICKUP:
        return client.cancel_pickup(str(args.get("confirmation_number", "PU1")))
    if op is Capability.TRACK:
        return client.track(str(args.get("tracking_number", "T1")))
    if op is Capability.PARSE_WEBHOOK:
        return client.parse_webhook(recording.responses[0][2], {}, verify=False)
    if op is Capability.FETCH_INVOICES:
        since = date.fromisoformat(args["since"]) if "since" in args else None
        return client.fetch_invoices(since=since)
    if op is Capability.CREATE_MANIFEST:
        ids = tuple(str(i) for i in args.get("carrier_shipment_ids", ()))
        return client.create_manifest(
            ManifestRequest(date.fromisoformat(args.get("ship_date", "2026-01-05")), ids)
        )
    return client.create_return(_shipment(args, booked=True), idempotency_key="conformance-key")


def _flatten(result: Any) -> list[Any]:
    return list(result) if isinstance(result, list) else [result]


def _sent(request: httpx.Request, base_url: str) -> CarrierRequest:
    """The request as the driver built it: its path relative to the configured base URL."""
    base_path = urlsplit(base_url).path.rstrip("/")
    path = request.url.path
    if base_path and path.startswith(base_path):
        path = path[len(base_path) :]
    return CarrierRequest(
        request.method,
        path,
        headers=tuple(request.headers.multi_items()),
        content=request.content,
        params=tuple(request.url.params.multi_items()),
    )


def check_spec(
    driver: Driver, requests: Sequence[httpx.Request], specs: Sequence[OpenAPISpec]
) -> list[str]:
    """Problems of the sent ``requests`` against the carrier's OpenAPI ``specs`` (none given: no
    check)."""
    problems: list[str] = []
    if not specs:
        return problems
    for request in requests:
        problems += check_request(_sent(request, driver.config.base_url), specs)
    return problems


def check_spec_recording(
    driver: Driver, recording: Recording, specs: Sequence[OpenAPISpec]
) -> list[str]:
    """Replay ``recording`` and check only the requests it sent against ``specs``."""
    if not specs or recording.operation not in driver.info.capabilities:
        return []
    label = recording.name or recording.operation.value
    replay = _Replay(recording.responses)
    client = _replay_client(driver, replay)
    try:
        with no_network(), contextlib.suppress(Exception):
            _call(client, recording)
    finally:
        client.close()
    return [f"{label}: {p}" for p in check_spec(driver, replay.requests, specs)]


def check_recording(
    driver: Driver, recording: Recording, specs: Sequence[OpenAPISpec] = ()
) -> list[str]:
    """Replay one recording through the client boundary and check what comes out.

    With ``specs``, every request the flow sent must also match the carrier's OpenAPI document.
    """
    label = recording.name or recording.operation.value
    if recording.operation not in driver.info.capabilities:
        return [f"{label}: recording for undeclared capability {recording.operation.value}"]
    replay = _Replay(recording.responses)
    client = _replay_client(driver, replay)
    try:
        with no_network():
            result = _call(client, recording)
    except CarrierError as exc:
        spec_problems = [f"{label}: {p}" for p in check_spec(driver, replay.requests, specs)]
        if recording.expect == "error":
            return spec_problems
        return [*spec_problems, f"{label}: raised {type(exc).__name__}: {exc}"]
    except Exception as exc:
        return [f"{label}: leaked {type(exc).__name__} instead of a typed CarrierError: {exc}"]
    finally:
        client.close()
    problems = [f"{label}: {p}" for p in check_spec(driver, replay.requests, specs)]
    if recording.expect == "error":
        return [*problems, f"{label}: expected a typed CarrierError, got a result"]
    expected = _RESULT_TYPES[recording.operation]
    for item in _flatten(result):
        if not isinstance(item, expected):
            problems.append(f"{label}: {type(item).__name__} is not a {expected.__name__}")
        if isinstance(item, BaseModel):
            _no_plain_secrets(item, label, problems)
    if recording.expect == "unknown_status":
        unknown = [
            e
            for e in _flatten(result)
            if isinstance(e, TrackingEvent) and e.milestone is Milestone.UNKNOWN
        ]
        if not unknown:
            problems.append(f"{label}: no event mapped to Milestone.UNKNOWN")
        elif recording.raw_code and not any(recording.raw_code in e.carrier_code for e in unknown):
            problems.append(f"{label}: the raw code {recording.raw_code!r} was not kept")
    if replay.responses and recording.operation is not Capability.PARSE_WEBHOOK:
        problems.append(f"{label}: {len(replay.responses)} recorded responses were not used")
    return problems


def check_deterministic(driver: Driver, recording: Recording) -> list[str]:
    """Replay twice: the same inputs must give the same requests and the same result.

    A driver that reads the clock, a random source or global state while building or parsing
    (it must not: times are passed in) shows up here as two different runs.
    """
    if recording.operation not in driver.info.capabilities:
        return []
    label = recording.name or recording.operation.value
    runs: list[tuple[list[tuple[str, str, tuple[tuple[str, str], ...], bytes]], Any]] = []
    for _ in range(2):
        replay = _Replay(recording.responses)
        client = _replay_client(driver, replay)
        try:
            with no_network():
                outcome: Any = _call(client, recording)
        except Exception as exc:
            outcome = (type(exc).__name__, str(exc))
        finally:
            client.close()
        sent = [
            (r.method, str(r.url), tuple(sorted(r.headers.items())), r.content)
            for r in replay.requests
        ]
        runs.append((sent, outcome))
    (first_sent, first), (second_sent, second) = runs
    problems = []
    if first_sent != second_sent:
        problems.append(f"{label}: the same inputs built different requests")
    if first != second:
        problems.append(f"{label}: the same answers parsed into different results")
    return problems


_MISSING = object()
_REPLACEMENTS: tuple[Any, ...] = (_MISSING, None, "x", -1, 1.5, [], {})


def _paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> Iterator[tuple[Any, ...]]:
    if depth > 5:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key), depth + 1)
    elif isinstance(value, list) and value:
        yield from _paths(value[0], (*prefix, 0), depth + 1)


def _mutated(data: Any, path: tuple[Any, ...], replacement: Any) -> Any:
    copy = json.loads(json.dumps(data))
    target = copy
    for part in path[:-1]:
        target = target[part]
    if replacement is _MISSING:
        del target[path[-1]]
    else:
        target[path[-1]] = replacement
    return copy


def mutations(body: bytes, *, limit: int = 300) -> list[bytes]:
    """Broken variants of a JSON body: truncated, wrong top level, each field missing or of the
    wrong type (following the first element of lists), at most ``limit`` of them."""
    variants = [b"", b"null", b"[]", b"{}", body[: len(body) // 2]]
    try:
        data = json.loads(body)
    except ValueError:
        return variants
    for path in _paths(data):
        for replacement in _REPLACEMENTS:
            variants.append(json.dumps(_mutated(data, path, replacement)).encode())
            if len(variants) >= limit:
                return variants
    return variants


def check_mutations(driver: Driver, recording: Recording) -> list[str]:
    """Feed broken variants of each recorded 2xx body; anything but a typed error is a problem.

    A variant may also parse (a field the driver does not need), which is fine.
    """
    if recording.operation not in driver.info.capabilities or recording.expect == "error":
        return []
    label = recording.name or recording.operation.value
    problems: list[str] = []
    for index, (status, headers, body) in enumerate(recording.responses):
        if not 200 <= status < 300:
            continue
        for variant in mutations(body):
            responses = list(recording.responses)
            responses[index] = (status, headers, variant)
            replay = _Replay(responses)
            client = _replay_client(driver, replay)
            try:
                with no_network():
                    _call(client, attrs.evolve(recording, responses=tuple(responses)))
            except (CarrierError, _ReplayExhausted):
                pass
            except Exception as exc:
                problems.append(
                    f"{label}: response {index} mutated to {variant[:80]!r} leaked "
                    f"{type(exc).__name__}"
                )
            finally:
                client.close()
    return problems


def _no_plain_secrets(item: BaseModel, label: str, problems: list[str]) -> None:
    for value in item.model_dump().values():
        if isinstance(value, SecretStr):
            problems.append(f"{label}: a result carries a secret")


def check_undeclared(driver: Driver) -> list[str]:
    """Calling each undeclared operation through a client raises unsupported, sending nothing."""
    problems = []
    for capability in Capability:
        if capability in driver.info.capabilities:
            continue
        replay = _Replay([])
        client = _replay_client(driver, replay)
        recording = Recording(capability, ((200, (), b"{}"),))
        try:
            _call(client, recording)
        except UnsupportedOperationError:
            pass
        except Exception as exc:
            problems.append(f"{capability.value}: raised {type(exc).__name__}, not unsupported")
        else:
            problems.append(f"{capability.value}: undeclared but returned a result")
        finally:
            client.close()
        if replay.requests:
            problems.append(f"{capability.value}: undeclared but sent a request")
    return problems


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Make any socket connection in the block fail loudly (drivers must do no I/O)."""
    original_connect = socket.socket.connect
    original_create = socket.create_connection

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a driver opened a network connection during build or parse")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.create_connection = original_create


def check_driver(
    driver: Driver, recordings: Sequence[Recording] = (), specs: Sequence[OpenAPISpec] = ()
) -> list[str]:
    """Every problem the kit finds with ``driver`` (empty: it conforms).

    ``specs`` are the carrier's OpenAPI documents: every request sent while replaying the
    recordings must match one of their operations, strictly.
    """
    problems = check_metadata(driver) + check_capabilities(driver) + check_undeclared(driver)
    for recording in recordings:
        problems += check_recording(driver, recording, specs)
        problems += check_mutations(driver, recording)
        problems += check_deterministic(driver, recording)
    return problems


class DriverConformance:
    """Subclass with ``driver`` and ``recordings`` set; pytest collects the checks below.

    ``require_unknown_status`` (default on when ``track`` or ``parse_webhook`` is declared)
    demands at least one ``expect="unknown_status"`` recording. ``specs`` (OpenAPI documents
    loaded with :class:`shipsync.testing.openapi.OpenAPISpec`) turn on the spec check: every
    request the driver sends during the run must match the carrier's published API.
    """

    driver: ClassVar[Driver]
    recordings: ClassVar[Sequence[Recording]] = ()
    specs: ClassVar[Sequence[OpenAPISpec]] = ()
    require_unknown_status: ClassVar[bool | None] = None

    def test_metadata_is_complete(self) -> None:
        """Name, display name, API version, capabilities, services, formats, config model."""
        assert check_metadata(self.driver) == []

    def test_declared_capabilities_are_implemented(self) -> None:
        """Every declared operation overrides the base method."""
        assert check_capabilities(self.driver) == []

    def test_undeclared_capabilities_are_unsupported(self) -> None:
        """Every other operation raises UnsupportedOperationError and sends nothing."""
        assert check_undeclared(self.driver) == []

    def test_recordings_parse_into_canonical_data(self) -> None:
        """Each recording gives canonical values, or a typed error when it records a failure."""
        assert self.recordings, "give the kit some recordings"
        problems = [p for r in self.recordings for p in check_recording(self.driver, r)]
        assert problems == []

    def test_requests_match_the_spec(self) -> None:
        """Every request sent while replaying the recordings matches the OpenAPI document."""
        problems = [
            p for r in self.recordings for p in check_spec_recording(self.driver, r, self.specs)
        ]
        assert problems == []

    def test_broken_answers_fail_typed(self) -> None:
        """Truncated bodies and missing or mistyped fields give a CarrierError, never a leak."""
        problems = [p for r in self.recordings for p in check_mutations(self.driver, r)]
        assert problems[:10] == []

    def test_build_and_parse_are_deterministic(self) -> None:
        """The same inputs give the same requests and results: no hidden clock or randomness."""
        problems = [p for r in self.recordings for p in check_deterministic(self.driver, r)]
        assert problems == []

    def test_every_declared_operation_is_recorded(self) -> None:
        """Each declared network operation has at least one successful recording."""
        recorded = {r.operation for r in self.recordings if r.expect != "error"}
        missing = sorted(c.value for c in self.driver.info.capabilities - recorded)
        assert missing == []

    def test_unknown_status_maps_to_unknown(self) -> None:
        """A status code the driver does not know becomes UNKNOWN with the raw code kept."""
        caps = self.driver.info.capabilities
        required = self.require_unknown_status
        if required is None:
            required = bool({Capability.TRACK, Capability.PARSE_WEBHOOK} & caps)
        unknown = [r for r in self.recordings if r.expect == "unknown_status"]
        if required:
            assert unknown, "record a tracking answer with a status code the driver cannot know"
        for recording in unknown:
            assert check_recording(self.driver, recording) == []
