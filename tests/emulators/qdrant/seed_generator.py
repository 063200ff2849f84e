#!/usr/bin/env python3
"""Seed a Qdrant (the emulator, or a real one) with what the Embeddings
Generator leaves behind for a project: a collection named by the project id,
one unnamed 512-float Cosine vector, no metadata (so no record of the
model), a `dataset_id` keyword index, and one point per image whose payload
is exactly dataset_id, full_url, cas_url, updated_at
(README.md here, "What the Embeddings Generator leaves behind").  The REST calls are
the Generator's: create, index, upsert with wait=true.

    seed_generator.py --url URL --collection NAME [--api-key K]
        (--images FILE | --count N [--first-id ID] [--datasets D,D,...])
        [--server URL] [--image-size 224] [--size 512] [--distance Cosine]
        [--no-index]

--images FILE: a JSON list of Supervisely image entities (as images.list
answers: id, datasetId, fullStorageUrl, updatedAt); cas_url is derived from
fullStorageUrl the way the original service does (§3 of supervisely-api.md:
<origin>/previews/q/ext:jpeg/resize:fit:S:S:0/q:70/plain<path>).
--count N: N synthetic images with ids from --first-id (default 1000000),
spread over --datasets (default 1), storage URLs under --server.
Vectors are unit vectors derived from each id (deterministic).
Prints {"collection", "points", "ids": [first, last]} as JSON.
"""
import argparse
import hashlib
import json
import math
import struct
import sys
import urllib.error
import urllib.request
from urllib.parse import quote, urlsplit


def call(base, method, path, body=None, api_key=None):
    """One REST call; returns (status, parsed JSON or text)."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["api-key"] = api_key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            text, status = r.read().decode(), r.status
    except urllib.error.HTTPError as e:
        text, status = e.read().decode(), e.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def must(status, answer, what):
    if status != 200:
        raise SystemExit(f"seed_generator: {what}: HTTP {status}: {answer}")
    return answer


def unit_vector(pid, size):
    """A deterministic dense unit vector for an id."""
    out, counter = [], 0
    while len(out) < size:
        digest = hashlib.sha256(f"{pid}:{counter}".encode()).digest()
        out.extend(v / 2**31 - 1.0 for v in struct.unpack("<8I", digest))
        counter += 1
    out = out[:size]
    norm = math.sqrt(sum(v * v for v in out)) or 1.0
    return [v / norm for v in out]


def cas_url(full, image_size):
    """The resize URL the original service embeds from."""
    parts = urlsplit(full)
    origin = f"{parts.scheme}://{parts.netloc}"
    return (f"{origin}/previews/q/ext:jpeg/resize:fit:{image_size}:{image_size}:0"
            f"/q:70/plain{parts.path}")


def payload_of(image, image_size):
    """The Generator's four keys, nothing else."""
    return {"dataset_id": image["datasetId"],
            "full_url": image["fullStorageUrl"],
            "cas_url": cas_url(image["fullStorageUrl"], image_size),
            "updated_at": image["updatedAt"]}


def synthetic_images(count, first_id, datasets, server):
    return [{"id": first_id + i, "datasetId": datasets[i % len(datasets)],
             "fullStorageUrl": f"{server}/storage/images/original/{first_id + i}.jpg",
             "updatedAt": "2026-11-30T10:00:00.000Z"} for i in range(count)]


def seed(base, collection, images, api_key=None, size=512, distance="Cosine",
         index=True, image_size=224, batch=256):
    """Create the collection as the Generator does and upsert the images."""
    path = "/collections/" + quote(collection, safe="")
    must(*call(base, "PUT", path, {"vectors": {"size": size, "distance": distance}},
               api_key), "create collection")
    if index:
        must(*call(base, "PUT", path + "/index?wait=true",
                   {"field_name": "dataset_id", "field_schema": "keyword"}, api_key),
             "create index")
    for at in range(0, len(images), batch):
        points = [{"id": img["id"], "vector": unit_vector(img["id"], size),
                   "payload": payload_of(img, image_size)}
                  for img in images[at:at + batch]]
        must(*call(base, "PUT", path + "/points?wait=true", {"points": points}, api_key),
             "upsert")
    return len(images)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="Qdrant base URL")
    ap.add_argument("--collection", required=True)
    ap.add_argument("--api-key")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="JSON list of Supervisely image entities")
    src.add_argument("--count", type=int)
    ap.add_argument("--first-id", type=int, default=1000000)
    ap.add_argument("--datasets", default="1")
    ap.add_argument("--server", default="https://sly.example")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--distance", default="Cosine")
    ap.add_argument("--no-index", action="store_true")
    args = ap.parse_args()
    if args.images:
        images = json.load(open(args.images))
    else:
        datasets = [int(d) for d in args.datasets.split(",")]
        images = synthetic_images(args.count, args.first_id, datasets,
                                  args.server.rstrip("/"))
    n = seed(args.url.rstrip("/"), args.collection, images, args.api_key, args.size,
             args.distance, not args.no_index, args.image_size)
    ids = [img["id"] for img in images]
    json.dump({"collection": args.collection, "points": n,
               "ids": [min(ids), max(ids)] if ids else []}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
