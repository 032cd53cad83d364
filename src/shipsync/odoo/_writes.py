"""Writing to Odoo in few requests, each write safe to repeat.

Every fact is recorded as a chatter note carrying a stable Message-Id, and
``mail.message.message_id`` is indexed, so one ``search_read`` with an ``in`` domain tells which
facts are already in Odoo (:meth:`Writer.existing`). Notes are created with ``mail.message``
``create`` on a list of dicts (one request for up to :data:`~shipsync.odoo.CREATE_CHUNK`; no
notification is sent whatever the subtype; bodies are escaped by the renderers), with the Note
subtype so they stay internal. A value equal for many records is one ``write``; different values
are one ``load`` with ``.id``. Attachments go at most :data:`ATTACH_BYTES` of base64 a request.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from shipsync.errors import OdooUserError, OdooValidationError
from shipsync.odoo._answers import created_ids, mapping, rows
from shipsync.odoo._batch import CREATE_CHUNK, IN_CHUNK, chunked
from shipsync.odoo._facts import ServerFacts
from shipsync.odoo._gateway import OdooGateway
from shipsync.odoo._mapping import OdooFieldMap

__all__ = ["ATTACH_BYTES", "Writer"]

ATTACH_BYTES = 32 * 1024 * 1024
"""Base64 bytes of attachments per ``create`` request (Odoo refuses bodies over 128 MiB)."""


class Writer:
    """The idempotent writes the operations are made of."""

    def __init__(self, gateway: OdooGateway, fields: OdooFieldMap, facts: ServerFacts) -> None:
        self._gw = gateway
        self._fields = fields
        self._facts = facts

    def existing(self, message_ids: Sequence[str]) -> set[str]:
        """Which of ``message_ids`` are already posted in Odoo."""
        found: set[str] = set()
        for chunk in chunked(list(message_ids), IN_CHUNK):
            answer = self._gw.call(
                "mail.message",
                "search_read",
                [[["message_id", "in", list(chunk)]]],
                {"fields": ["message_id"]},
            )
            found.update(
                str(row.get("message_id")) for row in rows(answer, "mail.message.search_read")
            )
        return found

    def note(
        self, res_id: int, body: str, message_id: str, attachment_ids: Sequence[int] = ()
    ) -> dict[str, Any]:
        """The ``mail.message`` values of one internal note on a picking."""
        values: dict[str, Any] = {
            "model": self._fields.picking_model,
            "res_id": res_id,
            "message_type": "comment",
            "subtype_id": self._facts.subtype(),
            "author_id": self._facts.author(),
            "body": body,
            "message_id": message_id,
        }
        if attachment_ids:
            values["attachment_ids"] = [[6, 0, list(attachment_ids)]]
        return values

    def create_many(self, model: str, values: Sequence[Mapping[str, Any]]) -> list[int]:
        """Create records, :data:`~shipsync.odoo.CREATE_CHUNK` a request; their ids in order."""
        ids: list[int] = []
        for chunk in chunked(list(values), CREATE_CHUNK):
            created = self._gw.call(model, "create", [list(chunk)])
            ids.extend(created_ids(created, len(chunk), f"{model}.create"))
        return ids

    def write_per_record(self, model: str, field: str, values: Mapping[int, str]) -> None:
        """Equal values in one ``write`` each when few, else one ``load`` for all."""
        self.write_rows(model, {record_id: {field: value} for record_id, value in values.items()})

    def write_rows(self, model: str, rows: Mapping[int, Mapping[str, str | None]]) -> None:
        """One ``write`` when every record gets the same values, else one ``load`` for all.

        A None value empties the field. With ``load`` every record gets every column named by
        any record, so a record without a value for a column keeps the one it holds (read back
        by the caller) or is emptied: callers pass complete rows.
        """
        if not rows:
            return
        groups: dict[tuple[tuple[str, str | None], ...], list[int]] = {}
        for record_id, values in sorted(rows.items()):
            groups.setdefault(tuple(sorted(values.items())), []).append(record_id)
        if len(groups) == 1:
            [(same, ids)] = groups.items()
            self._gw.call(
                model, "write", [ids, {k: v if v is not None else False for k, v in same}]
            )
            return
        columns = sorted({name for row in rows.values() for name in row})
        table = [
            [str(record_id), *(row.get(name) or "" for name in columns)]
            for record_id, row in sorted(rows.items())
        ]
        result = mapping(self._gw.call(model, "load", [[".id", *columns], table]), f"{model}.load")
        messages = result.get("messages")
        messages = messages if isinstance(messages, list) else []
        errors = [m for m in messages if not isinstance(m, dict) or m.get("type") == "error"]
        if not errors and not isinstance(result.get("ids"), list):
            errors = [{"message": "Odoo wrote nothing and gave no reason"}]
        if errors:
            raise OdooValidationError(
                f"Odoo refused to write {model}.{', '.join(columns)}",
                odoo_message="; ".join(
                    str(m.get("message") if isinstance(m, dict) else m) for m in errors
                )[:2000],
            )

    def validate(self, picking_ids: list[int]) -> tuple[list[int], dict[int, str]]:
        """Validate delivered pickings: all in one call, one by one only those Odoo left open.

        Returns the pickings that are done afterwards and Odoo's reason for each one refused
        (no quantity reserved, a wizard asking for confirmation, ...).
        """
        if not picking_ids:
            return [], {}
        model = self._fields.picking_model

        def validate(ids: list[int]) -> Any:
            context = {
                "skip_backorder": True,
                "picking_ids_not_to_backorder": ids,
                "skip_sms": True,
            }
            return self._gw.call(model, "button_validate", [ids], {"context": context})

        def done() -> list[int]:
            answer = self._gw.call(
                model,
                "search_read",
                [[["id", "in", picking_ids], ["state", "=", "done"]]],
                {"fields": ["state"]},
            )
            return sorted(int(row["id"]) for row in rows(answer, f"{model}.search_read"))

        with contextlib.suppress(OdooUserError, OdooValidationError):
            validate(picking_ids)
        # Odoo may validate part of a batch and skip the rest, or refuse the whole batch for one
        # picking: the rest are tried one by one, so each refusal comes with Odoo's own reason.
        finished = done()
        if len(finished) == len(picking_ids):
            return finished, {}
        refused: dict[int, str] = {}
        for picking_id in picking_ids:
            if picking_id in finished:
                continue
            try:
                validate([picking_id])
            except (OdooUserError, OdooValidationError) as exc:
                refused[picking_id] = exc.odoo_message or str(exc)
        finished = done()
        for picking_id in picking_ids:
            if picking_id not in finished and picking_id not in refused:
                refused[picking_id] = "Odoo did not validate it (it may ask for a confirmation)"
        return finished, refused

    def attach(self, picking_id: int, files: Sequence[tuple[str, bytes, str]]) -> list[int]:
        """Create the files as attachments of one picking; their ids in order."""
        return self.attach_many([(picking_id, *file) for file in files])

    def attach_many(self, files: Sequence[tuple[int, str, bytes, str]]) -> list[int]:
        """Create ``(picking, name, data, mimetype)`` attachments, ATTACH_BYTES a request."""
        ids: list[int] = []
        batch: list[dict[str, Any]] = []
        size = 0
        for picking_id, name, data, mimetype in files:
            encoded = base64.b64encode(data).decode("ascii")
            if batch and size + len(encoded) > ATTACH_BYTES:
                ids += self.create_many("ir.attachment", batch)
                batch, size = [], 0
            batch.append(
                {
                    "name": name,
                    "datas": encoded,
                    "mimetype": mimetype,
                    "res_model": self._fields.picking_model,
                    "res_id": picking_id,
                }
            )
            size += len(encoded)
        if batch:
            ids += self.create_many("ir.attachment", batch)
        return ids
