"""Kibana saved objects: the NDJSON matches the index template, and kibana_setup imports it.

A tiny in-process HTTP server stands in for Kibana (it cannot run here); it only records what the
command sends and answers like Kibana's import API.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from logging_service.documents import index_pattern, template_body
from logging_service.kibana.importer import KibanaEndpoint
from logging_service.kibana.saved_objects import (
    DASHBOARD_ID,
    DATA_VIEW_ID,
    SAVED_OBJECTS_FILE,
    SavedObject,
    SavedObjectsFileError,
    read_saved_objects,
    saved_objects_ndjson,
    with_data_view_pattern,
)
from messaging.lifecycle import STATUS_AFTER, Action, MessageStatus

INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
# A KQL clause `field:value` / `field : (a or b)`; values never contain a bare colon in our queries.
KQL_FIELD = re.compile(r"([@A-Za-z_][\w.@]*)\s*:")
AGGREGATABLE_TYPES = {"keyword", "long", "integer", "date", "double", "float", "boolean"}


# --- the index template's fields ------------------------------------------------------------------


def mapped_fields(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every field path in a mapping, objects walked, multi-fields (message.keyword) included."""
    fields: dict[str, dict[str, Any]] = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            fields.update(mapped_fields(spec["properties"], f"{path}."))
            continue
        fields[path] = spec
        for sub_name, sub_spec in spec.get("fields", {}).items():
            fields[f"{path}.{sub_name}"] = sub_spec
    return fields


@pytest.fixture(scope="module")
def template_fields() -> dict[str, dict[str, Any]]:
    return mapped_fields(template_body()["template"]["mappings"]["properties"])


@pytest.fixture(scope="module")
def objects() -> list[SavedObject]:
    return read_saved_objects()


def search_source(obj: SavedObject) -> dict[str, Any]:
    return json.loads(obj.attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])


def vis_aggs(obj: SavedObject) -> list[dict[str, Any]]:
    return json.loads(obj.attributes["visState"])["aggs"]


def referenced_fields(obj: SavedObject) -> set[str]:
    """Every field the object names: query, columns, sort, agg fields, data view time field and formats."""
    attributes = obj.attributes
    names: set[str] = set()
    if obj.type == "index-pattern":
        names.add(attributes["timeFieldName"])
        names.update(json.loads(attributes.get("fieldFormatMap", "{}")))
        names.update(json.loads(attributes.get("fieldAttrs", "{}")))
    if "kibanaSavedObjectMeta" in attributes:
        names.update(KQL_FIELD.findall(search_source(obj).get("query", {}).get("query", "")))
    names.update(attributes.get("columns", []))
    names.update(column for column, _direction in attributes.get("sort", []))
    if "visState" in attributes:
        names.update(agg["params"]["field"] for agg in vis_aggs(obj) if "field" in agg["params"])
    return names


# --- the NDJSON file ------------------------------------------------------------------------------


