"""Email through a real SMTP server process, configured by EMAIL_URL alone: plain, and STARTTLS with
AUTH (a certificate from a throwaway CA the worker is told to trust, as it would trust a provider's).
What arrives is checked as a recipient's server sees it: envelope, headers, Message-ID, the text part
and the HTML alternative."""

from __future__ import annotations

import pytest

from delivery.models import DeliveryStatus
from messaging.channels import Channel
from tests.delivery.support import (
    CHANNEL_DBS,
    make_envelope,
    own_run_topics,
    publish_envelopes,
    wait_for_status,
    worker,
)
from tests.peers.smtp import SmtpSink
from tests.processes import wait_for

pytestmark = pytest.mark.django_db(databases=CHANNEL_DBS, transaction=True)

EMAIL = Channel.EMAIL


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "starttls-auth"])
def test_emails_arrive_at_a_real_smtp_server_as_sent(tmp_path, settings, secure):
    sink = SmtpSink(tmp_path, tls=secure, auth="mailer:s3cret" if secure else None)
    try:
        env = own_run_topics(settings, "smtp")
        if secure:
            env |= {"EMAIL_URL": f"smtp+tls://mailer:s3cret@127.0.0.1:{sink.port}", "SSL_CERT_FILE": str(sink.ca_file)}
        else:
            env |= {"EMAIL_URL": f"smtp://127.0.0.1:{sink.port}"}
        plain = make_envelope(EMAIL, to="ada@example.com", subject="Plain one", body="Just text")
        rich = make_envelope(EMAIL, to="bob@example.com", subject="Rich one", body="Text part", html="<p>HTML</p>")
        with worker(EMAIL, **env):
            publish_envelopes([plain, rich])
            wait_for_status(EMAIL, [plain.id, rich.id], DeliveryStatus.SENT, timeout=60)
        wait_for(lambda: len(sink.received()) == 2, timeout=10, what="both emails at the server")
    finally:
        sink.stop()

    arrived = {email["subject"]: email for email in sink.received()}
    for envelope, email in ((plain, arrived["Plain one"]), (rich, arrived["Rich one"])):
        assert email["to"] == [envelope.to]
        assert email["from"] == "no-reply@comms.local"
        assert email["message_id"] == f"<{envelope.id}@comms.local>"
        assert email["headers"]["X-Trace-Id"] == envelope.trace_id
        assert email["tls"] is secure
        assert email["authenticated_as"] == ("mailer" if secure else None)
    assert [(part["type"], part["content"].strip()) for part in arrived["Plain one"]["parts"]] == [
        ("text/plain", "Just text")
    ]
    assert [(part["type"], part["content"].strip()) for part in arrived["Rich one"]["parts"]] == [
        ("text/plain", "Text part"),
        ("text/html", "<p>HTML</p>"),
    ]
