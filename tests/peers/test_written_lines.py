"""A peer's output read while it writes: a line caught half-written is left for the next read."""

from __future__ import annotations

import json

from tests.peers import written_lines


def test_a_line_half_written_is_left_for_the_next_read(tmp_path):
    out = tmp_path / "sent.jsonl"
    first, second = {"message_id": "<a@x>"}, {"message_id": "<b@x>", "body": "x" * 10_000}
    whole = json.dumps(second) + "\n"
    out.write_text(json.dumps(first) + "\n" + whole[:209])  # the second line's first write only

    assert written_lines(out) == [first]

    with out.open("a") as file:
        file.write(whole[209:])
    assert written_lines(out) == [first, second]
