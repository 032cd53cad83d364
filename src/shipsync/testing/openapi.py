"""Check the requests a driver builds against the carrier's published OpenAPI document.

A carrier's OpenAPI document says which operations exist, which headers, path and query
parameters they take and what their JSON body must look like. This module loads such a document
(the carrier's own YAML or JSON file, or a schema *extract* of it), applies a short list of
:class:`Correction` values for the document's known defects, each with its reason, and checks a
:class:`~shipsync.carriers.CarrierRequest` against the operation it addresses::

    from shipsync.testing.openapi import Correction, OpenAPISpec

    spec = OpenAPISpec.load(
        "tests/spec/rating.json",
        corrections=[
            Correction.set(
                "/components/schemas/RateRequest_Request/properties/RequestOption",
                {"type": "string"},
                reason="Request requires RequestOption but does not declare it",
            )
        ],
    )
    assert spec.check(request) == []          # or spec.assert_valid(request)

The check is strict: a body field the schema does not declare is refused (every object schema
that lists ``properties`` is closed with ``unevaluatedProperties: false`` unless the document
says otherwise), as are a wrong type, a value outside an enumeration, a missing required field or
header, an undeclared query parameter, a path that matches no operation and a body of a content
type the operation does not take. Corrections are explicit JSON-pointer edits; a correction whose
target does not exist fails loudly, so a fixed upstream defect shows up instead of hiding a check.

Extracts (:func:`extract`) keep only what checking needs (paths, parameters, request bodies and
the schemas they reach: names, types, enumerations, lengths, required lists) and drop
descriptions and examples, so a project may carry the carrier's structure without its prose; the
source (repository, file, commit) is recorded under ``x-source``.

The driver conformance kit (:mod:`shipsync.testing.carriers`) takes these specs through its
``specs`` argument and checks every request a driver sends during the kit's run. Needs
``jsonschema`` and, for YAML files, ``pyyaml`` (the ``testing`` extra installs both).
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import attrs

from shipsync.carriers import CarrierRequest

__all__ = [
    "Correction",
    "OpenAPISpec",
    "SpecViolation",
    "check_request",
    "extract",
    "load_document",
]

_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
#: Keywords an extract keeps; everything else (descriptions, examples, titles) is dropped.
_STRUCTURAL = frozenset(
    {
        "type",
        "properties",
        "items",
        "required",
        "enum",
        "const",
        "$ref",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "additionalProperties",
        "nullable",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "uniqueItems",
        "format",
        "default",
    }
)
_MISSING = object()
_DROPPED = frozenset(
    {"example", "examples", "description", "title", "xml", "externalDocs", "nullable"}
)


class SpecViolation(AssertionError):
    """A request does not satisfy the OpenAPI document (raised by ``assert_valid``)."""


@attrs.frozen
class Correction:
    """One documented fix to a carrier's OpenAPI document, applied when it is loaded.

    ``kind`` is ``"set"`` (put ``value`` at the JSON pointer ``target``; its parent must exist),
    ``"remove"`` (delete the value at ``target``; it must exist) or ``"text"`` (replace every
    ``target`` substring of the raw file by ``value`` before parsing, for defects that make the
    file unreadable; it must occur). ``reason`` says why; it is required.
    """

    kind: Literal["set", "remove", "text"]
    target: str
    reason: str
    value: Any = None

    def __attrs_post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("a correction needs a reason")
        if self.kind not in ("set", "remove", "text"):
            raise ValueError(f"unknown correction kind {self.kind!r}")
        if self.kind != "text" and not self.target.startswith("/"):
            raise ValueError(f"{self.target!r} is not a JSON pointer")

    @classmethod
    def set(cls, pointer: str, value: Any, *, reason: str) -> Correction:
        """Put ``value`` at ``pointer``."""
        return cls("set", pointer, reason, value)

    @classmethod
    def remove(cls, pointer: str, *, reason: str) -> Correction:
        """Delete the value at ``pointer``."""
        return cls("remove", pointer, reason)

    @classmethod
    def text(cls, old: str, new: str, *, reason: str) -> Correction:
        """Replace ``old`` by ``new`` in the raw file before it is parsed."""
        return cls("text", old, reason, new)

    def apply(self, document: dict[str, Any]) -> None:
        """Apply a ``set`` or ``remove`` to a parsed document, in place."""
        parts = _pointer(self.target)
        parent: Any = document
        for part in parts[:-1]:
            parent = _step(parent, part, self.target)
        last = parts[-1]
        if self.kind == "set":
            if isinstance(parent, list):
                parent[int(last)] = copy.deepcopy(self.value)
            elif isinstance(parent, dict):
                parent[last] = copy.deepcopy(self.value)
            else:
                raise ValueError(f"correction target {self.target!r} has no container parent")
        elif self.kind == "remove":
            _step(parent, last, self.target)  # must exist
            if isinstance(parent, list):
                del parent[int(last)]
            else:
                del parent[last]


def _pointer(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def _step(value: Any, part: str, pointer: str) -> Any:
    try:
        if isinstance(value, list):
            return value[int(part)]
        return value[part]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ValueError(f"correction target {pointer!r} does not exist") from None


def load_document(path: str | Path, corrections: Iterable[Correction] = ()) -> dict[str, Any]:
    """Read an OpenAPI document (``.json``, else YAML) and apply ``corrections`` to it."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    fixes = list(corrections)
    for fix in fixes:
        if fix.kind == "text":
            if fix.target not in text:
                raise ValueError(f"text correction {fix.target!r} does not occur in {file}")
            text = text.replace(fix.target, str(fix.value))
    if file.suffix == ".json":
        document = json.loads(text)
    else:
        yaml: Any = importlib.import_module("yaml")
        document = yaml.safe_load(text)
    if not isinstance(document, dict) or "paths" not in document:
        raise ValueError(f"{file} is not an OpenAPI document (no paths)")
    for fix in fixes:
        if fix.kind != "text":
            fix.apply(document)
    return document