def test_ndjson_parses_line_by_line_into_saved_objects():
    lines = [line for line in SAVED_OBJECTS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    documents = [json.loads(line) for line in lines]

    assert all({"type", "id", "attributes", "references"} <= document.keys() for document in documents)
    kinds = [document["type"] for document in documents]
    assert kinds.count("index-pattern") == 1
    assert kinds.count("search") == 4
    assert kinds.count("visualization") == 4
    assert kinds.count("dashboard") == 1
    assert len({(document["type"], document["id"]) for document in documents}) == len(documents)


def test_a_fresh_kibana_export_can_replace_the_file(tmp_path):
    exported = tmp_path / "export.ndjson"
    exported.write_text(
        SAVED_OBJECTS_FILE.read_text(encoding="utf-8")
        + '{"excludedObjects":[],"exportedCount":9,"missingRefCount":0}\n'
    )

    assert [obj.id for obj in read_saved_objects(exported)] == [obj.id for obj in read_saved_objects()]


def test_a_line_that_is_not_a_saved_object_is_named(tmp_path):
    broken = tmp_path / "broken.ndjson"
    broken.write_text('{"type": "search", "id": "a"}\n{"type": "search"\n')

    with pytest.raises(SavedObjectsFileError, match="line 2"):
        read_saved_objects(broken)


@override_settings(LOG_INDEX_PREFIX="comms-logs")
def test_shipped_data_view_matches_the_default_index_naming(objects):
    (data_view,) = [obj for obj in objects if obj.type == "index-pattern"]

    assert data_view.id == DATA_VIEW_ID
    assert data_view.attributes["title"] == index_pattern() == "comms-logs-*"
    assert data_view.attributes["timeFieldName"] == "@timestamp"


def test_imported_data_view_follows_the_configured_index_prefix():
    # The test settings use a run-specific prefix, so this is the non-default case.
    imported = [SavedObject(json.loads(line)) for line in saved_objects_ndjson(pattern=index_pattern()).splitlines()]
    (data_view,) = [obj for obj in imported if obj.type == "index-pattern"]

    assert index_pattern() != "comms-logs-*"
    assert data_view.attributes["title"] == index_pattern()
    assert data_view.attributes["timeFieldName"] == "@timestamp"
    # Nothing but the title changes.
    assert [obj.document for obj in imported if obj.type != "index-pattern"] == [
        obj.document for obj in read_saved_objects() if obj.type != "index-pattern"
    ]


def test_every_field_the_saved_objects_name_is_in_the_index_template(objects, template_fields):
    missing = {
        f"{obj.type} {obj.id}: {name}"
        for obj in objects
        for name in referenced_fields(obj)
        if name not in template_fields
    }

    assert not missing, f"fields not in the index template: {sorted(missing)}"
    # The walk itself sees multi-fields, the ones Kibana needs to aggregate on text.
    assert {"message.keyword", "error.message.keyword", "@timestamp"} <= template_fields.keys()


def test_aggregations_use_aggregatable_fields(objects, template_fields):
    for obj in (obj for obj in objects if obj.type == "visualization"):
        for agg in vis_aggs(obj):
            name = agg["params"].get("field")
            if name is not None:
                spec = template_fields[name]
                assert spec["type"] in AGGREGATABLE_TYPES and spec.get("doc_values", True), f"{obj.id}: {name}"


def test_the_searches_and_visualizations_cover_the_issue(objects):
    by_id = {obj.id: obj for obj in objects}
    queries = {obj.id: search_source(obj)["query"]["query"] for obj in objects if obj.type == "search"}
    agg_fields = {
        obj.id: {a["params"].get("field") for a in vis_aggs(obj)} for obj in objects if "visState" in obj.attributes
    }

    assert queries["comms-search-errors"] == "event.outcome:failure or log.level:error"
    assert "delivery.retry_scheduled" in queries["comms-search-retries-dead-letters"]
    assert "delivery.dead_lettered" in queries["comms-search-retries-dead-letters"]
    assert queries["comms-search-one-trace"].startswith("trace.id:")
    assert {"delivery.status_reported", "message.canceled", "delivery.suppressed"} <= set(
        queries["comms-search-receipts-cancels-suppressions"].replace("(", " ").replace(")", " ").split()
    )
    assert "trace.id" in by_id["comms-search-one-trace"].attributes["description"]
    assert {"labels.channel", "event.outcome", "@timestamp"} <= agg_fields["comms-vis-events-over-time"]
    assert "error.message.keyword" in agg_fields["comms-vis-top-errors"]
    assert "event.duration" in agg_fields["comms-vis-delivery-latency"]
    assert {a["type"] for a in vis_aggs(by_id["comms-vis-delivery-latency"])} >= {"avg", "percentiles"}
    assert search_source(by_id["comms-vis-delivery-latency"])["query"]["query"] == "event.action:delivery.sent"


def test_searches_and_visualizations_reference_the_data_view_by_id(objects):
    for obj in (obj for obj in objects if obj.type in ("search", "visualization")):
        source = search_source(obj)
        assert "index" not in source, f"{obj.id}: inline index instead of a reference"
        assert source["indexRefName"] == INDEX_REF
        assert any(
            ref.name == INDEX_REF and ref.type == "index-pattern" and ref.id == DATA_VIEW_ID for ref in obj.references
        )


def test_every_reference_points_to_an_object_in_the_file(objects):
    present = {(obj.type, obj.id) for obj in objects}
    dangling = [
        f"{obj.id} -> {ref.type} {ref.id}"
        for obj in objects
        for ref in obj.references
        if (ref.type, ref.id) not in present
    ]

    assert not dangling


def test_dashboard_panels_resolve_through_references_and_reach_the_data_view(objects):
    by_key = {(obj.type, obj.id): obj for obj in objects}
    dashboard = by_key[("dashboard", DASHBOARD_ID)]
    refs = {ref.name: ref for ref in dashboard.references}
    panels = json.loads(dashboard.attributes["panelsJSON"])

    assert len(panels) == len(refs) == 6
    for panel in panels:
        ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert ref.type == panel["type"]
        target = by_key[(ref.type, ref.id)]
        assert any(r.id == DATA_VIEW_ID for r in target.references)
    assert {ref.id for ref in refs.values()} == {obj.id for obj in objects if obj.type == "visualization"} | {
        "comms-search-errors",
        "comms-search-retries-dead-letters",
    }


def test_rewriting_the_pattern_leaves_the_data_view_id_alone(objects):
    rewritten = with_data_view_pattern(objects, pattern="staging-logs-*")
    (data_view,) = [obj for obj in rewritten if obj.type == "index-pattern"]

    assert (data_view.id, data_view.attributes["title"]) == (DATA_VIEW_ID, "staging-logs-*")


def test_credentials_in_kibana_url_become_basic_auth_and_stay_out_of_messages():
    endpoint = KibanaEndpoint.parse("http://elastic:s3cret@kibana.local:5601/base/")

    assert endpoint.base_url == "http://kibana.local:5601/base"
    assert endpoint.headers["authorization"].startswith("Basic ")
    assert endpoint.headers["kbn-xsrf"] == "true"


# --- kibana_setup ---------------------------------------------------------------------------------


@dataclass
class FakeKibana:
    """Records every request; answers with `status` and `reply` (JSON)."""

    status: int = 200
    reply: dict[str, Any] = field(default_factory=lambda: {"success": True, "successCount": 9, "successResults": []})
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def fake_kibana() -> Iterator[FakeKibana]:
    fake = FakeKibana()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fake.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            payload = json.dumps(fake.reply).encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def uploaded_files(request: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    """The multipart form's file fields: field name -> (file name, content)."""
    headers = {name.lower(): value for name, value in request["headers"].items()}
    message = email.message_from_bytes(
        f"Content-Type: {headers['content-type']}\r\n\r\n".encode() + request["body"], policy=email.policy.HTTP
    )
    assert message.is_multipart()
    return {
        part.get_param("name", header="content-disposition"): (part.get_filename(), part.get_payload(decode=True))
        for part in message.iter_parts()
    }


def run_kibana_setup() -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("kibana_setup", stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_kibana_setup_posts_the_ndjson_as_a_multipart_import(fake_kibana):
    with override_settings(KIBANA_URL=fake_kibana.url + "/"):
        stdout, _stderr = run_kibana_setup()

    (request,) = fake_kibana.requests
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert request["path"] == "/api/saved_objects/_import?overwrite=true"
    assert headers["kbn-xsrf"] == "true"
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    files = uploaded_files(request)
    assert list(files) == ["file"]
    name, content = files["file"]
    assert name.endswith(".ndjson")
    assert content == saved_objects_ndjson(pattern=index_pattern())
    assert "Imported 9 saved objects" in stdout
    assert index_pattern() in stdout
    assert f"{fake_kibana.url}/app/dashboards#/view/{DASHBOARD_ID}" in stdout


def test_kibana_setup_lists_the_objects_kibana_refused(fake_kibana):
    fake_kibana.reply = {
        "success": False,
        "successCount": 8,
        "errors": [
            {
                "id": "comms-vis-top-errors",
                "type": "visualization",
                "meta": {"title": "Comms: top error messages"},
                "error": {"type": "missing_references", "references": [{"type": "index-pattern", "id": "comms-logs"}]},
            }
        ],
    }

    with override_settings(KIBANA_URL=fake_kibana.url), pytest.raises(CommandError) as raised:
        stdout, stderr = StringIO(), StringIO()
        call_command("kibana_setup", stdout=stdout, stderr=stderr)

    assert "refused 1" in str(raised.value)
    assert "visualization 'comms-vis-top-errors' (Comms: top error messages): missing_references" in stderr.getvalue()
    assert "index-pattern 'comms-logs'" in stderr.getvalue()


def test_kibana_setup_reports_an_http_error_answer(fake_kibana):
    fake_kibana.status = 503
    fake_kibana.reply = {"statusCode": 503, "error": "Service Unavailable", "message": "Kibana server is not ready yet"}

    with override_settings(KIBANA_URL=fake_kibana.url), pytest.raises(CommandError) as raised:
        run_kibana_setup()

    assert str(raised.value) == f"Kibana at {fake_kibana.url} answered HTTP 503: Kibana server is not ready yet"


def test_kibana_setup_without_kibana_url_has_nothing_to_do():
    with override_settings(KIBANA_URL=""):
        stdout, _stderr = run_kibana_setup()

    assert "KIBANA_URL is not set" in stdout


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_kibana_setup_with_kibana_down_fails_with_one_clear_line():
    url = f"http://127.0.0.1:{closed_port()}"

    finished = subprocess.run(
        [sys.executable, "manage.py", "kibana_setup"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "KIBANA_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode != 0
    assert f"Kibana is unreachable at {url}: Connection refused" in finished.stderr
    assert "Traceback" not in finished.stderr


# Logged at level error: the errors search finds them (`log.level:error`).
FOUND_BY_THE_ERRORS_SEARCH = {Action.MESSAGE_FAILED, Action.DELIVERY_UNKNOWN_OUTCOME_HELD}
# Statuses a message passes through on its ordinary way: nobody searches for them by name.
PASSING = {MessageStatus.ACCEPTED, MessageStatus.PENDING, MessageStatus.SENT}


def test_every_action_that_ends_delays_or_retries_a_message_has_a_saved_search(objects):
    """From the lifecycle: an action that moves a message anywhere but on its ordinary way (a retry, a
    dead letter, a cancel, an expiry, a receipt…), or holds it back (throttled), is named by a search."""
    named = set()
    for obj in objects:
        if "kibanaSavedObjectMeta" in obj.attributes:
            query = search_source(obj).get("query", {}).get("query", "")
            named.update(query.replace("(", " ").replace(")", " ").replace(":", " ").split())
    wanted = {action for action, status in STATUS_AFTER.items() if status not in PASSING}
    wanted |= {Action.DELIVERY_THROTTLED, Action.DELIVERY_STATUS_REPORTED}

    assert not sorted(wanted - FOUND_BY_THE_ERRORS_SEARCH - named)
