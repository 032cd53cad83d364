"""Every exception shipsync raises, in one tree.

Catch :class:`ShipsyncError` to catch them all, or a branch to act on a kind of failure::

    ShipsyncError                         base of everything; .retryable, .retry_after
    ├── InvalidInputError                 we were given something bad (.path names the field)
    │   ├── CanonicalValidationError      a canonical value or model rejected its input
    │   ├── CurrencyMismatchError         arithmetic or comparison across two currencies
    │   ├── UnknownEventTypeError         an envelope's ``type`` is not in the catalogue
    │   ├── UnsupportedSchemaVersionError no upcaster reads that schema version
    │   ├── ConfigurationError            a setting, secret or key has the wrong form
    │   │   ├── MissingDependencyError    an optional extra is not installed (.extra)
    │   │   └── NoCarrierAccountError     a company has no account of a carrier (.company .carrier)
    │   └── InvoiceFileError              a carrier invoice file cannot be read (.line)
    ├── RemoteDataError                   a remote party sent something we cannot accept
    ├── UnavailableError                  transport or availability failure; retryable
    ├── TenantError                       tenants subsystem; .tenant
    │   ├── UnknownTenantError            (also InvalidInputError) no tenant has that id (.path)
    │   └── TenantConfigurationError      (also ConfigurationError) a tenant lacks a setting (.path)
    ├── WebhookError                      webhooks subsystem
    │   ├── WebhookVerificationError      (also RemoteDataError) the delivery is not authentic
    │   │   ├── MissingHeaderError        a required header is absent (.header)
    │   │   ├── MalformedHeaderError      a header is present but not of the scheme's form
    │   │   ├── TimestampOutsideToleranceError
    │   │   │   ├── TimestampTooOldError
    │   │   │   └── TimestampTooNewError
    │   │   └── NoMatchingSignatureError  no signature matches any active secret or key
    │   ├── WebhookSecretError            (also ConfigurationError) a secret or key is malformed
    │   ├── PayloadTooLargeError          (also RemoteDataError) the body exceeds the limit
    │   └── WebhookPayloadError           (also RemoteDataError) the body does not parse
    ├── IdempotencyError                  idempotency subsystem
    │   ├── FingerprintMismatchError      (also InvalidInputError) same key, other payload
    │   ├── StaleTokenError               a fencing token whose lease was lost
    │   ├── CorruptRecordError            a stored record cannot be decoded
    │   ├── StoreUnavailableError         (also UnavailableError) the store cannot be reached
    │   ├── CompletionFailedError         the side effect ran, recording it failed: see .retryable
    │   ├── KeyInProgressError            another holder's lease on the key runs; retryable
    │   └── MissingIdempotencyKeyError    (also InvalidInputError) no key could be derived
    ├── CarrierError                      carrier subsystem; .carrier .operation .code
    │   ├── CarrierRequestError           (also InvalidInputError) the carrier refused our request
    │   ├── CarrierAuthError              credentials refused
    │   ├── CarrierResponseError          (also RemoteDataError) the carrier answered nonsense
    │   ├── CarrierUnavailableError       (also UnavailableError) 429, 5xx, timeouts, network
    │   │   └── CircuitOpenError          the breaker is open; nothing was sent
    │   ├── UnsupportedOperationError     the driver does not declare that capability
    │   └── DriverRegistryError           discovery and loading of drivers (.package)
    │       ├── DriverNotFoundError
    │       ├── DuplicateDriverError
    │       ├── IncompatibleDriverError
    │       └── DriverLoadError
    ├── OdooError                         Odoo subsystem; .odoo_message
    │   ├── OdooAuthError                 wrong database, login, password or API key
    │   ├── OdooAccessError               Odoo's AccessError
    │   │   └── OdooCompanyAccessError    a company or record outside the user's/scope's companies
    │   ├── OdooValidationError           Odoo's ValidationError
    │   ├── OdooMissingError              Odoo's MissingError (record gone)
    │   ├── OdooUserError                 Odoo's UserError
    │   ├── OdooModuleMissingError        a required module is not installed (.module)
    │   ├── OdooCompanyMismatchError      one document would span several companies
    │   ├── OdooResponseError             (also RemoteDataError) an answer we cannot read
    │   └── OdooUnavailableError          (also UnavailableError) the server cannot be reached
    ├── FlowError                         flows subsystem
    │   ├── EventLogUnavailableError      (also UnavailableError)
    │   └── DeadLetterNotFoundError
    ├── SettlementError                   settlement subsystem
    │   └── ReconciliationError           totals do not reconcile: a bug, never ignored
    ├── InsightError                      exception intelligence subsystem
    │   └── ModelFileError                (also ConfigurationError) a model file is refused
    ├── MigrationError                    shadow mode and parallel runs
    │   └── MigrationInputError           (also InvalidInputError) an export or window is unreadable
    └── NotifyError                       notify subsystem; .channel
        ├── ChannelUnavailableError       (also UnavailableError) a channel cannot deliver now
        ├── ChannelRejectedError          (also RemoteDataError) a channel refused the message
        └── EndpointNotAllowedError       (also ConfigurationError) a webhook target is refused

Messages name what was wrong (a field path, a header name, the kind of value) and never echo a
secret, a signature or an expected value.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CanonicalValidationError",
    "CarrierAuthError",
    "CarrierError",
    "CarrierRequestError",
    "CarrierResponseError",
    "CarrierUnavailableError",
    "ChannelRejectedError",
    "ChannelUnavailableError",
    "CircuitOpenError",
    "CompletionFailedError",
    "ConfigurationError",
    "CorruptRecordError",
    "CurrencyMismatchError",
    "DeadLetterNotFoundError",
    "DriverLoadError",
    "DriverNotFoundError",
    "DriverRegistryError",
    "DuplicateDriverError",
    "EndpointNotAllowedError",
    "EventLogUnavailableError",
    "FingerprintMismatchError",
    "FlowError",
    "IdempotencyError",
    "IncompatibleDriverError",
    "InsightError",
    "InvalidInputError",
    "InvoiceFileError",
    "KeyInProgressError",
    "MalformedHeaderError",
    "MigrationError",
    "MigrationInputError",
    "MissingDependencyError",
    "MissingHeaderError",
    "MissingIdempotencyKeyError",
    "ModelFileError",
    "NoCarrierAccountError",
    "NoMatchingSignatureError",
    "NotifyError",
    "OdooAccessError",
    "OdooAuthError",
    "OdooCompanyAccessError",
    "OdooCompanyMismatchError",
    "OdooError",
    "OdooMissingError",
    "OdooModuleMissingError",
    "OdooResponseError",
    "OdooUnavailableError",
    "OdooUserError",
    "OdooValidationError",
    "PayloadTooLargeError",
    "ReconciliationError",
    "RemoteDataError",
    "SettlementError",
    "ShipsyncError",
    "StaleTokenError",
    "StoreUnavailableError",
    "TenantConfigurationError",
    "TenantError",
    "TimestampOutsideToleranceError",
    "TimestampTooNewError",
    "TimestampTooOldError",
    "UnavailableError",
    "UnknownEventTypeError",
    "UnknownTenantError",
    "UnsupportedOperationError",
    "UnsupportedSchemaVersionError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookSecretError",
    "WebhookVerificationError",
]


class ShipsyncError(Exception):
    """Base class of every error shipsync raises.

    ``retryable`` tells whether the same call may succeed later unchanged; ``retry_after`` is the
    number of seconds the remote asked us to wait, when it said so.
    """

    retryable: bool = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


# --- the three kinds of failure ----------------------------------------------------------------


class InvalidInputError(ShipsyncError):
    """We were given something bad. ``path`` names the field (``"packages.0.weight.value"``)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class RemoteDataError(ShipsyncError):
    """A remote party (carrier, sender, server) sent something we cannot accept."""


