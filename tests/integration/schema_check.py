#!/usr/bin/env python3
"""Checks documents against schemas/<collection>.json, independently of the C code.

The store's $jsonSchema uses `bsonType`, which plain JSON Schema does not know. The documents
come as canonical MongoDB Extended JSON (one "collection<TAB>json" per line), in which each
BSON type has one shape: int32 {"$numberInt": ".."}, int64 {"$numberLong": ".."}, double
{"$numberDouble": ".."}, date {"$date": {"$numberLong": ".."}}, string/bool/null/array/object
as themselves. So each bsonType maps to a JSON Schema for that shape, and python3-jsonschema
does the rest (required, additionalProperties, enum, items).

usage: schema_check.py SCHEMA_DIR DOCS_FILE [--expect-invalid]
  exit 0 when every document is valid (with --expect-invalid: when every one is invalid).
"""
import json
import os
import sys

import jsonschema


def wrapped(key):
    return {"type": "object", "required": [key], "additionalProperties": False,
            "properties": {key: {"type": "string"}}}


BSON_TYPES = {
    "string": {"type": "string"},
    "bool": {"type": "boolean"},
    "null": {"type": "null"},
    "int": wrapped("$numberInt"),
    "long": wrapped("$numberLong"),
    "double": wrapped("$numberDouble"),
    "date": {"type": "object", "required": ["$date"], "additionalProperties": False,
             "properties": {"$date": wrapped("$numberLong")}},
    "objectId": wrapped("$oid"),
}


def convert(s):
    """$jsonSchema (bsonType) -> JSON Schema over canonical extended JSON."""
    out = {}
    bt = s.get("bsonType")
    kinds = bt if isinstance(bt, list) else ([bt] if bt else [])
    alts = []
    for k in kinds:
        if k == "object":
            o = {"type": "object"}
            if "properties" in s:
                o["properties"] = {p: convert(v) for p, v in s["properties"].items()}
            if "required" in s:
                o["required"] = s["required"]
            if "additionalProperties" in s:
                o["additionalProperties"] = s["additionalProperties"]
            alts.append(o)
        elif k == "array":
            a = {"type": "array"}
            if "items" in s:
                a["items"] = convert(s["items"])
            alts.append(a)
        elif k in BSON_TYPES:
            alts.append(BSON_TYPES[k])
        else:
            raise SystemExit("schema uses bsonType %r which this checker does not know" % k)
    if len(alts) == 1:
        out.update(alts[0])
    elif alts:
        out["anyOf"] = alts
    if "enum" in s:
        out = {"allOf": [out, {"enum": s["enum"]}]} if out else {"enum": s["enum"]}
    return out


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    schema_dir, docs_file = sys.argv[1], sys.argv[2]
    expect_invalid = len(sys.argv) == 4 and sys.argv[3] == "--expect-invalid"
    schemas = {}
    for name in sorted(os.listdir(schema_dir)):
        if name.endswith(".json"):
            with open(os.path.join(schema_dir, name)) as f:
                spec = json.load(f)
            js = convert(spec["validator"]["$jsonSchema"])
            jsonschema.Draft7Validator.check_schema(js)
            schemas[spec["collection"]] = jsonschema.Draft7Validator(js)
    bad = good = 0
    with open(docs_file) as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            coll, _, text = line.partition("\t")
            if coll not in schemas:
                print("%s:%d: no schema for collection %r" % (docs_file, lineno, coll))
                bad += 1
                continue
            doc = json.loads(text)
            errors = list(schemas[coll].iter_errors(doc))
            if errors:
                bad += 1
                if not expect_invalid:
                    for e in errors[:3]:
                        print("%s:%d: %s: %s at %s" % (docs_file, lineno, coll, e.message,
                                                       "/".join(map(str, e.absolute_path))))
            else:
                good += 1
                if expect_invalid:
                    print("%s:%d: %s: accepted but should be invalid: %s" % (docs_file, lineno,
                                                                          coll, text))
    print("schema_check: %d valid, %d invalid" % (good, bad))
    if expect_invalid:
        return 0 if good == 0 and bad > 0 else 1
    return 0 if bad == 0 and good > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
