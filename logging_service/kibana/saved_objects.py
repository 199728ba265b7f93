"""Reading the shipped saved objects and fitting them to this deployment's index naming.

Objects stay in Kibana's own JSON shape: only the data view's title is rewritten, so the file can be
replaced by a fresh Kibana export at any time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAVED_OBJECTS_FILE = Path(__file__).with_name("saved_objects.ndjson")
# Stable, so re-importing overwrites the same objects instead of adding copies.
DATA_VIEW_ID = "comms-logs"
DATA_VIEW_TYPE = "index-pattern"
DASHBOARD_ID = "comms-dashboard-overview"


class SavedObjectsFileError(ValueError):
    """The NDJSON file is not one JSON object with a type and an id per line."""


@dataclass(frozen=True)
class Reference:
    name: str
    type: str
    id: str


@dataclass(frozen=True)
class SavedObject:
    """One line of the NDJSON; `document` is Kibana's shape, passed through as it is."""

    document: Mapping[str, Any]

    @property
    def type(self) -> str:
        return str(self.document["type"])

    @property
    def id(self) -> str:
        return str(self.document["id"])

    @property
    def attributes(self) -> Mapping[str, Any]:
        attributes: Mapping[str, Any] = self.document.get("attributes", {})
        return attributes

    @property
    def references(self) -> tuple[Reference, ...]:
        return tuple(
            Reference(name=ref["name"], type=ref["type"], id=ref["id"]) for ref in self.document.get("references", [])
        )

    def with_attributes(self, **changes: Any) -> SavedObject:
        return SavedObject({**self.document, "attributes": {**self.attributes, **changes}})

    def to_json(self) -> str:
        return json.dumps(self.document, ensure_ascii=False)


def read_saved_objects(path: Path = SAVED_OBJECTS_FILE) -> list[SavedObject]:
    objects: list[SavedObject] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as error:
            raise SavedObjectsFileError(f"{path.name} line {number}: not JSON ({error})") from error
        if isinstance(document, dict) and "exportedCount" in document:
            continue  # the summary line a Kibana export ends with
        if not isinstance(document, dict) or not {"type", "id"} <= document.keys():
            raise SavedObjectsFileError(f"{path.name} line {number}: not a saved object (needs type and id)")
        objects.append(SavedObject(document))
    return objects


def with_data_view_pattern(objects: Iterable[SavedObject], *, pattern: str) -> list[SavedObject]:
    """The objects with the data view on `pattern` (e.g. `staging-comms-logs-*`); its id stays the same,
    so every search and visualization keeps pointing at it."""
    return [
        obj.with_attributes(title=pattern) if obj.type == DATA_VIEW_TYPE and obj.id == DATA_VIEW_ID else obj
        for obj in objects
    ]


def to_ndjson(objects: Iterable[SavedObject]) -> bytes:
    return "".join(f"{obj.to_json()}\n" for obj in objects).encode("utf-8")


def saved_objects_ndjson(*, pattern: str) -> bytes:
    """The shipped saved objects, ready to import for indices matching `pattern`."""
    return to_ndjson(with_data_view_pattern(read_saved_objects(), pattern=pattern))