# -- OpenAPI 3.0 schema -> JSON Schema 2020-12 ----------------------------------------------------


def _convert(schema: Any, *, strict: bool) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema 2020-12, closed when ``strict``."""
    if isinstance(schema, list):
        return [_convert(item, strict=strict) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "$defs"):
            out[key] = {k: _convert(v, strict=strict) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = _convert(value, strict=strict)
        elif key in _DROPPED or (
            key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool)
        ):
            continue  # prose, or OpenAPI 3.0 forms rewritten below
        else:
            out[key] = value
    if schema.get("nullable") is True and "type" in out:
        kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*kinds, "null"]
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if schema.get(flag) is True and bound in out:
            out[flag] = out.pop(bound)
    composed = any(k in schema for k in ("allOf", "anyOf", "oneOf"))
    if strict and "additionalProperties" not in schema and ("properties" in schema or composed):
        if composed:
            # The parts of a composition are open; the whole is closed once, here.
            for key in ("allOf", "anyOf", "oneOf"):
                if key in out:
                    out[key] = [_opened(part) for part in out[key]]
        out["unevaluatedProperties"] = False
    return out


def _opened(schema: Any) -> Any:
    if isinstance(schema, dict) and schema.get("unevaluatedProperties") is False:
        return {k: v for k, v in schema.items() if k != "unevaluatedProperties"}
    return schema


def _resolve(document: Mapping[str, Any], value: Any) -> Any:
    """Follow a local ``$ref`` (parameters and request bodies may be references)."""
    seen = 0
    while isinstance(value, dict) and "$ref" in value and seen < 20:
        ref = str(value["$ref"])
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported, not {ref!r}")
        target: Any = document
        for part in _pointer(ref[1:]):
            target = target[part]
        value = target
        seen += 1
    return value


@attrs.frozen
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    data: Mapping[str, Any]


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    regex = "".join(
        f"(?P<p{index}>[^/]+)" if part.startswith("{") else re.escape(part)
        for index, part in enumerate(parts)
    )
    return re.compile(regex)


def _template_names(template: str) -> dict[str, str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    return {f"p{i}": part[1:-1] for i, part in enumerate(parts) if part.startswith("{")}


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    if kind in ("integer", "number", "boolean"):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


class OpenAPISpec:
    """One OpenAPI 3 document, corrected, ready to check requests.

    ``prefix`` is the part of the request path the document's paths leave out (UPS's base URL
    ends in ``/api`` and its paths start after it: the driver's ``CarrierRequest.path`` is
    relative to that base, so the default empty prefix fits). ``strict`` closes every object
    schema; leave it on. ``ignore_headers`` are headers the transport adds (authorization,
    content type, idempotency key) and are never reported as undeclared.
    """

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        name: str = "",
        prefix: str = "",
        strict: bool = True,
    ) -> None:
        self.document = dict(document)
        self.name = name or str(document.get("info", {}).get("title", "openapi"))
        self.prefix = prefix.rstrip("/")
        self.strict = strict
        components = self.document.get("components", {}) or {}
        self._components = {
            "components": {
                "schemas": {
                    key: _convert(value, strict=strict)
                    for key, value in (components.get("schemas") or {}).items()
                }
            }
        }
        self.operations: list[_Operation] = []
        for template, item in (self.document.get("paths") or {}).items():
            shared = list(item.get("parameters") or ())
            for method in _HTTP_METHODS:
                if method in item:
                    data = dict(item[method])
                    data["parameters"] = shared + list(data.get("parameters") or ())
                    self.operations.append(
                        _Operation(method.upper(), template, _template_pattern(template), data)
                    )

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        corrections: Iterable[Correction] = (),
        name: str = "",
        prefix: str = "",
        strict: bool = True,
    ) -> OpenAPISpec:
        """Read the document at ``path`` (JSON or YAML) and apply ``corrections``."""
        document = load_document(path, corrections)
        return cls(document, name=name or Path(path).stem, prefix=prefix, strict=strict)

    def __repr__(self) -> str:
        return f"<OpenAPISpec {self.name!r}: {len(self.operations)} operations>"

    def matches(self, request: CarrierRequest) -> bool:
        """Whether some operation of this document has the request's method and path."""
        return bool(self._candidates(request))

    def _path(self, request: CarrierRequest) -> str:
        path = urlsplit(request.path).path if "://" in request.path else request.path
        path = path.split("?", 1)[0]
        if self.prefix and path.startswith(self.prefix):
            path = path[len(self.prefix) :]
        return path

    def _candidates(self, request: CarrierRequest) -> list[tuple[_Operation, dict[str, str]]]:
        path = self._path(request)
        found = []
        for operation in self.operations:
            if operation.method != request.method.upper():
                continue
            match = operation.pattern.fullmatch(path)
            if match is None:
                continue
            names = _template_names(operation.template)
            found.append((operation, {names[k]: unquote(v) for k, v in match.groupdict().items()}))
        return found

    def check(self, request: CarrierRequest) -> list[str]:
        """Every way ``request`` breaks the document (empty: it conforms).

        When several operations match the path (a current and a deprecated version), the
        request conforms if it satisfies one of them; otherwise the problems of the closest
        are reported.
        """
        candidates = self._candidates(request)
        label = f"{request.method.upper()} {self._path(request)}"
        if not candidates:
            return [f"{label}: no operation of {self.name} has this method and path"]
        best: list[str] | None = None
        for operation, path_values in candidates:
            problems = [
                f"{label} ({operation.data.get('operationId', operation.template)}): {p}"
                for p in self._check_operation(operation, path_values, request)
            ]
            if not problems:
                return []
            if best is None or len(problems) < len(best):
                best = problems
        return best or []

    def assert_valid(self, request: CarrierRequest) -> None:
        """Raise :class:`SpecViolation` listing every problem :meth:`check` finds."""
        problems = self.check(request)
        if problems:
            raise SpecViolation("\n".join(problems))

    # -- the checks ---------------------------------------------------------------------------

    def _validate(self, schema: Any, value: Any) -> list[str]:
        jsonschema: Any = importlib.import_module("jsonschema")
        root = {**self._components, **_convert(_resolve(self.document, schema), strict=self.strict)}
        validator = jsonschema.Draft202012Validator(root)
        problems = []
        for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            problems.append(f"{where}: {error.message[:300]}")
            # oneOf/anyOf: say why each alternative failed, deepest first.
            context = sorted(error.context or (), key=lambda e: -len(e.absolute_path))
            for sub in context[:3]:
                inner = "/".join(str(p) for p in sub.absolute_path) or "(root)"
                problems.append(f"  {inner}: {sub.message[:300]}")
        return problems

    def _check_operation(
        self, operation: _Operation, path_values: Mapping[str, str], request: CarrierRequest
    ) -> list[str]:
        problems: list[str] = []
        declared_query: set[str] = set()
        query = dict(request.params)
        if "?" in request.path:
            for pair in request.path.split("?", 1)[1].split("&"):
                key, _, text = pair.partition("=")
                query[unquote(key)] = unquote(text)
        for raw in operation.data.get("parameters") or ():
            parameter = _resolve(self.document, raw)
            if not isinstance(parameter, Mapping) or "name" not in parameter:
                problems.append(f"the document declares an unusable parameter {raw!r}")
                continue
            name, where = str(parameter["name"]), parameter.get("in")
            schema = _resolve(self.document, parameter.get("schema") or {})
            value: Any = _MISSING
            if where == "header":
                value = request.header(name)
                value = _MISSING if value is None else value
            elif where == "query":
                declared_query.add(name)
                value = query.get(name, _MISSING)
            elif where == "path":
                if name not in path_values:
                    problems.append(f"path parameter {name!r} is not in the path template")
                    continue
                value = path_values[name]
            else:
                continue
            if value is _MISSING:
                if parameter.get("required") is True:
                    problems.append(f"required {where} parameter {name!r} is missing")
                continue
            for problem in self._validate(schema, _coerce(str(value), schema)):
                problems.append(f"{where} parameter {name!r}: {problem}")
        problems += [
            f"query parameter {name!r} is not declared"
            for name in query
            if name not in declared_query
        ]
        problems += self._check_body(operation, request)
        return problems

    def _check_body(self, operation: _Operation, request: CarrierRequest) -> list[str]:
        body = _resolve(self.document, operation.data.get("requestBody") or {})
        content = body.get("content") or {}
        if not request.content:
            if body.get("required") is True:
                return ["the request body is required but empty"]
            return []
        if not content:
            return ["the operation takes no request body but one was sent"]
        media = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
        if media not in {str(k).lower() for k in content}:
            return [f"content type {media or '(none)'!r} is not one of {sorted(content)}"]
        entry = next(v for k, v in content.items() if str(k).lower() == media)
        schema = (entry or {}).get("schema")
        if schema is None:
            return []
        if media == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qsl

            payload: Any = dict(parse_qsl(request.content.decode("utf-8", "replace")))
        elif "json" in media:
            try:
                payload = json.loads(request.content)
            except ValueError:
                return ["the request body is not valid JSON"]
        else:
            return []
        return [f"body {p}" for p in self._validate(schema, payload)]


