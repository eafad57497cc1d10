"""Decoding BuildKit's progress (protobuf in the engine's `aux`) into lines."""

from __future__ import annotations

import base64
import io

from ops import buildkit


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def status(*parts: bytes) -> str:
    return base64.b64encode(b"".join(parts)).decode()


def test_vertices_and_logs_become_numbered_lines_each_state_once():
    step = field(1, b"sha256:aaa") + field(3, b"[build 3/4] RUN pip install")
    timestamp = field(1, 1700000000)
    out = io.StringIO()
    tracer = buildkit.Tracer(out)
    tracer.feed(status(field(1, step)))
    tracer.feed(status(field(1, step + field(5, timestamp)),
                       field(3, field(1, b"sha256:aaa") + field(3, 1) + field(4, b"Collecting django\n"))))
    tracer.feed(status(field(1, step + field(6, timestamp))))
    tracer.feed(status(field(1, step + field(6, timestamp))))
    cached = field(1, b"sha256:bbb") + field(3, b"[image 2/9] COPY requirements.txt") + field(4, 1)
    tracer.feed(status(field(1, cached)))
    assert out.getvalue().splitlines() == [
        "#1 [build 3/4] RUN pip install", "#1 Collecting django", "#1 DONE",
        "#2 [image 2/9] COPY requirements.txt", "#2 CACHED",
    ]


def test_a_failed_vertex_shows_its_error():
    out = io.StringIO()
    buildkit.Tracer(out).feed(status(field(1, field(1, b"d") + field(3, b"RUN false")
                                           + field(7, b"exit code: 1"))))
    assert out.getvalue().splitlines() == ["#1 RUN false", "#1 ERROR: exit code: 1"]


def test_fixed_width_fields_are_skipped():
    data = varint(9 << 3 | 1) + b"\0" * 8 + varint(10 << 3 | 5) + b"\0" * 4 + field(3, b"x")
    assert list(buildkit.fields(data))[-1] == (3, b"x")
