#!/usr/bin/env python3
"""Contract test: validate recorded Qdrant exchanges against the official spec.

usage: contract.py [--bad-requests-on-purpose] qdrant-openapi.json RECORD.jsonl

--bad-requests-on-purpose (the emulator's self-test, which sends malformed
requests to check the errors): the request body of an exchange answered
400 or 422 is not validated (its answer still is), and an unknown route
answered 404 with an empty body is accepted.

Every request body the client sent and every JSON response the emulator gave
(as recorded by qdrant_emulator.py --record) is validated with jsonschema
against the operation's schema in Qdrant's OpenAPI 3.0 document, after the
OpenAPI-only `nullable: true` is turned into a JSON Schema `null`
alternative.  Prints TAP: one line per distinct operation and status, then
the number of messages validated.
"""
import json
import re
import sys
import warnings

import jsonschema


LEGACY_SEARCH = re.compile(r"^/collections/[^/]+/points/search$")


def convert(node):
    """OpenAPI 3.0 schema -> JSON Schema: `nullable` becomes a null type."""
    if isinstance(node, list):
        return [convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: convert(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if len(out) == 0 or set(out) <= {"description", "default", "example"}:
            out["type"] = "null"  # `{nullable: true}` alone: only null
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def operations(spec):
    """(regex, method, operation) for every path of the spec."""
    ops = []
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        for method, op in item.items():
            if method in ("get", "put", "post", "patch", "delete"):
                ops.append((re.compile(pattern), method.upper(), template, op))
    # Literal paths before templated ones (/collections/x/exists vs {name}).
    ops.sort(key=lambda o: o[2].count("{"))
    return ops


def response_schema(op, status):
    responses = op.get("responses", {})
    entry = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") \
        or responses.get("default")
    if entry is None:
        return None, False
    content = entry.get("content", {})
    if "application/json" in content:
        return content["application/json"].get("schema"), True
    return None, True


def main():
    args = sys.argv[1:]
    on_purpose = "--bad-requests-on-purpose" in args
    args = [a for a in args if a != "--bad-requests-on-purpose"]
    spec = convert(json.load(open(args[0])))
    ops = operations(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = jsonschema.RefResolver.from_schema(spec)

    def validate(instance, schema):
        jsonschema.Draft7Validator(schema, resolver=resolver).validate(instance)

    results = {}
    validated = 0
    failures = 0
    for line in open(args[1]):
        ex = json.loads(line)
        match = next(((t, op) for rx, m, t, op in ops
                      if m == ex["method"] and rx.match(ex["path"])), None)
        if match is None and ex["method"] == "POST" and LEGACY_SEARCH.match(ex["path"]):
            # Dropped from the 1.19 spec, still served (qdrant-rest.md,
            # 4.10): nothing to validate against; shown as such.
            results.setdefault(f'POST {LEGACY_SEARCH.pattern} -> {ex["status"]} '
                               '(legacy, not in the 1.19 spec)', [])
            continue
        label = f'{ex["method"]} {match[0] if match else ex["path"]} -> {ex["status"]}'
        problems = results.setdefault(label, [])
        if match is None:
            if not (on_purpose and ex["status"] == 404 and ex["response"] == ""):
                problems.append("route not in the spec")
            continue
        template, op = match
        body_schema = (op.get("requestBody", {}).get("content", {})
                       .get("application/json", {}).get("schema"))
        try:
            bad_on_purpose = on_purpose and ex["status"] in (400, 422)
            if ex.get("request") is not None and body_schema is not None \
                    and not bad_on_purpose:
                validate(ex["request"], body_schema)
                validated += 1
            schema, known = response_schema(op, ex["status"])
            if ex["status"] == 401 and ex["response_content_type"] == "text/plain":
                # Real Qdrant answers auth failures in plain text although
                # the spec's 4XX says JSON (qdrant-rest.md, section 3).
                schema = None
            if not known:
                problems.append(f'status {ex["status"]} not documented')
            elif schema is not None:
                if ex["response_content_type"] != "application/json":
                    problems.append("spec says JSON, emulator sent text")
                else:
                    validate(ex["response"], schema)
                    validated += 1
        except jsonschema.ValidationError as e:
            problems.append(f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:200]}")
    n = 0
    for label, problems in sorted(results.items()):
        n += 1
        if problems:
            failures += 1
            print(f"not ok {n} - {label}")
            for p in sorted(set(problems))[:5]:
                print(f"# {p}")
        else:
            print(f"ok {n} - {label}" + ("" if "legacy" in label
                                           else " matches qdrant-openapi.json"))
    print(f"# {validated} request and response bodies validated against the spec")
    print(f"1..{n}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
