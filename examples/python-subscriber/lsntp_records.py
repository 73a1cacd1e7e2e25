"""Reading the LS-NTP topics' values: Avro single-object encoding against a published schema set.

Every value on the lsntp.* topics is the marker bytes C3 01, the writer schema's 64-bit CRC-64-AVRO
fingerprint (8 bytes, little-endian), then the Avro binary record. The published set of schemas
(`./lsntp schemas --export DIR` writes it: DIR/<Record>-v<N>.avsc) says which schema each
fingerprint stands for. A record is read with the newest version in the set as the reader schema,
by Avro's resolution rules, so a subscriber keeps working when the producer moves to a newer
version, provided it refreshes its schema set. Debian's python3-avro has no single-object decoder,
so the ten header bytes are parsed here; everything after them is Avro's own DatumReader.

Values without the marker are read as plain Avro binary of the newest version (the format before
single-object encoding), so a topic written across the transition reads whole.
"""
from __future__ import annotations

import io
import json
import os
import re
import struct

import avro.io
import avro.schema

MARKER = b"\xc3\x01"
HEADER = 10
_EMPTY = 0xC15D213AA4D7A795  # the Avro specification's CRC-64-AVRO seed


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _table()


_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def canonical_form(schema, namespace: str | None = None) -> str:
    """The Avro specification's Parsing Canonical Form of a schema given as parsed JSON.

    Debian's python3-avro 1.11 gets it wrong for a primitive that carries attributes (a
    logicalType, avro.java.string): it keeps {"type":"long"} where the form is "long", so its
    fingerprints differ from every other Avro implementation's. This follows the specification's
    rules (PRIMITIVES, FULLNAMES, STRIP, ORDER, STRINGS, WHITESPACE) directly.
    """
    def full(name: str, ns: str | None) -> str:
        return name if "." in name or not ns else f"{ns}.{name}"

    def walk(s, ns):
        if isinstance(s, str):
            return s if s in _PRIMITIVES else full(s, ns)
        if isinstance(s, list):
            return [walk(x, ns) for x in s]
        t = s["type"]
        if isinstance(t, (dict, list)) or (t not in _PRIMITIVES and t not in ("record", "error", "enum", "array", "map", "fixed")):
            return walk(t, ns)
        if t in _PRIMITIVES:
            return t
        out = {}
        if t in ("record", "error", "enum", "fixed"):
            name = full(s["name"], s.get("namespace", ns))
            ns = name.rsplit(".", 1)[0] if "." in name else None
            out["name"] = name
        out["type"] = t
        if t in ("record", "error"):
            out["fields"] = [{"name": f["name"], "type": walk(f["type"], ns)} for f in s["fields"]]
        elif t == "enum":
            out["symbols"] = list(s["symbols"])
        elif t == "array":
            out["items"] = walk(s["items"], ns)
        elif t == "map":
            out["values"] = walk(s["values"], ns)
        elif t == "fixed":
            out["size"] = int(s["size"])
        return out

    return json.dumps(walk(schema, namespace), separators=(",", ":"), ensure_ascii=False)


def fingerprint(schema_json) -> int:
    """CRC-64-AVRO of the schema's Parsing Canonical Form (the Avro specification's algorithm)."""
    fp = _EMPTY
    for b in canonical_form(schema_json).encode("utf-8"):
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


class UnknownSchema(ValueError):
    """A value whose writer fingerprint is not in the schema set: refresh the set, never guess."""


class SchemaSet:
    """The published versions of every record, from a directory of <Record>-v<N>.avsc files."""

    def __init__(self, directory: str):
        self.versions: dict[str, dict[int, avro.schema.Schema]] = {}
        self.by_fingerprint: dict[int, tuple[str, int, avro.schema.Schema]] = {}
        for name in sorted(os.listdir(directory)):
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)-v(\d+)\.avsc", name)
            if not m:
                continue
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                text = f.read()
            schema = avro.schema.parse(text)
            record, number = m.group(1), int(m.group(2))
            self.versions.setdefault(record, {})[number] = schema
            self.by_fingerprint[fingerprint(json.loads(text))] = (record, number, schema)
        if not self.versions:
            raise ValueError(f"{directory}: no <Record>-v<N>.avsc files (./lsntp schemas --export {directory})")

    def newest(self, record: str) -> avro.schema.Schema:
        vs = self.versions.get(record)
        if not vs:
            raise ValueError(f"no {record} schema in the set (records: {', '.join(sorted(self.versions))})")
        return vs[max(vs)]


class RecordReader:
    """Reads one record type's values, resolving each writer version to one reader schema."""

    def __init__(self, schemas: SchemaSet, record: str, reader: avro.schema.Schema | None = None):
        self.schemas = schemas
        self.record = record
        self.reader_schema = reader or schemas.newest(record)
        self._readers: dict[int, avro.io.DatumReader] = {}

    def writer_of(self, value: bytes) -> tuple[str, int] | None:
        """(record, version) of a single-object value's writer, None for a plain value."""
        if value[:2] != MARKER:
            return None
        record, number, _ = self._lookup(value)
        return record, number

    def _lookup(self, value: bytes):
        if len(value) < HEADER:
            raise ValueError(f"a single-object {self.record} needs {HEADER} header bytes, the value has {len(value)}")
        (fp,) = struct.unpack_from("<Q", value, 2)
        found = self.schemas.by_fingerprint.get(fp)
        if found is None:
            raise UnknownSchema(f"writer schema fingerprint {fp:016x} is not in the schema set: "
                                f"export the producer's published set (./lsntp schemas --export DIR)")
        if found[0] != self.record:
            raise UnknownSchema(f"writer schema fingerprint {fp:016x} is {found[0]} v{found[1]}, not a {self.record}")
        return found

    def decode(self, value: bytes) -> dict:
        if value[:2] == MARKER:
            _, number, writer = self._lookup(value)
            body = value[HEADER:]
        else:
            number, writer, body = 0, self.reader_schema, value
        reader = self._readers.get(number)
        if reader is None:
            reader = self._readers[number] = avro.io.DatumReader(writer, self.reader_schema)
        buf = io.BytesIO(body)
        record = reader.read(avro.io.BinaryDecoder(buf))
        if buf.tell() != len(body):
            raise ValueError(f"{len(body) - buf.tell()} trailing bytes after one {self.record} record")
        return record
