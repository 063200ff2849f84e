#!/usr/bin/env python3
"""Self-test of the Qdrant emulator against qdrant-rest.md: envelopes, status
codes and texts, idempotency edges, ids, cosine scoring, filters, auth,
metadata, reading records back (retrieve, scroll), the request log; and
every exchange of it validated against qdrant-openapi.json.
Starts the emulator itself; prints TAP."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
results = []


def check(name, cond):
    results.append((name, bool(cond)))


def start(*args):
    port_file = tempfile.mktemp()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "qdrant_emulator.py"),
                             "--port", "0", "--port-file", port_file, *args])
    for _ in range(200):
        if os.path.exists(port_file):
            break
        time.sleep(0.05)
    port = int(open(port_file).read())
    os.unlink(port_file)
    return proc, f"http://127.0.0.1:{port}"


def call(base, method, path, body=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req) as r:
            text = r.read().decode()
            status, ctype = r.status, r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        status, ctype = e.code, e.headers.get("Content-Type")
    try:
        return status, json.loads(text), ctype
    except ValueError:
        return status, text, ctype


def alias_rules(base):
    """The alias rules of supervisely-ai-search.md section 1."""
    def make(name, points):
        call(base, "PUT", f"/collections/{name}", {"vectors": {"size": 2, "distance": "Dot"}})
        call(base, "PUT", f"/collections/{name}/points?wait=true",
             {"points": [{"id": i, "vector": [1, 0], "payload": {"in": name}} for i in points]})

    def alias_actions(*actions):
        return call(base, "POST", "/collections/aliases", {"actions": list(actions)})

    def create(alias, target):
        return {"create_alias": {"alias_name": alias, "collection_name": target}}

    make("al_old", [1, 2])
    make("al_new", [7])
    s, b, _ = alias_actions(create("al", "al_old"))
    check("create_alias: 200 result true", s == 200 and b["result"] is True)
    s, b, _ = call(base, "GET", "/aliases")
    check("GET /aliases lists alias and collection",
          s == 200 and {"alias_name": "al", "collection_name": "al_old"} in b["result"]["aliases"])
    s, b, _ = call(base, "GET", "/collections/al_old/aliases")
    check("GET /collections/{name}/aliases lists the collection's aliases",
          s == 200 and b["result"]["aliases"] == [{"alias_name": "al", "collection_name": "al_old"}])
    s, b, _ = call(base, "GET", "/collections/al_new/aliases")
    check("a collection without aliases lists none", s == 200 and b["result"]["aliases"] == [])
    s, b, _ = call(base, "GET", "/collections/al")
    check("collection info resolves an alias", s == 200 and b["result"]["points_count"] == 2)
    s, b, _ = call(base, "GET", "/collections/al/exists")
    check("exists resolves an alias", s == 200 and b["result"]["exists"] is True)
    s, b, _ = call(base, "POST", "/collections/al/points/count", {"exact": True})
    check("count resolves an alias", s == 200 and b["result"]["count"] == 2)
    s, b, _ = call(base, "POST", "/collections/al/points/query",
                   {"query": [1, 0], "limit": 5, "with_payload": True})
    check("query resolves an alias",
          s == 200 and sorted(p["id"] for p in b["result"]["points"]) == [1, 2])
    s, b, _ = call(base, "POST", "/collections/al/points/search", {"vector": [1, 0], "limit": 5})
    check("legacy search resolves an alias", s == 200 and len(b["result"]) == 2)
    s, b, _ = call(base, "POST", "/collections/al/points", {"ids": [1, 7]})
    check("retrieve resolves an alias", s == 200 and [p["id"] for p in b["result"]] == [1])
    s, b, _ = call(base, "POST", "/collections/al/points/scroll", {"limit": 10})
    check("scroll resolves an alias", s == 200 and [p["id"] for p in b["result"]["points"]] == [1, 2])
    s, b, _ = call(base, "PUT", "/collections/al/points?wait=true",
                   {"points": [{"id": 3, "vector": [0, 1]}]})
    s2, b2, _ = call(base, "POST", "/collections/al_old/points/count", {})
    check("upsert through an alias writes the target", s == 200 and b2["result"]["count"] == 3)
    s, b, _ = call(base, "POST", "/collections/al/points/delete?wait=true", {"points": [3]})
    s2, b2, _ = call(base, "POST", "/collections/al_old/points/count", {})
    check("delete points through an alias deletes from the target",
          s == 200 and b2["result"]["count"] == 2)
    s, b, _ = call(base, "PATCH", "/collections/al", {"metadata": {"k": "v"}})
    s2, b2, _ = call(base, "GET", "/collections/al_old")
    check("PATCH resolves an alias", s == 200 and b2["result"]["config"]["metadata"] == {"k": "v"})
    s, b, _ = call(base, "PUT", "/collections/al/index?wait=true",
                   {"field_name": "in", "field_schema": "keyword"})
    s2, b2, _ = call(base, "GET", "/collections/al_old")
    check("payload index resolves an alias", s == 200 and "in" in b2["result"]["payload_schema"])

    s, b, _ = alias_actions(create("al", "al_new"))
    s2, b2, _ = call(base, "POST", "/collections/al/points/count", {})
    check("one create_alias on an existing alias repoints it",
          s == 200 and b2["result"]["count"] == 1)
    s, b, _ = alias_actions(create("al_old", "al_new"))
    check("create_alias with a collection's name: 409",
          s == 409 and b["status"]["error"] == "Wrong input: Collection `al_old` already exists!")
    s, b, _ = call(base, "PUT", "/collections/al", {"vectors": {"size": 2, "distance": "Dot"}})
    check("creating a collection with an alias's name: 400",
          s == 400 and "Alias with the same name already exists" in b["status"]["error"])
    s, b, _ = alias_actions(create("al", "no_such"))
    check("create_alias of a missing collection: 404", s == 404)
    s, b, _ = call(base, "DELETE", "/collections/al")
    s2, b2, _ = call(base, "GET", "/collections/al/exists")
    s3, b3, _ = call(base, "GET", "/collections/al_new/exists")
    check("DELETE /collections/{alias}: result false, nothing deleted",
          s == 200 and b["result"] is False and b2["result"]["exists"] and b3["result"]["exists"])
    s, b, _ = alias_actions({"delete_alias": {"alias_name": "al"}}, create("al", "no_such"))
    s2, b2, _ = call(base, "GET", "/aliases")
    check("an action list stops at its first error without undoing the earlier ones",
          s == 404 and all(a["alias_name"] != "al" for a in b2["result"]["aliases"]))
    s, b, _ = alias_actions(create("al", "al_new"),
                            {"rename_alias": {"old_alias_name": "al", "new_alias_name": "al2"}})
    s2, b2, _ = call(base, "GET", "/aliases")
    check("rename_alias renames",
          s == 200 and {"alias_name": "al2", "collection_name": "al_new"} in b2["result"]["aliases"]
          and all(a["alias_name"] != "al" for a in b2["result"]["aliases"]))
    s, b, _ = alias_actions({"delete_alias": {"alias_name": "missing"}})
    check("delete_alias of a missing alias: 404", s == 404)
    s, b, _ = call(base, "DELETE", "/collections/al_new")
    s2, b2, _ = call(base, "GET", "/aliases")
    s3, b3, _ = call(base, "GET", "/collections/al2/exists")
    check("deleting a collection drops its aliases",
          s == 200 and b["result"] is True and b2["result"]["aliases"] == []
          and b3["result"]["exists"] is False)
    call(base, "DELETE", "/collections/al_old")


def collection_options(base):
    """Cluster and index options: kept, shown in the info, bounds checked;
    the points routes' ordering parameter checked."""
    body = {"vectors": {"size": 2, "distance": "Dot", "on_disk": True},
            "shard_number": 3, "replication_factor": 2, "write_consistency_factor": 2,
            "hnsw_config": {"m": 8, "ef_construct": 64},
            "quantization_config": {"scalar": {"type": "int8", "always_ram": True}}}
    s, b, _ = call(base, "PUT", "/collections/opt", body)
    s2, b2, _ = call(base, "GET", "/collections/opt")
    c = b2["result"]["config"]
    check("create options are kept and shown in the collection info",
          s == 200 and c["params"]["shard_number"] == 3 and c["params"]["replication_factor"] == 2
          and c["params"]["write_consistency_factor"] == 2 and c["params"]["vectors"]["on_disk"] is True
          and c["hnsw_config"]["m"] == 8 and c["hnsw_config"]["ef_construct"] == 64
          and c["quantization_config"] == body["quantization_config"])
    s, b, _ = call(base, "PUT", "/collections/opt0", {"vectors": {"size": 2, "distance": "Dot"},
                                                       "shard_number": 0})
    check("shard_number 0: 422", s == 422 and "shard_number" in b["status"]["error"])
    s, b, _ = call(base, "PUT", "/collections/opt0", {"vectors": {"size": 2, "distance": "Dot"},
                                                       "hnsw_config": {"ef_construct": 2}})
    check("hnsw_config.ef_construct below 4: 422",
          s == 422 and "hnsw_config.ef_construct" in b["status"]["error"])
    s, b, _ = call(base, "PUT", "/collections/opt/points?wait=true&ordering=strong",
                   {"points": [{"id": 1, "vector": [1, 0]}]})
    check("ordering=strong is accepted on upsert", s == 200)
    s, b, _ = call(base, "POST", "/collections/opt/points/delete?wait=true&ordering=fast",
                   {"points": [1]})
    check("ordering=fast: 400", s == 400 and "`weak`, `medium`, `strong`" in b["status"]["error"])
    call(base, "DELETE", "/collections/opt")


