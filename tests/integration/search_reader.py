#!/usr/bin/env python3
"""A reader searching a collection in a loop while embsync rebuilds it.

    search_reader.py EMBSYNC OLD.ini NEW.ini COLLECTION IMAGE OUT STOPFILE

Each sample searches COLLECTION for IMAGE twice, its query embedded once by
the old model (OLD.ini's embedder) and once by the new one (NEW.ini's): the
collection holds IMAGE, so the model whose vectors it holds finds it at
score 1 and the other model's query finds nothing that near.  One line per
sample goes to OUT: "TIME old|new|both|neither|failed|empty DETAIL".  The
loop ends when STOPFILE exists (after one more sample).

    search_reader.py --check OUT [--allow-gap N]

checks a finished OUT: every sample answered, from the old model until the
switch and from the new one after it (old* then new*, "both" only at the
switch), none failed or came back empty (--allow-gap N: at most N samples
did, all at the switch: the one switch-over over a plain collection).
Prints a summary; exits 1 on a violation.
"""
import json
import os
import subprocess
import sys
import time

NEAR = 0.999


def search(embsync, ini, collection, image):
    p = subprocess.run([embsync, "search", "-c", ini, "--collection", collection,
                        "--image", image, "-k", "3", "--format", "json"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return "failed", p.stderr.strip().splitlines()[-1:] or [""]
    try:
        hits = json.loads(p.stdout)
    except ValueError:
        return "failed", ["unreadable output"]
    if isinstance(hits, dict):
        hits = hits.get("hits", [])
    if not hits:
        return "empty", []
    return "ok", [h.get("score", 0) for h in hits]


def read(argv):
    embsync, old_ini, new_ini, collection, image, out, stop = argv
    with open(out, "w") as f:
        while True:
            last = os.path.exists(stop)
            t = time.time()
            a, old = search(embsync, old_ini, collection, image)
            b, new = search(embsync, new_ini, collection, image)
            if "failed" in (a, b):
                label = "failed"
            elif "empty" in (a, b):
                label = "empty"
            else:
                o, n = old[0] >= NEAR, new[0] >= NEAR
                label = "both" if o and n else "old" if o else "new" if n else "neither"
            f.write(f"{t:.6f} {label} {json.dumps([old, new])}\n")
            f.flush()
            if last:
                return 0


def check(argv):
    out = argv[0]
    allow = int(argv[argv.index("--allow-gap") + 1]) if "--allow-gap" in argv else 0
    lines = open(out).read().splitlines()
    labels = [line.split(" ", 2)[1] for line in lines]
    counts = {k: labels.count(k) for k in sorted(set(labels))}
    print(f"# {len(labels)} samples: {counts}")
    bad = [i for i, l in enumerate(labels) if l in ("failed", "empty", "neither")]
    phase, errors = "old", []
    for i, l in enumerate(labels):
        if l == "old" and phase == "new":
            errors.append(f"sample {i} answered from the old model after the new one")
        if l in ("new", "both"):
            phase = "new"
    if len(bad) > allow:
        errors.append(f"{len(bad)} samples failed, came back empty or from neither "
                      f"model (allowed {allow}): {[labels[i] for i in bad]}")
    first_new = next((i for i, l in enumerate(labels) if l in ("new", "both")), len(labels))
    last_old = max((i for i, l in enumerate(labels) if l == "old"), default=-1)
    for i in bad:
        if not last_old <= i <= first_new:
            errors.append(f"sample {i} ({labels[i]}) is not at the switch")
    if "old" not in labels or "new" not in labels:
        errors.append("the samples do not span the switch (no old or no new answer)")
    for e in errors:
        print("# " + e)
    for i in bad:
        print(f"# sample {i}: {lines[i]}")
    return 1 if errors else 0


if __name__ == "__main__":
    if sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2:]))
    sys.exit(read(sys.argv[1:]))
