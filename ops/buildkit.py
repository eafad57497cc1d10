"""Progress from a Docker BuildKit build: the engine sends its status as protobuf in `aux`.

Only what a progress line needs is decoded (moby.buildkit.v1.StatusResponse: vertexes and
logs), with a small protobuf wire-format reader, so no protobuf package is needed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import TextIO


def varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited fields."""
    position = 0
    while position < len(data):
        key, position = varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = varint(data, position)
        elif wire_type == 2:
            length, position = varint(data, position)
            value, position = data[position:position + length], position + length
        elif wire_type == 1:
            value, position = data[position:position + 8], position + 8
        elif wire_type == 5:
            value, position = data[position:position + 4], position + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        yield number, value


class Tracer:
    """Turns a stream of StatusResponse messages into docker-build-like progress lines."""

    def __init__(self, out: TextIO):
        self.out = out
        self.numbers: dict[bytes, int] = {}
        self.reported: set[tuple[bytes, str]] = set()

    def number(self, digest: bytes) -> int:
        return self.numbers.setdefault(digest, len(self.numbers) + 1)

    def once(self, digest: bytes, state: str, line: str) -> None:
        if (digest, state) not in self.reported:
            self.reported.add((digest, state))
            self.out.write(line + "\n")

    def feed(self, encoded: str) -> None:
        for number, value in fields(base64.b64decode(encoded)):
            if number == 1 and isinstance(value, bytes):
                self.vertex(dict(fields(value)))
            elif number == 3 and isinstance(value, bytes):
                self.log(dict(fields(value)))
        self.out.flush()

    def vertex(self, vertex: dict) -> None:
        digest = vertex.get(1, b"")
        step = self.number(digest)
        name = vertex.get(3, b"").decode(errors="replace")
        if name:
            self.once(digest, "name", f"#{step} {name}")
        if vertex.get(7):
            self.once(digest, "error", f"#{step} ERROR: {vertex[7].decode(errors='replace')}")
        elif vertex.get(4):
            self.once(digest, "done", f"#{step} CACHED")
        elif vertex.get(6):
            self.once(digest, "done", f"#{step} DONE")

    def log(self, entry: dict) -> None:
        step = self.number(entry.get(1, b""))
        for line in entry.get(4, b"").decode(errors="replace").splitlines():
            self.out.write(f"#{step} {line}\n")
