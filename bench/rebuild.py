#!/usr/bin/env python3
"""A model change rebuilt beside the live collection, measured.

    bench/rebuild.py BUILDDIR SRCDIR [--quick] [--store faiss|qdrant]

For each store (faiss-local, and Qdrant through its emulator): a folder of
20,000 items (2,000 with --quick) synced with the null embedder, then the
model changed (its seed) while a reader searches the collection in a loop:
  - first_sync_s:  wall time of the plain first sync;
  - rebuild_s:     wall time of the run that rebuilds beside the live
                   collection and switches, with the reader running, and
                   rebuild_quiet_s without it;
  - longest_gap_s: the longest time between two answered searches during
                   that run (searches failed or empty are counted too),
                   beside the median time between two searches (what the
                   gap is when no answer is missing);
  - then a rebuild killed (kill -9) half way through its fill and resumed
    by the next run: items in the shadow at the kill, items the resuming
    run embedded, and re-embedded = those embedded again although the
    shadow held them (target 0).
Prints one JSON object per store on stdout (bench/run makes rows of them).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BUILD, SRC = (os.path.abspath(a) for a in sys.argv[1:3])
QUICK = "--quick" in sys.argv
STORES = [sys.argv[sys.argv.index("--store") + 1]] if "--store" in sys.argv else ["faiss", "qdrant"]
PY = sys.executable
EMBSYNC = os.path.join(BUILD, "embsync")
CRASH = os.path.join(BUILD, "tests", "crash", "embsync-crash")
ITEMS = 2000 if QUICK else 20000
BATCH = 64
WORK = tempfile.mkdtemp(prefix="embsync-rebuild.")


def make_items(root):
    os.makedirs(root)
    for i in range(ITEMS):
        with open(os.path.join(root, f"p{i:06d}.jpg"), "wb") as f:
            f.write(b"\xff\xd8\xff\xe0" + i.to_bytes(4, "big") + b"bench")


def start_qdrant():
    port_file = os.path.join(WORK, "qdrant.port")
    p = subprocess.Popen([PY, os.path.join(SRC, "tests", "emulators", "qdrant", "qdrant_emulator.py"),
                          "--port", "0", "--port-file", port_file],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(WORK, "qdrant.log"), "w"))
    for _ in range(400):
        if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
            return p, int(open(port_file).read().strip())
        time.sleep(0.05)
    sys.exit("rebuild bench: the Qdrant emulator did not start")


def config(store, seed, qd_port):
    path = os.path.join(WORK, f"{store}-{seed}.ini")
    section = (f"plugin = qdrant\nurl = http://127.0.0.1:{qd_port}\nbatch_size = 256"
               if store == "qdrant" else "plugin = faiss-local")
    with open(path + ".new", "w") as f:
        f.write(f"""[core]
