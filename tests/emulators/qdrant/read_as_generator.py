#!/usr/bin/env python3
"""Read a project's collection back the way the Embeddings Generator does,
and fail where the Generator would.

The Generator turns every point it reads (scrolls, search hits, retrieves by
id) into a record of exactly id, dataset_id, full_url, cas_url, updated_at
(plus score on hits) by passing the payload's keys as named fields; an
unknown or a missing key raises, and that user's search, diverse sampling
or projection fails (README.md here, "What the Embeddings Generator leaves
behind").
This script does the same three reads through the REST API:

  1. scroll the whole collection with payloads and vectors (projections,
     diverse sampling), page by page on next_page_offset;
  2. per dataset, a search filtered by `dataset_id` (a keyword match) with
     the vector of one of its points (search by image), through both
     /points/query and the legacy /points/search that older clients call;
  3. retrieve every point by id, with payloads and vectors.

    read_as_generator.py --url URL --collection NAME [--api-key K]
        [--expect N] [--page 100]

Prints one JSON object: the number of records read by each way, the
payload key sets seen with their counts, and the records that failed;
exits 1 when any record fails, when the collection is missing or empty, or
when --expect N is given and the scroll did not read exactly N points.
"""
import argparse
import json
import os
import sys
from dataclasses import dataclass
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_generator import call  # noqa: E402


@dataclass(frozen=True)
class ImageInfoLite:
    """The Generator's record: no other field, none optional."""
    id: int
    dataset_id: int
    full_url: str
    cas_url: str
    updated_at: str
    score: float = None


def as_record(point, failures, how):
    """The Generator's conversion; a failure is kept, not raised."""
    payload = point.get("payload")
    try:
        if not isinstance(payload, dict):
            raise TypeError(f"payload is {payload!r}")
        extra = {"score": point["score"]} if "score" in point else {}
        return ImageInfoLite(id=point["id"], **payload, **extra)
    except TypeError as e:
        failures.append({"how": how, "id": point.get("id"), "error": str(e)})
        return None


def answer(status, body, what):
    if status != 200:
        raise SystemExit(json.dumps({"error": f"{what}: HTTP {status}: {body}"}))
    return body["result"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--collection", required=True)
    ap.add_argument("--api-key")
    ap.add_argument("--expect", type=int)
    ap.add_argument("--page", type=int, default=100)
    args = ap.parse_args()
    base = args.url.rstrip("/")
    path = "/collections/" + quote(args.collection, safe="")
    failures, key_sets = [], {}

    def seen(point):
        keys = ",".join(sorted((point.get("payload") or {}).keys()))
        key_sets[keys] = key_sets.get(keys, 0) + 1

    scrolled, vectors, offset = [], {}, None
    while True:
        body = {"limit": args.page, "with_payload": True, "with_vector": True}
        if offset is not None:
            body["offset"] = offset
        page = answer(*call(base, "POST", path + "/points/scroll", body, args.api_key),
                      "scroll")
        for point in page["points"]:
            seen(point)
            rec = as_record(point, failures, "scroll")
            if rec is not None:
                scrolled.append(rec)
                vectors.setdefault(rec.dataset_id, point.get("vector"))
        offset = page.get("next_page_offset")
        if offset is None:
            break

    searched = 0
    for dataset_id, vector in sorted(vectors.items()):
        flt = {"must": [{"key": "dataset_id", "match": {"value": dataset_id}}]}
        hits = answer(*call(base, "POST", path + "/points/query", {
            "query": vector, "limit": 20, "with_payload": True, "filter": flt},
            args.api_key), "query")["points"]
        hits += answer(*call(base, "POST", path + "/points/search", {
            "vector": vector, "limit": 20, "with_payload": True, "filter": flt},
            args.api_key), "search")
        for hit in hits:
            rec = as_record(hit, failures, "search")
            if rec is not None:
                searched += 1
                if rec.dataset_id != dataset_id:
                    failures.append({"how": "search", "id": rec.id,
                                     "error": f"dataset {rec.dataset_id} under filter {dataset_id}"})

    retrieved = 0
    ids = [r.id for r in scrolled]
    for at in range(0, len(ids), args.page):
        for point in answer(*call(base, "POST", path + "/points", {
                "ids": ids[at:at + args.page], "with_payload": True, "with_vector": True},
                args.api_key), "retrieve"):
            if as_record(point, failures, "retrieve") is not None:
                retrieved += 1

    report = {"collection": args.collection, "scrolled": len(scrolled),
              "searched": searched, "retrieved": retrieved,
              "payload_keys": key_sets, "failures": failures[:20],
              "failed": len(failures)}
    json.dump(report, sys.stdout)
    print()
    bad = failures or not scrolled or retrieved != len(scrolled) or (
        args.expect is not None and len(scrolled) + len(
            [f for f in failures if f["how"] == "scroll"]) != args.expect)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