class UnavailableError(ShipsyncError):
    """The remote or the store could not be reached or answered too slowly. Retry later."""

    retryable = True


# --- canonical model ---------------------------------------------------------------------------


class CanonicalValidationError(InvalidInputError):
    """A canonical value or model rejected its input.

    ``errors`` holds one ``(path, reason)`` pair per problem; ``path`` is the first one's.
    Input values are never echoed, so personal data and secrets stay out of logs.
    """

    def __init__(self, model: str, errors: Sequence[tuple[str, str]]) -> None:
        self.model = model
        self.errors: tuple[tuple[str, str], ...] = tuple(errors)
        shown = "; ".join(f"{path or '<root>'}: {reason}" for path, reason in self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        first = self.errors[0][0] if self.errors else None
        super().__init__(f"invalid {model}: {shown}{more}", path=first)


class CurrencyMismatchError(InvalidInputError):
    """Two amounts in different currencies were combined or compared."""

    def __init__(self, left: str, right: str, operation: str) -> None:
        self.left = left
        self.right = right
        self.operation = operation
        super().__init__(f"cannot {operation} {left} and {right}: currencies differ")


class UnknownEventTypeError(InvalidInputError):
    """An event envelope's ``type`` is not in the catalogue."""

    def __init__(self, event_type: str) -> None:
        self.event_type = event_type
        super().__init__(f"unknown event type {event_type[:100]!r}", path="type")


class UnsupportedSchemaVersionError(InvalidInputError):
    """An event carries a schema version that no registered upcaster reads."""

    def __init__(self, event_type: str, version: object) -> None:
        self.event_type = event_type
        self.version = version
        super().__init__(
            f"no upcaster reads schema version {str(version)[:20]!r} of {event_type!r}",
            path="schemaversion",
        )


class ConfigurationError(InvalidInputError):
    """A setting, secret or key has the wrong form. The value itself is never shown."""


class MissingDependencyError(ConfigurationError):
    """An optional dependency is missing; ``extra`` names the extra that installs it."""

    def __init__(self, feature: str, extra: str) -> None:
        self.feature = feature
        self.extra = extra
        super().__init__(f"{feature} needs the {extra!r} extra: pip install 'shipsync[{extra}]'")


class NoCarrierAccountError(ConfigurationError):
    """A company has no account of the carrier a booking needs, so nothing is booked for it
    (never with another company's account). ``company`` is the Odoo company id (``None``: the
    record names no company); ``carrier`` the driver name, or ``None`` for no account at all."""

    def __init__(self, company: int | None, carrier: str | None = None) -> None:
        self.company = company
        self.carrier = carrier
        whose = f"company {company}" if company is not None else "a record without a company"
        what = f"no {carrier!r} carrier account" if carrier else "no carrier account"
        super().__init__(f"{whose} has {what}", path=f"carriers[{company}]")


class InvoiceFileError(InvalidInputError):
    """A carrier invoice file cannot be read. ``line`` is 1-based, when known."""

    def __init__(self, message: str, *, line: int | None = None, path: str | None = None) -> None:
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{message}", path=path)


# --- tenants -----------------------------------------------------------------------------------


class TenantError(ShipsyncError):
    """Base of the tenants subsystem's errors. ``tenant`` is the tenant id concerned (shown
    shortened and quoted, since an unknown one comes from outside)."""

    def __init__(self, message: str, *, tenant: str) -> None:
        super().__init__(message)
        self.tenant = tenant


class UnknownTenantError(TenantError, InvalidInputError):
    """No tenant has that id, or the id is not of a tenant id's form. A receiver answers 404.

    ``path`` names where the id came from (``"path"``, a header name, ``"tenant"``).
    """

    def __init__(
        self, tenant: str, *, path: str = "tenant", reason: str = "no tenant has that id"
    ) -> None:
        shown = tenant[:64] if isinstance(tenant, str) else type(tenant).__name__
        TenantError.__init__(self, f"unknown tenant {shown!r} ({path}): {reason}", tenant=shown)
        self.path = path
        self.reason = reason


class TenantConfigurationError(TenantError, ConfigurationError):
    """A tenant's configuration lacks a setting or holds one of the wrong form.

    ``path`` names the setting (``"webhooks.fake.secrets"``, ``"carriers.ups"``,
    ``"odoo.api_key"``); the value itself is never shown.
    """

    def __init__(self, tenant: str, path: str, reason: str) -> None:
        TenantError.__init__(self, f"tenant {tenant!r}: {path}: {reason}", tenant=tenant)
        self.path = path
        self.reason = reason


# --- webhooks ----------------------------------------------------------------------------------


class WebhookError(ShipsyncError):
    """Base of the webhooks subsystem's errors."""


class WebhookVerificationError(WebhookError, RemoteDataError):
    """The delivery is not authentic. A receiver answers 4xx; the sender should not retry."""


class MissingHeaderError(WebhookVerificationError):
    """A header the scheme needs is absent."""

    def __init__(self, header: str) -> None:
        self.header = header
        super().__init__(f"missing header {header!r}")


class MalformedHeaderError(WebhookVerificationError):
    """A header is present but not of the scheme's form. ``reason`` says what is wrong."""

    def __init__(self, header: str, reason: str) -> None:
        self.header = header
        self.reason = reason
        super().__init__(f"malformed header {header!r}: {reason}")


class TimestampOutsideToleranceError(WebhookVerificationError):
    """The signed timestamp is outside the tolerance window."""

    def __init__(self, message: str, *, tolerance: float) -> None:
        self.tolerance = tolerance
        super().__init__(message)


class TimestampTooOldError(TimestampOutsideToleranceError):
    """The signed timestamp is older than the tolerance allows (possible replay)."""


class TimestampTooNewError(TimestampOutsideToleranceError):
    """The signed timestamp is further in the future than the tolerance allows."""


class NoMatchingSignatureError(WebhookVerificationError):
    """No signature in the header matches any active secret or key."""


class WebhookSecretError(WebhookError, ConfigurationError):
    """A webhook secret or key is malformed (wrong prefix, bad base64, wrong length)."""


class PayloadTooLargeError(WebhookError, RemoteDataError):
    """The body exceeds the configured size limit."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"body of {size} bytes exceeds the limit of {limit} bytes")


class WebhookPayloadError(WebhookError, RemoteDataError):
    """The body is authentic but cannot be parsed into canonical events."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


# --- idempotency -------------------------------------------------------------------------------


class IdempotencyError(ShipsyncError):
    """Base of the idempotency subsystem's errors."""


class FingerprintMismatchError(IdempotencyError, InvalidInputError):
    """The key was used before with a different payload fingerprint."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"key {key[:200]!r} was used with a different payload", path=None)


class StaleTokenError(IdempotencyError):
    """The fencing token no longer holds the key (its lease expired or it was released).

    For a batch, ``key`` is the first stale key and ``keys`` lists all of them.
    """

    def __init__(self, key: str, *, keys: Sequence[str] = ()) -> None:
        self.key = key
        self.keys: tuple[str, ...] = tuple(keys) or (key,)
        super().__init__(f"fencing token for key {key[:200]!r} is stale: the lease was lost")


class CorruptRecordError(IdempotencyError):
    """A stored record or result cannot be decoded."""


class StoreUnavailableError(IdempotencyError, UnavailableError):
    """The store cannot be reached. Claims fail closed: nothing ran."""


class CompletionFailedError(IdempotencyError):
    """The side effect ran but recording its completion failed.

    ``retryable`` says what the caller should do. A store's ``complete`` raises it with
    ``retryable=True`` when the store cannot be reached: retry that completion with the same token
    (completing twice with one token is a no-op). The ``idempotent`` guard raises it with
    ``retryable=False``: calling the guarded function again could run the side effect twice, so
    reconcile instead.
    """

    retryable = False

    def __init__(self, key: str, cause: str, *, retryable: bool = False) -> None:
        self.key = key
        self.retryable = retryable
        super().__init__(f"side effect for key {key[:200]!r} ran but completion failed: {cause}")


class MissingIdempotencyKeyError(IdempotencyError, InvalidInputError):
    """No idempotency key could be derived and the policy is to fail closed."""


class KeyInProgressError(IdempotencyError):
    """Another holder's lease on the key has not expired; retry later (``retry_after``)."""

    retryable = True

    def __init__(self, key: str, *, retry_after: float | None = None) -> None:
        self.key = key
        super().__init__(f"key {key[:200]!r} is in progress elsewhere", retry_after=retry_after)


# --- carriers ----------------------------------------------------------------------------------


class CarrierError(ShipsyncError):
    """Base of the carrier subsystem's errors, with what a caller needs to act on them."""

    def __init__(
        self,
        message: str,
        *,
        carrier: str | None = None,
        operation: str | None = None,
        code: str | None = None,
        carrier_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.carrier = carrier
        self.operation = operation
        self.code = code
        self.carrier_message = carrier_message
        where = ".".join(p for p in (carrier, operation) if p)
        prefix = f"{where}: " if where else ""
        ShipsyncError.__init__(self, f"{prefix}{message}", retry_after=retry_after)


class CarrierRequestError(CarrierError, InvalidInputError):
    """The carrier refused our request as invalid (a 4xx other than 401/403/408/429)."""

    path: str | None = None


class CarrierAuthError(CarrierError):
    """The carrier refused our credentials."""


class CarrierResponseError(CarrierError, RemoteDataError):
    """The carrier answered something we cannot parse or that breaks its own contract."""


class CarrierUnavailableError(CarrierError, UnavailableError):
    """The carrier is unreachable, slow, rate limiting us or failing (429, 5xx, network)."""

    retryable = True


class CircuitOpenError(CarrierUnavailableError):
    """The carrier's circuit breaker is open; no request was sent."""


class UnsupportedOperationError(CarrierError):
    """The driver does not declare the capability that was asked for."""


class DriverRegistryError(CarrierError):
    """Discovering or loading carrier drivers failed. ``package`` names the distribution."""

    def __init__(self, message: str, *, package: str | None = None, carrier: str | None = None):
        self.package = package
        super().__init__(message, carrier=carrier)


class DriverNotFoundError(DriverRegistryError):
    """No installed driver has that name."""


class DuplicateDriverError(DriverRegistryError):
    """Two installed drivers claim the same name."""


class IncompatibleDriverError(DriverRegistryError):
    """A driver was written for a driver API version this shipsync does not speak."""


class DriverLoadError(DriverRegistryError):
    """A driver plugin failed to import or raised while loading."""


# --- odoo --------------------------------------------------------------------------------------


class OdooError(ShipsyncError):
    """Base of the Odoo subsystem's errors; ``odoo_message`` is Odoo's own text, if any."""

    def __init__(self, message: str, *, odoo_message: str | None = None) -> None:
        self.odoo_message = odoo_message
        super().__init__(message)


class OdooAuthError(OdooError):
    """Odoo refused the database, login, password or API key."""


class OdooAccessError(OdooError):
    """Odoo raised AccessError: the user may not do that."""


class OdooCompanyAccessError(OdooAccessError):
    """A company the Odoo user may not work in, or a record outside the operation's company.

    ``company`` names the company asked for or the one the record belongs to (name or id, as
    known), ``record`` the record (``"stock.picking 12"``), either ``None`` when not known.
    """

    def __init__(
        self,
        message: str,
        *,
        company: str | None = None,
        record: str | None = None,
        odoo_message: str | None = None,
    ) -> None:
        super().__init__(message, odoo_message=odoo_message)
        self.company = company
        self.record = record


class OdooValidationError(OdooError):
    """Odoo raised ValidationError: a constraint rejected the values."""


class OdooMissingError(OdooError):
    """Odoo raised MissingError: a record does not exist (any more)."""


class OdooUserError(OdooError):
    """Odoo raised UserError: a business rule refused the operation."""


class OdooModuleMissingError(OdooError):
    """A module shipsync needs is not installed on the server."""

    def __init__(self, module: str) -> None:
        self.module = module
        super().__init__(f"the Odoo module {module!r} is not installed")


class OdooCompanyMismatchError(OdooError):
    """One document (a vendor bill) would cover records of several companies; ``companies``
    holds their ids. Nothing is written: give the company, or split the document."""

    def __init__(self, message: str, *, companies: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.companies = companies


class OdooResponseError(OdooError, RemoteDataError):
    """Odoo answered something we cannot read."""


class OdooUnavailableError(OdooError, UnavailableError):
    """The Odoo server cannot be reached or timed out."""


# --- flows -------------------------------------------------------------------------------------


class FlowError(ShipsyncError):
    """Base of the flows subsystem's errors."""


class EventLogUnavailableError(FlowError, UnavailableError):
    """The event log backend cannot be reached; nothing was published or acknowledged."""


class DeadLetterNotFoundError(FlowError):
    """No dead letter has that id."""


# --- settlement --------------------------------------------------------------------------------


class SettlementError(ShipsyncError):
    """Base of the settlement subsystem's errors."""


class ReconciliationError(SettlementError):
    """Totals do not reconcile. This is a bug in shipsync, never a condition to ignore."""


# --- insight --------------------------------------------------------------------------------------


class InsightError(ShipsyncError):
    """Base of the exception-intelligence errors."""


class ModelFileError(InsightError, ConfigurationError):
    """A model file is refused: another format or version, edited content, missing parts."""


# --- migration ------------------------------------------------------------------------------------


class MigrationError(ShipsyncError):
    """Base of the shadow-mode and parallel-run errors."""


class MigrationInputError(MigrationError, InvalidInputError):
    """A legacy export, a column mapping or a comparison window cannot be read as given."""


# --- notify ------------------------------------------------------------------------------------


class NotifyError(ShipsyncError):
    """Base of the notify subsystem's errors; ``channel`` names the channel, when one is known."""

    def __init__(
        self, message: str, *, channel: str | None = None, retry_after: float | None = None
    ) -> None:
        self.channel = channel
        super().__init__(message)
        self.retry_after = retry_after


class ChannelUnavailableError(NotifyError, UnavailableError):
    """A channel could not deliver now (a 5xx, a timeout, a refused connection); retry later."""


class ChannelRejectedError(NotifyError, RemoteDataError):
    """A channel refused the message for good (an SMTP 5xx, say); sending it again will not help."""


class EndpointNotAllowedError(NotifyError, ConfigurationError):
    """A webhook target resolves to an address that is not allowed (private, loopback, ...)."""