def check_request(request: CarrierRequest, specs: Sequence[OpenAPISpec]) -> list[str]:
    """Check ``request`` against the first of ``specs`` that has its method and path."""
    for spec in specs:
        if spec.matches(request):
            return spec.check(request)
    names = ", ".join(spec.name for spec in specs) or "no document"
    path = request.path.split("?", 1)[0]
    return [f"{request.method.upper()} {path}: no operation in {names} has this method and path"]


# -- extracts -------------------------------------------------------------------------------------


def _strip(value: Any) -> Any:
    if isinstance(value, list):
        return [_strip(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "properties":
            out[key] = {k: _strip(v) for k, v in item.items()}
        elif key in _STRUCTURAL:
            out[key] = _strip(item)
    return out


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def extract(
    document: Mapping[str, Any],
    *,
    operations: Iterable[tuple[str, str]] | None = None,
    source: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The structure of ``document`` needed to check requests, without prose or examples.

    ``operations`` are ``(METHOD, path template)`` pairs to keep (all when ``None``). Parameters
    keep ``name``, ``in``, ``required`` and their schema; request bodies keep their content types
    and schemas; only the component schemas they reach are kept. ``source`` (repository, file,
    commit, corrections applied) is stored under ``x-source``.
    """
    wanted = None if operations is None else {(m.upper(), p) for m, p in operations}
    paths: dict[str, Any] = {}
    for template, item in (document.get("paths") or {}).items():
        for method in _HTTP_METHODS:
            if method not in item or (
                wanted is not None and (method.upper(), template) not in wanted
            ):
                continue
            data = item[method]
            parameters = []
            for raw in list(item.get("parameters") or ()) + list(data.get("parameters") or ()):
                parameter = _resolve(document, raw)
                kept = {k: parameter[k] for k in ("name", "in", "required") if k in parameter}
                kept["schema"] = _strip(_resolve(document, parameter.get("schema") or {}))
                parameters.append(kept)
            entry: dict[str, Any] = {"parameters": parameters}
            if "operationId" in data:
                entry["operationId"] = data["operationId"]
            body = _resolve(document, data.get("requestBody") or {})
            if body:
                entry["requestBody"] = {
                    "required": bool(body.get("required", False)),
                    "content": {
                        media: {"schema": _strip((spec or {}).get("schema") or {})}
                        for media, spec in (body.get("content") or {}).items()
                    },
                }
            paths.setdefault(template, {})[method] = entry
    schemas = (document.get("components") or {}).get("schemas") or {}
    kept_schemas: dict[str, Any] = {}
    pending = list(_refs(paths))
    while pending:
        ref = pending.pop()
        prefix = "#/components/schemas/"
        if not ref.startswith(prefix):
            continue
        key = ref[len(prefix) :]
        if key in kept_schemas or key not in schemas:
            continue
        kept_schemas[key] = _strip(schemas[key])
        pending.extend(_refs(kept_schemas[key]))
    info = document.get("info") or {}
    return {
        "openapi": document.get("openapi", "3.0.3"),
        "info": {"title": info.get("title", ""), "version": info.get("version", "")},
        "x-source": dict(source or {}),
        "servers": [{"url": s.get("url")} for s in document.get("servers") or ()],
        "paths": paths,
        "components": {"schemas": dict(sorted(kept_schemas.items()))},
    }
