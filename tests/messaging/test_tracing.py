from messaging.tracing import TraceContext


def test_new_context_renders_a_valid_traceparent():
    context = TraceContext.new()
    assert TraceContext.parse(context.traceparent) == context


def test_incoming_traceparent_is_honoured():
    header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    context = TraceContext.parse(header)
    assert context is not None
    assert context.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert context.child().trace_id == context.trace_id


def test_invalid_traceparents_are_ignored():
    for header in [
        None,
        "",
        "garbage",
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        "ff-" + "a" * 32 + "-" + "b" * 16 + "-01",
    ]:
        assert TraceContext.parse(header) is None
