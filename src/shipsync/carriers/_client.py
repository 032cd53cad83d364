"""The clients that drive sans-IO flows over httpx: :class:`CarrierClient` and its async twin.

Theory of operation
-------------------
An operation call builds a flow from the driver and drives it: each request it yields goes
through, in order,

1. the bearer token (fetched with the driver's token request and cached until shortly before it
   expires; a 401 drops it and the request is sent once more with a fresh one),
2. the retry loop (:meth:`shipsync.retry.RetryPolicy.call`: a first attempt, and after a
   retryable failure tenacity, which sees that first outcome as its own first attempt), which
   for each attempt
3. waits for the client-side rate limit,
4. enters the carrier's circuit breaker (an open breaker raises ``CircuitOpenError``, nothing is
   sent) and
5. sends the request, mapping transport errors and 429/5xx answers to
   ``CarrierUnavailableError`` *inside* the breaker so they count as failures;

then a non-2xx answer the flow did not ``accept`` becomes the most specific ``CarrierError``, and
a 2xx answer is sent into the flow, whose parse errors become ``CarrierResponseError``.
Everything but the send loop lives in :class:`BaseCarrierClient`; only the loop (``_send_once``,
``_send_retrying``, ``_send``, ``_token``, ``run``) exists twice, and each public operation is a
two-line wrapper that builds the driver's flow and runs it.

Per-call cost is measured against a bare httpx call (``bench/carriers.py``), so what can be done
once per client is: each request URL is parsed once and kept (``_httpx_url``), the httpx client
a client makes for itself skips the cookie jar for answers that set no cookie (``_Cookies``),
a healthy breaker hands out one reusable guard, and response headers are decoded once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import httpx

from shipsync.canonical import (
    Address,
    FreightInvoice,
    LabelFormat,
    Manifest,
    Pickup,
    ProofOfDelivery,
    Rate,
    ReturnShipment,
    Shipment,
    TrackingEvent,
)
from shipsync.carriers._auth import AccessToken, TokenCache
from shipsync.carriers._breaker import CircuitBreaker
from shipsync.carriers._capabilities import Capability
from shipsync.carriers._driver import (
    AddressValidation,
    Driver,
    Flow,
    ManifestRequest,
    PickupRequest,
)
from shipsync.carriers._http import CarrierRequest, CarrierResponse, Headers
from shipsync.carriers._mapping import (
    PARSE_ERRORS,
    RETRYABLE_STATUSES,
    error_for_response,
    error_for_transport,
    response_error,
)
from shipsync.carriers._ratelimit import RateLimit
from shipsync.carriers._redact import redact_headers, redact_url
from shipsync.errors import (
    CarrierError,
    CarrierRequestError,
    CarrierResponseError,
    CarrierUnavailableError,
    CircuitOpenError,
    ConfigurationError,
    InvalidInputError,
    ShipsyncError,
)
from shipsync.retry import RetryPolicy, Sleeper, current_sleeper
from shipsync.telemetry import _hooks as _telemetry

__all__ = ["AsyncCarrierClient", "BaseCarrierClient", "CarrierClient"]

T = TypeVar("T")
_log = logging.getLogger("shipsync.carriers")
_PARSE_FAILURES: tuple[type[Exception], ...] = (*PARSE_ERRORS, InvalidInputError)
_TOKEN_FAILURES: tuple[type[Exception], ...] = (*_PARSE_FAILURES, CarrierResponseError)

#: Default cap on one response body; a bigger answer is a ``CarrierResponseError``.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_URL_CACHE = 1024


_SET_COOKIE = frozenset({b"set-cookie", b"set-cookie2"})


class _Cookies(httpx.Cookies):
    """httpx's cookie store, minus the cookiejar round trip for an answer that sets no cookie.

    httpx hands every response to :mod:`http.cookiejar` (two adapter objects and an e-mail
    message of its headers), which costs a tenth of a whole request; carrier APIs rarely set
    cookies, and an answer without ``Set-Cookie`` leaves the jar as it was, so it is skipped.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if any(name.lower() in _SET_COOKIE for name, _ in response.headers.raw):
            super().extract_cookies(response)


class _QuietCookies:
    """Gives an httpx client :class:`_Cookies` (listed before the httpx class it extends)."""

    _jar: httpx.Cookies

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cookies = None

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = _Cookies(cookies)


