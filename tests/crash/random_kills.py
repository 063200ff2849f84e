#!/usr/bin/env python3
"""Kill `embsync once` at random moments of a local sync, change the folder
while it is down, and check that the store converges to the folder exactly.

Each round: add, modify and delete a few files, start `embsync once`, kill
it with SIGKILL after a random delay within the time a full run takes, then
change the folder again.  Every few rounds (and at the end) an unkilled run
follows and the store is compared with the folder: an orphan is a point
whose file is gone or stale, a missing item a file without its point.
Prints the figures as TAP comments.  EMBSYNC_CRASH_SEED picks the seed,
EMBSYNC_CRASH_KILLS the number of kills (20 in make check).
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

KILLS = int(os.environ.get("EMBSYNC_CRASH_KILLS", "20"))
CHECK_EVERY = 4
EXTENSIONS = (".jpg", ".jpeg", ".png")

top_srcdir = os.environ["top_srcdir"]
top_builddir = os.environ["top_builddir"]
embsync = os.path.join(top_builddir, "embsync")

tests = 0
failed = 0


def ok(cond, what):
    global tests, failed
    tests += 1
    if not cond:
        failed += 1
    print(("ok" if cond else "not ok") + f" {tests} - {what}", flush=True)


def images(root):
    found = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.lower().endswith(EXTENSIONS):
                full = os.path.join(dirpath, name)
                found[os.path.relpath(full, root)] = os.stat(full).st_size
    return found


def run(ini, *args, **kw):
    return subprocess.run([embsync, *args, "-c", ini], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kw)


def compare(ini, root, collections):
    """(orphans, missing, problems) of the store against the folder."""
    orphans = missing = 0
    problems = []
    for c in collections:
        want = images(os.path.join(root, c))
        if not want:
            continue
        probe = os.path.join(root, c, sorted(want)[0])
        out = run(ini, "search", "--collection", c, "--image", probe,
                  "-k", "100000")
        if out.returncode != 0:
            problems.append(f"search {c}: {out.stderr.strip()}")
            continue
        seen = {}
        for line in out.stdout.splitlines():
            payload = json.loads(line.split("\t", 3)[3])
            seen[payload["path"]] = payload["size"]
        for path, size in seen.items():
            if want.get(path) != size:
                orphans += 1
                problems.append(f"{c}/{path}: in the store, not in the folder"
                                if path not in want else
                                f"{c}/{path}: stale vector (size {size})")
        for path in want:
            if path not in seen:
                missing += 1
                problems.append(f"{c}/{path}: in the folder, not in the store")
    return orphans, missing, problems


def mutate(rng, root, collections, pool, serial):
    """A few adds, modifications and deletions; returns the new serial."""
    for _ in range(rng.randint(1, 6)):
        c = rng.choice(collections)
        files = sorted(images(os.path.join(root, c)))
        action = rng.choice(("add", "add", "modify", "delete"))
        if action == "add" or len(files) < 4:
            src = rng.choice(pool)
            dst = os.path.join(root, c, f"added-{serial}{os.path.splitext(src)[1]}")
            shutil.copyfile(src, dst)
            serial += 1
        elif action == "modify":
            path = os.path.join(root, c, rng.choice(files))
            src = rng.choice([p for p in pool if p.endswith(os.path.splitext(path)[1])] or pool)
            shutil.copyfile(src, path + ".tmp")
            os.replace(path + ".tmp", path)
            os.utime(path, (time.time() + serial, time.time() + serial))
            serial += 1
        else:
            os.unlink(os.path.join(root, c, rng.choice(files)))
    return serial


def main():
    seed = int(os.environ.get("EMBSYNC_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"# seed {seed} (EMBSYNC_CRASH_SEED={seed} repeats this run)")
    work = tempfile.mkdtemp()
    try:
        root = os.path.join(work, "images")
        os.mkdir(root)
        samples = os.path.join(top_srcdir, "samples")
        collections = sorted(d for d in os.listdir(samples)
                             if os.path.isdir(os.path.join(samples, d)))
        # Three copies of the samples per collection: enough work for a
        # kill to land in the middle of a run.
        for c in collections:
            for k in range(3):
                shutil.copytree(os.path.join(samples, c),
                                os.path.join(root, c, f"copy{k}"))
        pool = [os.path.join(d, f) for d, _, fs in os.walk(samples) for f in fs
                if f.lower().endswith(EXTENSIONS)]
        ini = os.path.join(work, "crash.ini")
        with open(ini, "w") as f:
            f.write(f"""[core]
state_dir = {work}/state
plugin_path = {top_builddir}/plugins
batch_size = 2
log_level = warning
[source]
plugin = dir
root = {root}
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
""")
        # How long a whole first sync takes bounds the kill delays.
        shutil.copytree(root, os.path.join(work, "probe-images"))
        probe_ini = os.path.join(work, "probe.ini")
        with open(ini) as f, open(probe_ini, "w") as g:
            g.write(f.read().replace(f"{work}/state", f"{work}/probe-state")
                    .replace(f"root = {root}", f"root = {work}/probe-images"))
        t = time.monotonic()
        run(probe_ini, "once")
        full = max(time.monotonic() - t, 0.05)
        print(f"# a full sync of {len(images(root))} images takes {full:.2f} s")

        kills = landed = checks = converged = 0
        orphans = missing = 0
        serial = 0
        for round_no in range(1, KILLS + 1):
            serial = mutate(rng, root, collections, pool, serial)
            proc = subprocess.Popen([embsync, "once", "-c", ini],
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, full))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                landed += 1
            proc.wait()
            kills += 1
            serial = mutate(rng, root, collections, pool, serial)
            if round_no % CHECK_EVERY == 0 or round_no == KILLS:
                out = run(ini, "once")
                o, m, problems = compare(ini, root, collections)
                checks += 1
                orphans += o
                missing += m
                good = out.returncode == 0 and o == 0 and m == 0
                converged += good
                ok(good, f"after kill {round_no} the next run exits 0 and the "
                   f"store equals the folder ({o} orphans, {m} missing)")
                for p in problems[:20]:
                    print(f"# {p}")
                if out.returncode != 0:
                    print("# " + out.stderr.strip().replace("\n", "\n# "))
        print(f"# kills: {kills} ({landed} while the run was going), checks: "
              f"{checks}, converged: {converged}, orphans: {orphans}, "
              f"missing: {missing}")
        ok(landed > 0, f"{landed} of {kills} kills landed during a run")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"1..{tests}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
