"""ELASTICSEARCH_URL with several nodes: the clients get them all and ride past one that does not
answer; a value that does not parse stops start-up naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from config.search_hosts import elasticsearch_hosts
from engines.process import free_port
from logging_service.connection import client_options, elasticsearch

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("value", "hosts"),
    [
        ("http://127.0.0.1:9200", ["http://127.0.0.1:9200"]),
        ("http://es1:9200,http://es2:9200", ["http://es1:9200", "http://es2:9200"]),
        (" http://es1:9200 , https://es2:9243\nhttp://es3 ", ["http://es1:9200", "https://es2:9243", "http://es3"]),
    ],
)
def test_the_setting_names_one_node_or_several(value, hosts):
    assert elasticsearch_hosts(value) == hosts


@pytest.mark.parametrize("value", ["", " , ", "es1:9200", "ftp://es1", "http://:9200", "http://es1:port"])
def test_a_value_that_is_not_a_list_of_urls_is_refused(value):
    with pytest.raises(ValueError):
        elasticsearch_hosts(value)


def test_a_password_in_a_refused_value_is_not_shown():
    with pytest.raises(ValueError) as refused:
        elasticsearch_hosts("http://es1:9200,http://elastic:s3cret@es2:port")
    assert "s3cret" not in str(refused.value) and "elastic:***@es2" in str(refused.value)


@pytest.mark.parametrize("value", ["es1:9200", "http://es1:9200,ftp://es2"])
def test_a_bad_value_stops_the_process_naming_the_setting(value):
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.base"],
        cwd=ROOT,
        env={**os.environ, "ELASTICSEARCH_URL": value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: ELASTICSEARCH_URL" in result.stderr, result.stderr


def test_every_client_gets_every_node_and_no_sniffing():
    with override_settings(ELASTICSEARCH_URL="http://es1:9200, http://es2:9200"):
        options = client_options(request_timeout=5)
    assert options["hosts"] == ["http://es1:9200", "http://es2:9200"]
    assert options["request_timeout"] == 5 and options["retry_on_timeout"] and options["max_retries"] >= 1
    assert not (options["sniff_on_start"] or options["sniff_on_node_failure"] or options["sniff_before_requests"])


def test_a_node_that_does_not_answer_is_passed_over_for_the_next():
    """A dead node first in the list (nothing listens on its port) and the real Elasticsearch second:
    every request is answered, the ones the client first sent to the dead node by the other."""
    dead = f"http://127.0.0.1:{free_port()}"
    with override_settings(ELASTICSEARCH_URL=f"{dead},{settings.ELASTICSEARCH_URL}"):
        client = elasticsearch()
        assert len(client.transport.node_pool.all()) == 2
        answers = [client.cluster.health()["status"] for _ in range(6)]
    assert len(answers) == 6


def test_the_client_follows_the_setting_once_a_test_override_ends():
    """A test that points the process at its own nodes, and stops them, leaves no client behind on them."""
    shared = elasticsearch()
    with override_settings(ELASTICSEARCH_URL=f"http://127.0.0.1:{free_port()}"):
        assert elasticsearch() is not shared
    assert [str(node.base_url) for node in elasticsearch().transport.node_pool.all()] == elasticsearch_hosts(
        settings.ELASTICSEARCH_URL
    )