class _Http(_QuietCookies, httpx.Client):
    """The ``httpx.Client`` a :class:`CarrierClient` makes for itself."""


class _AsyncHttp(_QuietCookies, httpx.AsyncClient):
    """The ``httpx.AsyncClient`` an :class:`AsyncCarrierClient` makes for itself."""


def _new_key() -> str:
    return uuid.uuid4().hex


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is worth another attempt: an unavailable carrier, never an open breaker."""
    return (
        isinstance(exc, CarrierUnavailableError)
        and exc.retryable
        and not isinstance(exc, CircuitOpenError)
    )


class BaseCarrierClient:
    """Everything the two clients share: configuration, request building, error mapping, logs.

    ``transport`` is handed to httpx (``httpx.MockTransport`` runs a fake carrier in-process).
    ``breaker`` may be shared by several clients of one carrier; ``rate_limit`` caps requests per
    second; ``sleeper`` defaults to the testing switch of :func:`shipsync.retry.set_testing`;
    ``clock`` gives POSIX seconds for token expiry, Retry-After dates and ``received_at``.
    ``max_response_bytes`` bounds one response body (read as a stream, so a gigantic answer is
    refused without being held in memory).
    """

    _owns_http = True

    def __init__(
        self,
        driver: Driver,
        *,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        rate_limit: RateLimit | None = None,
        sleeper: Sleeper | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.driver = driver
        self.max_response_bytes = max_response_bytes
        self.carrier = driver.info.name
        self.base_url = (base_url or driver.config.base_url).rstrip("/")
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self.rate_limit = rate_limit
        self._sleeper = sleeper
        self.clock = clock
        self.timeout = timeout if timeout is not None else driver.config.timeout
        self.tokens = TokenCache()
        self._token_request = driver.token_request()
        self._urls: dict[str, httpx.URL] = {}

    @property
    def sleeper(self) -> Sleeper:
        """The sleeper in force (the testing switch's recorder unless one was given)."""
        return self._sleeper if self._sleeper is not None else current_sleeper()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _check(self, capability: Capability) -> None:
        if capability not in self.driver.info.capabilities:
            raise self.driver._unsupported(capability)

    def _url(self, request: CarrierRequest) -> str:
        path = request.path
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _httpx_url(self, request: CarrierRequest) -> httpx.URL:
        """The parsed URL of ``request``, parsed once per client and kept for the next call.

        httpx parses and validates a URL string on every request, which costs as much as the
        rest of building the request; the paths a client sends are few (the token endpoint,
        one per operation, one per tracked number), so at most ``_URL_CACHE`` are kept.
        """
        url = self._url(request)
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = httpx.URL(url)
            if len(self._urls) >= _URL_CACHE:
                self._urls.clear()
            self._urls[url] = parsed
        return parsed

    def _httpx_args(self, request: CarrierRequest) -> dict[str, Any]:
        args: dict[str, Any] = {
            "method": request.method,
            "url": self._httpx_url(request),
            "headers": request.headers,
            "content": request.content,
        }
        if request.params:
            args["params"] = request.params
        if request.timeout is not None:
            args["timeout"] = request.timeout
        elif not self._owns_http:
            args["timeout"] = self.timeout
        return args

    def _too_large(self, operation: str) -> CarrierResponseError:
        return CarrierResponseError(
            f"response body exceeds {self.max_response_bytes} bytes",
            carrier=self.carrier,
            operation=operation,
            code="response_too_large",
        )

    def _headers(self, raw: httpx.Response, operation: str) -> Headers:
        """The answer's headers (decoded once); a declared body over the limit is refused."""
        headers = tuple(raw.headers.multi_items())  # names come lower-cased
        for name, declared in headers:
            if (
                name == "content-length"
                and declared.isascii()
                and declared.isdigit()
                and (len(declared) > 18 or int(declared) > self.max_response_bytes)
            ):
                raise self._too_large(operation)
        return headers

    def _needs_token(self, request: CarrierRequest) -> bool:
        return (
            request.authenticated
            and self._token_request is not None
            and request is not self._token_request
        )

    def _authorize(self, request: CarrierRequest, token: AccessToken) -> CarrierRequest:
        return request.with_header("authorization", f"{token.token_type} {token.value}")

    def _check_status(self, response: CarrierResponse, operation: str) -> None:
        """Raise inside the breaker for answers that say the carrier is unwell."""
        if response.status in RETRYABLE_STATUSES or response.status >= 500:
            raise self._status_error(response, operation)

    def _status_error(self, response: CarrierResponse, operation: str) -> CarrierError:
        return error_for_response(
            response,
            carrier=self.carrier,
            operation=operation,
            details=self.driver.parse_error,
            now=self.clock(),
        )

    def _log_attempt(
        self,
        request: CarrierRequest,
        operation: str,
        response: CarrierResponse | None,
        error: BaseException | None,
        started: float,
    ) -> None:
        record = {
            "carrier": self.carrier,
            "operation": operation,
            "method": request.method,
            "url": redact_url(self._url(request)),
            "request_headers": redact_headers(request.headers),
            "status": response.status if response is not None else None,
            "error": type(error).__name__ if error is not None else None,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        _log.debug(
            "%s %s %s -> %s",
            self.carrier,
            operation,
            request.method,
            record["status"] or record["error"],
            extra={"shipsync": record},
        )

    def _log_retry(self, attempt: int, exc: BaseException, sleep: float) -> None:
        _log.warning(
            "retrying %s after %s (attempt %s, sleeping %.3fs)",
            self.carrier,
            type(exc).__name__,
            attempt,
            sleep,
            extra={
                "shipsync": {
                    "carrier": self.carrier,
                    "operation": getattr(exc, "operation", None),
                    "code": getattr(exc, "code", None),
                    "attempt": attempt,
                    "sleep": sleep,
                }
            },
        )

    def _advance(self, flow: Flow[T], response: CarrierResponse, operation: str) -> Any:
        """Send ``response`` into ``flow``: the parse-error boundary. StopIteration ends it."""
        try:
            return flow.send(response)
        except StopIteration:
            raise
        except CarrierError as exc:
            if exc.carrier is None and isinstance(exc, CarrierResponseError):
                raise response_error(exc, carrier=self.carrier, operation=operation) from exc
            raise
        except _PARSE_FAILURES as exc:
            raise response_error(exc, carrier=self.carrier, operation=operation) from exc

    def _driver_error(self, operation: str, what: str) -> CarrierRequestError:
        return CarrierRequestError(
            f"the driver could not build the request ({what})",
            carrier=self.carrier,
            operation=operation,
            code="driver_error",
        )

    def _start(self, flow: Flow[T], operation: str) -> CarrierRequest:
        """The flow's first request: a driver that fails to build it is "we sent bad data"."""
        try:
            return self._request(next(flow), operation)
        except (StopIteration, ShipsyncError):
            raise
        except Exception as exc:
            raise self._driver_error(operation, type(exc).__name__) from exc

    def _request(self, value: object, operation: str) -> CarrierRequest:
        """``value`` if the flow yielded a :class:`CarrierRequest`, else a driver error."""
        if not isinstance(value, CarrierRequest):
            raise self._driver_error(operation, f"it yielded a {type(value).__name__}")
        return value

    @staticmethod
    def _close(flow: object) -> None:
        close = getattr(flow, "close", None)
        if callable(close):
            close()

    def _final_error(self, response: CarrierResponse, request: CarrierRequest) -> bool:
        return not response.ok and response.status not in request.accept

    def _webhook_events(
        self, body: bytes, headers: Any, *, verify: bool = True
    ) -> list[TrackingEvent]:
        self._check(Capability.PARSE_WEBHOOK)
        scheme = self.driver.signature_scheme
        secret = self.driver.config.webhook_secret
        if verify:
            if scheme is None or secret is None:
                raise ConfigurationError(
                    f"{self.carrier}: a signature scheme and webhook_secret are needed to verify",
                    path="webhook_secret",
                )
            scheme.verifier(secret.get_secret_value(), clock=self.clock).verify(body, headers)
        try:
            return self.driver.parse_webhook(body, received_at=self._now())
        except CarrierError as exc:
            if exc.carrier is None and isinstance(exc, CarrierResponseError):
                raise response_error(exc, carrier=self.carrier, operation="parse_webhook") from exc
            raise
        except _PARSE_FAILURES as exc:
            raise response_error(exc, carrier=self.carrier, operation="parse_webhook") from exc


class CarrierClient(BaseCarrierClient):
    """Drives a driver's flows over an ``httpx.Client``.

    >>> client = CarrierClient(driver, transport=service.mock_transport())  # doctest: +SKIP
    >>> client.track("FK123")  # doctest: +SKIP
    """

    def __init__(
        self,
        driver: Driver,
        *,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(driver, **kwargs)
        self._owns_http = http is None
        self.http = http or _Http(transport=transport, timeout=self.timeout)
        self._token_lock = threading.Lock()

    def close(self) -> None:
        """Close the underlying httpx client if this client created it."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> CarrierClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the send loop --------------------------------------------------------------------------

    @_telemetry.traced_carrier_attempt  # telemetry
    def _send_once(self, request: CarrierRequest, operation: str) -> CarrierResponse:
        if self.rate_limit is not None:
            wait = self.rate_limit.reserve()
            if wait > 0:
                self.sleeper.sleep(wait)
        debug = _log.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if debug else 0.0
        response: CarrierResponse | None = None
        try:
            with self.breaker.guard(self.carrier, operation):
                try:
                    response = self._fetch(request, operation)
                except httpx.HTTPError as exc:
                    raise error_for_transport(
                        exc, carrier=self.carrier, operation=operation
                    ) from exc
                self._check_status(response, operation)
        except BaseException as exc:
            if debug:
                self._log_attempt(request, operation, response, exc, started)
            raise
        if debug:
            self._log_attempt(request, operation, response, None, started)
        return response

    def _fetch(self, request: CarrierRequest, operation: str) -> CarrierResponse:
        """Send once and read the body as a stream, up to ``max_response_bytes``."""
        raw = self.http.send(self.http.build_request(**self._httpx_args(request)), stream=True)
        try:
            headers = self._headers(raw, operation)
            chunks: list[bytes] = []
            size = 0
            for chunk in raw.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise self._too_large(operation)
                chunks.append(chunk)
        finally:
            raw.close()
        return CarrierResponse(raw.status_code, headers, b"".join(chunks))

    def _send_retrying(self, request: CarrierRequest, operation: str) -> CarrierResponse:
        """Send with the retry policy (its first attempt costs one ``try``)."""
        return self.retry.call(
            lambda _attempt: self._send_once(request, operation),
            retry_if=is_retryable,
            sleeper=self.sleeper,
            before_sleep=self._log_retry,
        )

    def _send(self, request: CarrierRequest, operation: str) -> CarrierResponse:
        authorized = request
        token = None
        if self._needs_token(request):
            token = self._token()
            authorized = self._authorize(request, token)
        response = self._send_retrying(authorized, operation)
        if response.status == 401 and token is not None:
            self.tokens.invalidate(token)
            authorized = self._authorize(request, self._token())
            response = self._send_retrying(authorized, operation)
        if self._final_error(response, request):
            raise self._status_error(response, operation)
        return response

    def _token(self) -> AccessToken:
        token = self.tokens.get(self.clock())
        if token is not None:
            return token
        with self._token_lock:
            token = self.tokens.get(self.clock())
            if token is not None:
                return token
            assert self._token_request is not None
            response = self._send(self._token_request, "authenticate")
            try:
                token = self.driver.parse_token(response)
            except _TOKEN_FAILURES as exc:
                raise response_error(exc, carrier=self.carrier, operation="authenticate") from exc
            self.tokens.put(token, self.clock())
            return token

    @_telemetry.traced_carrier_run  # telemetry
    def run(self, flow: Flow[T], operation: str) -> T:
        """Drive ``flow`` to its end and return its result."""
        try:
            request = self._start(flow, operation)
            while True:
                response = self._send(request, operation)
                request = self._request(self._advance(flow, response, operation), operation)
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            self._close(flow)

    # -- operations -----------------------------------------------------------------------------

    def validate_address(self, address: Address) -> AddressValidation:
        """Ask the carrier whether ``address`` is deliverable."""
        self._check(Capability.VALIDATE_ADDRESS)
        return self.run(self.driver.validate_address(address), "validate_address")

    def quote_rates(self, shipment: Shipment) -> list[Rate]:
        """Every rate the carrier offers for ``shipment``."""
        self._check(Capability.QUOTE_RATES)
        return self.run(self.driver.quote_rates(shipment), "quote_rates")

    def create_shipment(
        self,
        shipment: Shipment,
        *,
        label_format: LabelFormat = LabelFormat.PDF,
        idempotency_key: str | None = None,
    ) -> Shipment:
        """Book ``shipment``. Retries reuse one idempotency key, so it is booked at most once.

        Pass your own ``idempotency_key`` (a stable id of the business operation) to make a
        later retry of the whole call safe too.
        """
        self._check(Capability.CREATE_SHIPMENT)
        key = idempotency_key or _new_key()
        flow = self.driver.create_shipment(shipment, label_format=label_format, idempotency_key=key)
        return self.run(flow, "create_shipment")

    def cancel_shipment(self, carrier_shipment_id: str) -> None:
        """Cancel a booked shipment."""
        self._check(Capability.CANCEL_SHIPMENT)
        self.run(self.driver.cancel_shipment(carrier_shipment_id), "cancel_shipment")

    def schedule_pickup(
        self, request: PickupRequest, *, idempotency_key: str | None = None
    ) -> Pickup:
        """Book a pickup (idempotent like :meth:`create_shipment`)."""
        self._check(Capability.SCHEDULE_PICKUP)
        flow = self.driver.schedule_pickup(request, idempotency_key=idempotency_key or _new_key())
        return self.run(flow, "schedule_pickup")

    def cancel_pickup(self, confirmation_number: str) -> None:
        """Cancel a booked pickup."""
        self._check(Capability.CANCEL_PICKUP)
        self.run(self.driver.cancel_pickup(confirmation_number), "cancel_pickup")

    def track(self, tracking_number: str) -> list[TrackingEvent]:
        """The tracking history of one package, oldest first."""
        self._check(Capability.TRACK)
        flow = self.driver.track(tracking_number, received_at=self._now())
        return self.run(flow, "track")

    def parse_webhook(
        self, body: bytes, headers: Any, *, verify: bool = True
    ) -> list[TrackingEvent]:
        """Verify a webhook delivery with the driver's signature scheme and parse its events."""
        return self._webhook_events(body, headers, verify=verify)

    def fetch_invoices(self, *, since: date | None = None) -> list[FreightInvoice]:
        """Every freight invoice issued since ``since``."""
        self._check(Capability.FETCH_INVOICES)
        return self.run(self.driver.fetch_invoices(since=since), "fetch_invoices")

    def create_return(
        self,
        shipment: Shipment,
        *,
        label_format: LabelFormat = LabelFormat.PDF,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> ReturnShipment:
        """Book a return of ``shipment`` (idempotent like :meth:`create_shipment`)."""
        self._check(Capability.CREATE_RETURN)
        flow = self.driver.create_return(
            shipment,
            label_format=label_format,
            idempotency_key=idempotency_key or _new_key(),
            reason=reason,
        )
        return self.run(flow, "create_return")

    def create_manifest(self, request: ManifestRequest) -> list[Manifest]:
        """Create the end-of-day manifests (the carrier's close) with their documents."""
        self._check(Capability.CREATE_MANIFEST)
        return self.run(self.driver.create_manifest(request), "create_manifest")

    def quote_landed_cost(self, shipment: Shipment) -> Rate:
        """The landed cost (freight, duties and taxes) of a declarable shipment."""
        self._check(Capability.QUOTE_LANDED_COST)
        return self.run(self.driver.quote_landed_cost(shipment), "quote_landed_cost")

    def fetch_proof_of_delivery(
        self, tracking_number: str, *, shipment_id: str | None = None
    ) -> ProofOfDelivery:
        """The proof of delivery of a delivered package."""
        self._check(Capability.FETCH_PROOF_OF_DELIVERY)
        flow = self.driver.fetch_proof_of_delivery(
            tracking_number, shipment_id=shipment_id, received_at=self._now()
        )
        return self.run(flow, "fetch_proof_of_delivery")

    def update_pickup(self, confirmation_number: str, request: PickupRequest) -> Pickup:
        """Move or change a booked pickup."""
        self._check(Capability.UPDATE_PICKUP)
        return self.run(self.driver.update_pickup(confirmation_number, request), "update_pickup")


class AsyncCarrierClient(BaseCarrierClient):
    """Drives a driver's flows over an ``httpx.AsyncClient``; same behaviour as the sync client."""

    def __init__(
        self,
        driver: Driver,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(driver, **kwargs)
        self._owns_http = http is None
        self.http = http or _AsyncHttp(transport=transport, timeout=self.timeout)
        self._token_lock: asyncio.Lock | None = None

    async def aclose(self) -> None:
        """Close the underlying httpx client if this client created it."""
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncCarrierClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the send loop --------------------------------------------------------------------------

    @_telemetry.traced_carrier_attempt  # telemetry
    async def _send_once(self, request: CarrierRequest, operation: str) -> CarrierResponse:
        if self.rate_limit is not None:
            wait = self.rate_limit.reserve()
            if wait > 0:
                await self.sleeper.asleep(wait)
        debug = _log.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if debug else 0.0
        response: CarrierResponse | None = None
        try:
            async with self.breaker.aguard(self.carrier, operation):
                try:
                    response = await self._fetch(request, operation)
                except httpx.HTTPError as exc:
                    raise error_for_transport(
                        exc, carrier=self.carrier, operation=operation
                    ) from exc
                self._check_status(response, operation)
        except BaseException as exc:
            if debug:
                self._log_attempt(request, operation, response, exc, started)
            raise
        if debug:
            self._log_attempt(request, operation, response, None, started)
        return response

    async def _fetch(self, request: CarrierRequest, operation: str) -> CarrierResponse:
        """Send once and read the body as a stream, up to ``max_response_bytes``."""
        built = self.http.build_request(**self._httpx_args(request))
        raw = await self.http.send(built, stream=True)
        try:
            headers = self._headers(raw, operation)
            chunks: list[bytes] = []
            size = 0
            async for chunk in raw.aiter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise self._too_large(operation)
                chunks.append(chunk)
        finally:
            await raw.aclose()
        return CarrierResponse(raw.status_code, headers, b"".join(chunks))

    async def _send_retrying(self, request: CarrierRequest, operation: str) -> CarrierResponse:
        """Send with the retry policy (its first attempt costs one ``try``)."""
        return await self.retry.acall(
            lambda _attempt: self._send_once(request, operation),
            retry_if=is_retryable,
            sleeper=self.sleeper,
            before_sleep=self._log_retry,
        )

    async def _send(self, request: CarrierRequest, operation: str) -> CarrierResponse:
        authorized = request
        token = None
        if self._needs_token(request):
            token = await self._token()
            authorized = self._authorize(request, token)
        response = await self._send_retrying(authorized, operation)
        if response.status == 401 and token is not None:
            self.tokens.invalidate(token)
            authorized = self._authorize(request, await self._token())
            response = await self._send_retrying(authorized, operation)
        if self._final_error(response, request):
            raise self._status_error(response, operation)
        return response

    async def _token(self) -> AccessToken:
        token = self.tokens.get(self.clock())
        if token is not None:
            return token
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            token = self.tokens.get(self.clock())
            if token is not None:
                return token
            assert self._token_request is not None
            response = await self._send(self._token_request, "authenticate")
            try:
                token = self.driver.parse_token(response)
            except _TOKEN_FAILURES as exc:
                raise response_error(exc, carrier=self.carrier, operation="authenticate") from exc
            self.tokens.put(token, self.clock())
            return token

    @_telemetry.traced_carrier_run  # telemetry
    async def run(self, flow: Flow[T], operation: str) -> T:
        """Drive ``flow`` to its end and return its result."""
        try:
            request = self._start(flow, operation)
            while True:
                response = await self._send(request, operation)
                request = self._request(self._advance(flow, response, operation), operation)
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            self._close(flow)

    # -- operations -----------------------------------------------------------------------------

    async def validate_address(self, address: Address) -> AddressValidation:
        """Ask the carrier whether ``address`` is deliverable."""
        self._check(Capability.VALIDATE_ADDRESS)
        return await self.run(self.driver.validate_address(address), "validate_address")

    async def quote_rates(self, shipment: Shipment) -> list[Rate]:
        """Every rate the carrier offers for ``shipment``."""
        self._check(Capability.QUOTE_RATES)
        return await self.run(self.driver.quote_rates(shipment), "quote_rates")

    async def create_shipment(
        self,
        shipment: Shipment,
        *,
        label_format: LabelFormat = LabelFormat.PDF,
        idempotency_key: str | None = None,
    ) -> Shipment:
        """Book ``shipment``. Retries reuse one idempotency key, so it is booked at most once."""
        self._check(Capability.CREATE_SHIPMENT)
        key = idempotency_key or _new_key()
        flow = self.driver.create_shipment(shipment, label_format=label_format, idempotency_key=key)
        return await self.run(flow, "create_shipment")

    async def cancel_shipment(self, carrier_shipment_id: str) -> None:
        """Cancel a booked shipment."""
        self._check(Capability.CANCEL_SHIPMENT)
        await self.run(self.driver.cancel_shipment(carrier_shipment_id), "cancel_shipment")

    async def schedule_pickup(
        self, request: PickupRequest, *, idempotency_key: str | None = None
    ) -> Pickup:
        """Book a pickup (idempotent like :meth:`create_shipment`)."""
        self._check(Capability.SCHEDULE_PICKUP)
        flow = self.driver.schedule_pickup(request, idempotency_key=idempotency_key or _new_key())
        return await self.run(flow, "schedule_pickup")

    async def cancel_pickup(self, confirmation_number: str) -> None:
        """Cancel a booked pickup."""
        self._check(Capability.CANCEL_PICKUP)
        await self.run(self.driver.cancel_pickup(confirmation_number), "cancel_pickup")

    async def track(self, tracking_number: str) -> list[TrackingEvent]:
        """The tracking history of one package, oldest first."""
        self._check(Capability.TRACK)
        flow = self.driver.track(tracking_number, received_at=self._now())
        return await self.run(flow, "track")

    def parse_webhook(
        self, body: bytes, headers: Any, *, verify: bool = True
    ) -> list[TrackingEvent]:
        """Verify a webhook delivery with the driver's signature scheme and parse its events."""
        return self._webhook_events(body, headers, verify=verify)

    async def fetch_invoices(self, *, since: date | None = None) -> list[FreightInvoice]:
        """Every freight invoice issued since ``since``."""
        self._check(Capability.FETCH_INVOICES)
        return await self.run(self.driver.fetch_invoices(since=since), "fetch_invoices")

    async def create_return(
        self,
        shipment: Shipment,
        *,
        label_format: LabelFormat = LabelFormat.PDF,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> ReturnShipment:
        """Book a return of ``shipment`` (idempotent like :meth:`create_shipment`)."""
        self._check(Capability.CREATE_RETURN)
        flow = self.driver.create_return(
            shipment,
            label_format=label_format,
            idempotency_key=idempotency_key or _new_key(),
            reason=reason,
        )
        return await self.run(flow, "create_return")

    async def create_manifest(self, request: ManifestRequest) -> list[Manifest]:
        """Create the end-of-day manifests (the carrier's close) with their documents."""
        self._check(Capability.CREATE_MANIFEST)
        return await self.run(self.driver.create_manifest(request), "create_manifest")

    async def quote_landed_cost(self, shipment: Shipment) -> Rate:
        """The landed cost (freight, duties and taxes) of a declarable shipment."""
        self._check(Capability.QUOTE_LANDED_COST)
        return await self.run(self.driver.quote_landed_cost(shipment), "quote_landed_cost")

    async def fetch_proof_of_delivery(
        self, tracking_number: str, *, shipment_id: str | None = None
    ) -> ProofOfDelivery:
        """The proof of delivery of a delivered package."""
        self._check(Capability.FETCH_PROOF_OF_DELIVERY)
        flow = self.driver.fetch_proof_of_delivery(
            tracking_number, shipment_id=shipment_id, received_at=self._now()
        )
        return await self.run(flow, "fetch_proof_of_delivery")

    async def update_pickup(self, confirmation_number: str, request: PickupRequest) -> Pickup:
        """Move or change a booked pickup."""
        self._check(Capability.UPDATE_PICKUP)
        return await self.run(
            self.driver.update_pickup(confirmation_number, request), "update_pickup"
        )