def main():
    record = tempfile.mktemp(suffix=".jsonl")
    proc, base = start("--record", record)
    try:
        s, b, _ = call(base, "GET", "/")
        check("GET / is unenveloped with title and version",
              s == 200 and b["title"] == "qdrant - vector search engine" and "result" not in b)
        s, b, ct = call(base, "GET", "/readyz")
        check("GET /readyz answers plain text", s == 200 and b == "all shards are ready" and "text/plain" in ct)
        s, b, _ = call(base, "GET", "/collections/nope")
        check("missing collection: 404 with the exact text and no result key",
              s == 404 and b["status"]["error"] == "Not found: Collection `nope` doesn't exist!"
              and "result" not in b)
        body = {"vectors": {"size": 3, "distance": "Cosine"}, "metadata": {"m": "x"}}
        s, b, _ = call(base, "PUT", "/collections/c", body)
        check("create: 200 result true", s == 200 and b["result"] is True and b["status"] == "ok")
        s, b, _ = call(base, "PUT", "/collections/c", body)
        check("duplicate create: 409 'Wrong input: ... already exists!'",
              s == 409 and b["status"]["error"] == "Wrong input: Collection `c` already exists!")
        s, b, _ = call(base, "PUT", "/collections/a:b", body)
        check("bad collection name: 422", s == 422)
        big = 2**64 - 1
        pts = {"points": [{"id": big, "vector": [3, 0, 0], "payload": {"dataset_id": ["a", "b"]}},
                          {"id": "5C56C793-69F3-4FBF-87E6-C4BF54C28C26", "vector": [0, 1, 0]},
                          {"id": 42, "vector": [0, 0, 2], "payload": {"dataset_id": "c"}}]}
        s, b, _ = call(base, "PUT", "/collections/c/points?wait=true", pts)
        check("upsert wait=true: completed", s == 200 and b["result"]["status"] == "completed")
        s, b, _ = call(base, "PUT", "/collections/c/points", {"points": [{"id": 7, "vector": [1, 0, 0]}]})
        check("upsert wait=false: acknowledged", s == 200 and b["result"]["status"] == "acknowledged")
        s, b, _ = call(base, "PUT", "/collections/c/points?wait=true",
                       {"points": [{"id": 8, "vector": [1, 0, 0]}, {"id": 9, "vector": [1, 0]}]})
        s2, b2, _ = call(base, "POST", "/collections/c/points/count", {"exact": True})
        check("wrong dimension: 400 exact text, nothing applied",
              s == 400 and b["status"]["error"] == "Wrong input: Vector dimension error: expected dim: 3, got 2"
              and b2["result"]["count"] == 4)
        s, b, _ = call(base, "PUT", "/collections/c/points?wait=true",
                       {"batch": {"ids": [1, 2], "vectors": [[1, 0, 0]]}})
        check("batch length mismatch: 422", s == 422)
        for bad in (-1, 1.5, "42", "not-a-uuid"):
            s, b, _ = call(base, "PUT", "/collections/c/points?wait=true",
                           {"points": [{"id": bad, "vector": [1, 0, 0]}]})
            check(f"bad id {bad!r}: 400 not a valid point ID",
                  s == 400 and "is not a valid point ID" in b["status"]["error"])
        s, b, _ = call(base, "POST", "/collections/c/points/query",
                       {"query": [1, 0, 0], "limit": 2, "with_payload": True})
        pts_ = b["result"]["points"]
        check("query: exact u64 id, cosine score ~1, descending, version present",
              pts_[0]["id"] == big and abs(pts_[0]["score"] - 1) < 1e-6 and "version" in pts_[0]
              and pts_[0]["score"] >= pts_[1]["score"])
        s, b, _ = call(base, "POST", "/collections/c/points/query", {"query": [1, 0, 0]})
        check("query defaults: no payload key", "payload" not in b["result"]["points"][0])
        s, b2, _ = call(base, "POST", "/collections/c/points/search",
                        {"vector": [1, 0, 0], "limit": 2, "with_payload": True})
        s3, b3, _ = call(base, "POST", "/collections/c/points/search", {"vector": [1, 0, 0]})
        check("legacy search: a bare list of the same hits; limit required",
              s == 200 and [p["id"] for p in b2["result"]] == [p["id"] for p in pts_]
              and b2["result"][0]["payload"] == pts_[0]["payload"] and s3 == 400)
        s, b, _ = call(base, "POST", "/collections/c/points/query",
                       {"query": [0, 1, 0], "limit": 1, "with_payload": True})
        check("UUID ids echoed lowercase hyphenated",
              b["result"]["points"][0]["id"] == "5c56c793-69f3-4fbf-87e6-c4bf54c28c26")
        s, b, _ = call(base, "POST", "/collections/c/points/count",
                       {"filter": {"must": [{"key": "dataset_id", "match": {"value": "b"}}]}})
        check("keyword match against an array payload", b["result"]["count"] == 1)
        s, b, _ = call(base, "POST", "/collections/c/points/count", {"filter": {"bogus": []}})
        check("unknown filter key: 400", s == 400)
        s, b, _ = call(base, "POST", "/collections/c/points/delete?wait=true", {"points": [123456, 42]})
        s2, b2, _ = call(base, "POST", "/collections/c/points/count", {})
        check("delete with unknown ids: 200, known ones gone", s == 200 and b2["result"]["count"] == 3)
        s, b, _ = call(base, "PUT", "/collections/c/points?wait=true",
                       {"points": [{"id": big, "vector": [0, 1, 0]}]})
        s, b, _ = call(base, "POST", "/collections/c/points/query",
                       {"query": [0, 1, 0], "limit": 3, "with_payload": True})
        replaced = [p for p in b["result"]["points"] if p["id"] == big][0]
        check("upsert replaces vector and the whole payload", replaced["payload"] == {}
              and abs(replaced["score"] - 1) < 1e-6)
        s, b, _ = call(base, "PUT", "/collections/c/index?wait=true",
                       {"field_name": "dataset_id", "field_schema": "keyword"})
        s2, b2, _ = call(base, "PUT", "/collections/c/index?wait=true",
                         {"field_name": "dataset_id", "field_schema": "keyword"})
        s3, b3, _ = call(base, "GET", "/collections/c")
        check("payload index idempotent and listed in payload_schema",
              s == 200 and s2 == 200 and b3["result"]["payload_schema"]["dataset_id"]["data_type"] == "keyword"
              and b3["result"]["config"]["metadata"] == {"m": "x"})
        s, b, _ = call(base, "PATCH", "/collections/c", {"metadata": {"m": None, "k": 1}})
        s2, b2, _ = call(base, "GET", "/collections/c")
        check("PATCH metadata merges, a null deletes a key",
              s == 200 and b["result"] is True and b2["result"]["config"]["metadata"] == {"k": 1})
        s, b, _ = call(base, "PUT", "/collections/plain", {"vectors": {"size": 3, "distance": "Cosine"}})
        s2, b2, _ = call(base, "GET", "/collections/plain")
        check("created without metadata: config has no metadata key",
              s == 200 and "metadata" not in b2["result"]["config"])
        s, b, _ = call(base, "PATCH", "/collections/nope", {"metadata": {"k": 1}})
        check("PATCH of a missing collection: 404", s == 404)
        # Reading records back: retrieve, one point, scroll.
        call(base, "PUT", "/collections/c/points?wait=true",
             {"points": [{"id": 2**53 + 1, "vector": [1, 1, 0], "payload": {"a": 1}},
                         {"id": 5, "vector": [0, 1, 1], "payload": {"a": 2, "b": 3}}]})
        s, b, _ = call(base, "POST", "/collections/c/points",
                       {"ids": [5, 2**53 + 1, 999, 5], "with_payload": False, "with_vector": False})
        check("retrieve: asked ids found in order, missing ones absent, no payload or vector keys",
              s == 200 and [r["id"] for r in b["result"]] == [5, 2**53 + 1]
              and all(set(r) == {"id"} for r in b["result"]))
        s, b, _ = call(base, "POST", "/collections/c/points", {"ids": [5], "with_vector": True})
        r = b["result"][0]
        check("retrieve defaults: payload on, vector when asked (normalised)",
              r["payload"] == {"a": 2, "b": 3} and abs(sum(v * v for v in r["vector"]) - 1) < 1e-6)
        s, b, _ = call(base, "POST", "/collections/c/points", {"with_payload": True})
        check("retrieve without ids: 400", s == 400)
        s, b, _ = call(base, "GET", f"/collections/c/points/{2**53 + 1}")
        s2, b2, _ = call(base, "GET", "/collections/c/points/424242")
        check("GET one point; a missing one is 404 'No point with id N found'",
              s == 200 and b["result"]["id"] == 2**53 + 1 and s2 == 404
              and b2["status"]["error"] == "Not found: No point with id 424242 found")
        s, b, _ = call(base, "POST", "/collections/c/points/scroll",
                       {"limit": 2, "with_payload": False, "with_vector": False})
        first = b["result"]
        s2, b2, _ = call(base, "POST", "/collections/c/points/scroll",
                         {"limit": 10, "offset": first["next_page_offset"],
                          "with_payload": ["a"]})
        ids = [p["id"] for p in first["points"] + b2["result"]["points"]]
        check("scroll: integer ids ascending then UUIDs, offset inclusive, next_page_offset, null at the end",
              ids == [5, 7, 2**53 + 1, big, "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"]
              and all(set(p) == {"id"} for p in first["points"])
              and b2["result"]["next_page_offset"] is None
              and b2["result"]["points"][0]["payload"] == {"a": 1})
        s, b, _ = call(base, "POST", "/collections/c/points/scroll", {})
        check("scroll defaults: payload on, limit 10",
              s == 200 and all("payload" in p and "vector" not in p for p in b["result"]["points"]))
        s, b, _ = call(base, "POST", "/collections/c/points/scroll",
                       {"filter": {"must": [{"key": "a", "match": {"value": 2}}]}})
        check("scroll honours the filter", [p["id"] for p in b["result"]["points"]] == [5])
        s, b, _ = call(base, "POST", "/collections/nope/points/scroll", {})
        s2, b2, _ = call(base, "POST", "/collections/nope/points", {"ids": [1]})
        check("scroll and retrieve of a missing collection: 404", s == 404 and s2 == 404)
        s, b, _ = call(base, "GET", "/__emulator/log")
        check("the request log lists API requests with their status",
              {"method": "GET", "path": "/collections/c/points/424242", "status": 404} in b["requests"]
              and not any(r["path"].startswith("/__emulator") for r in b["requests"]))
        s, b, _ = call(base, "PUT", "/collections/c/points?wait=yes", {"points": []})
        check("non-boolean wait: 400", s == 400)
        s, b, _ = call(base, "DELETE", "/collections/c")
        s2, b2, _ = call(base, "DELETE", "/collections/c")
        check("delete collection: true, then false (not 404)", b["result"] is True and b2["result"] is False)
        s, b, _ = call(base, "GET", "/no/such/route")
        check("unknown route: 404 empty body", s == 404 and b == "")
        s, b, _ = call(base, "POST", "/__emulator/faults",
                       {"add": [{"path": "^/$", "status": 429, "retry_after": 3}]})
        req = urllib.request.Request(base + "/")
        try:
            urllib.request.urlopen(req)
            got = None
        except urllib.error.HTTPError as e:
            got = (e.code, e.headers.get("Retry-After"))
        check("fault switch: 429 with Retry-After", got == (429, "3"))
        alias_rules(base)
        collection_options(base)
    finally:
        proc.terminate()
        proc.wait()

    # Every exchange of the first run, errors included, against the spec.
    contract = subprocess.run([sys.executable, os.path.join(HERE, "contract.py"),
                               "--bad-requests-on-purpose",
                               os.path.join(HERE, "qdrant-openapi.json"), record],
                              capture_output=True, text=True)
    os.unlink(record)
    sys.stdout.write("".join(f"# {line}\n" for line in contract.stdout.splitlines()
                             if line.startswith("not ok") or line.startswith("# ")))
    check("every exchange of the self-test validates against qdrant-openapi.json",
          contract.returncode == 0)

    proc, base = start("--api-key", "rw", "--read-only-key", "ro", "--max-body", "100")
    try:
        s, b, ct = call(base, "GET", "/collections")
        check("no key: 401 plain text", s == 401 and "text/plain" in ct
              and b == "Must provide an API key or an Authorization bearer token")
        s, b, _ = call(base, "GET", "/collections", headers={"api-key": "nope"})
        check("unknown key: 401 'Invalid API key or JWT'", s == 401 and b == "Invalid API key or JWT")
        s, b, _ = call(base, "GET", "/collections", headers={"Authorization": "Bearer ro"})
        check("read-only key may read (Bearer form)", s == 200)
        s, b, _ = call(base, "PUT", "/collections/x", {"vectors": {"size": 2, "distance": "Dot"}},
                       headers={"api-key": "ro"})
        check("read-only key writing: 403 JSON", s == 403 and
              b["status"]["error"] == "Forbidden: Global manage access is required")
        s, b, _ = call(base, "GET", "/readyz")
        check("health needs no key", s == 200)
        s, b, _ = call(base, "PUT", "/collections/x", raw=b"{" + b" " * 200 + b"}",
                       headers={"api-key": "rw"})
        check("body over the limit: 400 Payload error", s == 400 and
              b["status"]["error"].startswith("Payload error: JSON payload (202 bytes) is larger than allowed"))
    finally:
        proc.terminate()
        proc.wait()

    proc, base = start("--absent-fields", "null", "--scroll-cap", "2")
    try:
        call(base, "PUT", "/collections/c", {"vectors": {"size": 2, "distance": "Dot"}})
        call(base, "PUT", "/collections/c/points?wait=true",
             {"points": [{"id": i, "vector": [1, 0]} for i in (9, 3, 2**64 - 1, 4)]})
        s, b, _ = call(base, "POST", "/collections/c/points/scroll",
                       {"limit": 3, "offset": 4, "with_payload": False})
        check("--scroll-cap 2: two points whatever the limit; --absent-fields null: keys present and null",
              [p["id"] for p in b["result"]["points"]] == [4, 9]
              and b["result"]["next_page_offset"] == 2**64 - 1
              and all(p["payload"] is None and p["vector"] is None for p in b["result"]["points"]))
    finally:
        proc.terminate()
        proc.wait()

    for i, (name, passed) in enumerate(results, 1):
        print(f"{'ok' if passed else 'not ok'} {i} - {name}")
    print(f"1..{len(results)}")


if __name__ == "__main__":
    main()