state_dir = {WORK}/{store}-state
plugin_path = {BUILD}/plugins
batch_size = {BATCH}
log_level = info
[source]
plugin = dir
root = {WORK}/items
[embedder]
plugin = null
dim = 64
seed = {seed}
[store]
{section}
""")
    os.replace(path + ".new", path)
    return path


def run(binary, ini, env=None):
    t0 = time.monotonic()
    p = subprocess.run([binary, "once", "-c", ini], capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    return time.monotonic() - t0, p.returncode, p.stderr


def embedded(log):
    m = re.findall(r"collection photos: (\d+) embedded", log)
    return int(m[-1]) if m else None


class Reader(threading.Thread):
    """Searches in a loop; records when each answer came and how it ended."""

    def __init__(self, store, ini, qd_port, probe):
        super().__init__(daemon=True)
        self.store, self.ini, self.qd_port, self.probe = store, ini, qd_port, probe
        self.samples = []          # (monotonic time, answered)
        self.done = threading.Event()
        self.vector = None

    def search_once(self):
        if self.store == "qdrant":
            body = json.dumps({"vector": self.vector, "limit": 3}).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{self.qd_port}/collections/photos/points/search",
                                         data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return bool(json.load(r)["result"])
            except Exception:
                return False
        p = subprocess.run([EMBSYNC, "search", "-c", self.ini, "--collection", "photos",
                            "--image", self.probe, "-k", "3"], capture_output=True, text=True)
        return p.returncode == 0 and p.stdout.strip() != ""

    def run(self):
        self.vector = [1.0] + [0.0] * 63
        while not self.done.is_set():
            ok = self.search_once()
            self.samples.append((time.monotonic(), ok))

    def longest_gap(self, start, end):
        """Longest time in [start, end] without an answered search."""
        last, gap, failed = start, 0.0, 0
        for t, ok in self.samples:
            if t < start or t > end:
                continue
            if ok:
                gap, last = max(gap, t - last), t
            else:
                failed += 1
        gap = max(gap, end - last)
        times = [t for t, _ in self.samples if start <= t <= end]
        steps = sorted(b - a for a, b in zip(times, times[1:]))
        median = steps[len(steps) // 2] if steps else 0.0
        return gap, failed, len(times), median


def count_points(store, ini, collection, qd_port):
    if store == "qdrant":
        req = urllib.request.Request(f"http://127.0.0.1:{qd_port}/collections/{collection}/points/count",
                                     data=b'{"exact": true}', headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.load(r)["result"]["count"]
    p = subprocess.run([EMBSYNC, "search", "-c", ini, "--collection", collection, "--image",
                        os.path.join(WORK, "items", "photos", "p000001.jpg"), "-k", str(ITEMS * 2)],
                       capture_output=True, text=True)
    return len(p.stdout.splitlines())


def bench_store(store, qd_port):
    figures = {"store": "faiss-local" if store == "faiss" else "qdrant (emulator)", "items": ITEMS}
    probe = os.path.join(WORK, "items", "photos", "p000007.jpg")
    wall, rc, log = run(EMBSYNC, config(store, 0, qd_port))
    if rc != 0:
        sys.exit(f"rebuild bench: first sync failed:\n{log}")
    figures["first_sync_s"] = round(wall, 2)

    # The first switch replaces a plain collection (the one switch-over a
    # store cannot avoid); the figures are those of the next one, alias to
    # alias, as every model change after the first.
    for seed, key in ((1, "first_switch"), (2, "rebuild")):
        reader = Reader(store, config(store, seed - 1, qd_port), qd_port, probe)
        reader.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        wall, rc, log = run(EMBSYNC, config(store, seed, qd_port))
        t1 = time.monotonic()
        time.sleep(0.3)
        reader.done.set()
        reader.join()
        if rc != 0 or "(rebuilt)" not in log:
            sys.exit(f"rebuild bench: the rebuild to seed {seed} failed:\n{log}")
        gap, failed, n, median = reader.longest_gap(t0, t1)
        figures[f"{key}_s"] = round(wall, 2)
        figures[f"{key}_longest_gap_s"] = round(gap, 3)
        figures[f"{key}_failed_searches"] = failed
        figures[f"{key}_searches"] = n
        # A search's own time: the gap with nothing missing.
        figures[f"{key}_median_search_interval_s"] = round(median, 3)
        figures[f"{key}_embedded"] = embedded(log)

    # The wall time without a reader loading the server (the emulator
    # searches by a scan in Python, which slows every other request).
    wall, rc, log = run(EMBSYNC, config(store, 3, qd_port))
    if rc != 0 or "(rebuilt)" not in log:
        sys.exit(f"rebuild bench: the rebuild to seed 3 failed:\n{log}")
    figures["rebuild_quiet_s"] = round(wall, 2)

    # Killed half way through the fill, then resumed.
    half = ITEMS // BATCH // 2
    _, rc, log = run(CRASH, config(store, 4, qd_port), {"EMBSYNC_CRASH_AT": f"after-store:{half}"})
    if rc != -9:
        sys.exit(f"rebuild bench: the run to be killed exited {rc}:\n{log}")
    record = json.load(open(os.path.join(WORK, f"{store}-state", "core", "rebuild", "photos.json")))
    in_shadow = count_points(store, config(store, 4, qd_port), record["shadow"], qd_port)
    wall, rc, log = run(EMBSYNC, config(store, 4, qd_port))
    if rc != 0 or "resuming the build of" not in log:
        sys.exit(f"rebuild bench: the resuming run failed:\n{log}")
    resumed = embedded(log)
    figures["killed_in_shadow"] = in_shadow
    figures["resumed_embedded"] = resumed
    figures["re_embedded_after_kill"] = resumed - (ITEMS - in_shadow)
    figures["resume_s"] = round(wall, 2)
    return figures


def main():
    make_items(os.path.join(WORK, "items", "photos"))
    qp, qd_port = start_qdrant() if "qdrant" in STORES else (None, 0)
    try:
        for store in STORES:
            print(json.dumps(bench_store(store, qd_port)), flush=True)
    finally:
        if qp is not None:
            qp.terminate()
            qp.wait()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
