#!/bin/sh
# The clip embedder over several CLIP-as-service emulators: jobs spread by
# fewest in flight, a not-ready endpoint skipped, one endpoint killed mid-run
# and started again (every image embedded exactly once, the endpoint back in
# rotation), an endpoint not ready for a while (skipped, then used again),
# an endpoint answering 429 for a while (fewer requests in flight, then more
# again), per-endpoint metrics without a token, and embed calls of the core
# in flight at once (ABI 1.4 concurrent_calls) over two endpoints.
set -u
. "$top_srcdir/tests/integration/tap.sh"
. "$top_srcdir/tests/emulators/emulator.sh"

work=$(mktemp -d)
restarted=""
trap 'stop_emulators; [ -n "$restarted" ] && kill $restarted 2>/dev/null; rm -rf "$work"' EXIT
emu="$top_srcdir/tests/emulators/clip/clip_emulator.py"
embsync="$top_builddir/embsync"
export EMBSYNC_RETRY_SCALE=0.02
tok_a="tokA-$(date +%s)-secret"
tok_b="tokB-$(date +%s)-secret"
tok_c="tokC-$(date +%s)-secret"

# N distinct pictures: the samples, each copied with a different tail byte
# string (decoders ignore what follows the image).
images() { # $1 = folder, $2 = copies of each sample
    mkdir -p "$1"
    i=0
    for f in $(find "$top_srcdir/samples" -name '*.png' -o -name '*.jpg' | sort); do
        for k in $(seq 1 "$2"); do
            i=$((i + 1))
            ext=${f##*.}
            cp "$f" "$1/img-$i.$ext"
            printf 'copy %s of %s in %s' "$k" "$i" "$1" >>"$1/img-$i.$ext"
        done
    done
}
images "$work/images/set" 3
n_images=$(find "$work/images/set" -type f | wc -l)

start_emulator a "$emu" --dim 32 --prefix "/net/$tok_a" --batch-cost-ms 40 --item-cost-ms 2 \
    --record "$work/a.rec"
start_emulator b "$emu" --dim 32 --prefix "/net/$tok_b" --batch-cost-ms 40 --item-cost-ms 2 \
    --record "$work/b.rec"
start_emulator c "$emu" --dim 32 --prefix "/net/$tok_c" --not-ready 1000000000 \
    --record "$work/c.rec"
url_a="http://127.0.0.1:$a_port/net/$tok_a"
url_b="http://127.0.0.1:$b_port/net/$tok_b"
url_c="http://127.0.0.1:$c_port/net/$tok_c"
write_ini() { # $1 = urls, $2 = more clip lines, $3 = more core lines
    cat >"$work/c.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = ${core_batch:-16}
${3:-}
[source]
plugin = dir
root = $work/images
[embedder]
plugin = clip
url = $1
dim = 32
batch_size = ${clip_batch:-2}
parallel_requests = ${parallel:-4}
${2:-}
[store]
plugin = faiss-local
INI
}
# Images (by content) in the records: "hash count" lines.
embedded() { cat "$@" 2>/dev/null | "$PYTHON3" -c '
import collections, json, sys
seen = collections.Counter()
for line in sys.stdin:
    r = json.loads(line)
    if r["status"] == 200:
        seen.update(r.get("images", []))
for h, n in sorted(seen.items()):
    print(h, n)'; }
posts() { # $1 = record: /post requests answered 200
    _n=$(grep -c '"status": 200' "$1" 2>/dev/null)
    echo "${_n:-0}"
}
stored() { # the set folder is stored exactly
    "$embsync" search -c "$work/c.ini" --collection set --text "anything" -k 100000 2>/dev/null |
        "$PYTHON3" "$top_srcdir/tests/integration/store_matches.py" "$work/images/set"
}

write_ini "$url_a, $url_b $url_c"
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
ok $? "a sync over three endpoints, one never ready, exits 0" || sed 's/^/# /' "$work/once.log"
stored
ok $? "every image is stored"
[ "$(embedded "$work/a.rec" "$work/b.rec" | wc -l)" -eq "$n_images" ] &&
    [ -z "$(embedded "$work/a.rec" "$work/b.rec" | awk '$2 != 1')" ]
ok $? "each of the $n_images images was embedded exactly once" ||
    embedded "$work/a.rec" "$work/b.rec" | awk '$2 != 1' | sed 's/^/# twice: /'
[ "$(posts "$work/c.rec")" -eq 0 ] && grep -q "out of rotation: not ready" "$work/once.log"
ok $? "the endpoint that is not ready gets no request"
pa=$(posts "$work/a.rec")
pb=$(posts "$work/b.rec")
# Same service time at both: fewest-in-flight keeps them within a third.
[ "$pa" -gt 0 ] && [ "$pb" -gt 0 ] && [ $((pa * 3)) -ge $((pb * 2)) ] && [ $((pb * 3)) -ge $((pa * 2)) ]
ok $? "requests are spread over the ready endpoints ($pa and $pb)"
max_a=$(curl -s "$url_a/__emulator/state" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["max_active"])')
[ "$max_a" -ge 2 ]
ok $? "an endpoint had more than one request in flight (up to $max_a)"
! grep -q "$tok_a\|$tok_b\|$tok_c" "$work/once.log"
ok $? "no endpoint's token appears in the log"

# Failover: A dies with its fifth request in flight and is started again on
# the same port; the run goes on at B, then at both.
images "$work/images/more" 3
n_more=$(find "$work/images/more" -type f | wc -l)
write_ini "$url_a, $url_b"
: >"$work/a.rec"
: >"$work/b.rec"
curl -s -X POST "$url_a/__emulator/faults" -d '{"add": [{"remaining": 4}, {"exit": true}]}' >/dev/null
(
    while curl -sf -o /dev/null "$url_a/"; do sleep 0.05; done
    exec "$PYTHON3" "$emu" --port "$a_port" --dim 32 --prefix "/net/$tok_a" --batch-cost-ms 40 \
        --item-cost-ms 2 --record "$work/a.rec" 2>>"$work/a2-emulator.log"
) &
restarted=$!
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
ok $? "a sync during which one endpoint dies exits 0" || sed 's/^/# /' "$work/once.log"
"$embsync" search -c "$work/c.ini" --collection more --text "anything" -k 100000 2>/dev/null |
    "$PYTHON3" "$top_srcdir/tests/integration/store_matches.py" "$work/images/more"
ok $? "every new image is stored"
[ "$(embedded "$work/a.rec" "$work/b.rec" | wc -l)" -eq "$n_more" ] &&
    [ -z "$(embedded "$work/a.rec" "$work/b.rec" | awk '$2 != 1')" ]
ok $? "each of the $n_more new images was embedded exactly once, none lost with the dead endpoint" ||
    embedded "$work/a.rec" "$work/b.rec" | awk '$2 != 1' | sed 's/^/# twice: /'
grep -q "CLIP endpoint http://127.0.0.1:$a_port/net/\*\*\* out of rotation" "$work/once.log" &&
    grep -q "CLIP endpoint http://127.0.0.1:$a_port/net/\*\*\* back in rotation" "$work/once.log"
ok $? "the dead endpoint left the rotation and came back" || sed 's/^/# /' "$work/once.log"
# The fifth request was the one in flight when A died; anything A recorded
# beyond its first four answers came after its restart.
[ "$(posts "$work/a.rec")" -gt 4 ]
ok $? "the restarted endpoint took requests again ($(posts "$work/a.rec") at A)"
! grep -q "$tok_a\|$tok_b" "$work/once.log"
ok $? "no token in the log of the failover"

# An endpoint that goes not ready (dry_run code 1, /post 503) is skipped,
# polled, and used again once it is ready.
images "$work/images/later" 6
curl -s -X POST "$url_b/__emulator/ready" -d '{"ready": false}' >/dev/null
: >"$work/b.rec"
( sleep 0.6; curl -s -X POST "$url_b/__emulator/ready" -d '{"ready": true}' >/dev/null ) &
readier=$!
write_ini "$url_b, $url_c, $url_a"
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
ok $? "a sync while one endpoint is not ready exits 0" || sed 's/^/# /' "$work/once.log"
wait "$readier"
"$embsync" search -c "$work/c.ini" --collection later --text "anything" -k 100000 2>/dev/null |
    "$PYTHON3" "$top_srcdir/tests/integration/store_matches.py" "$work/images/later"
ok $? "every image is stored"
grep -q "CLIP endpoint http://127.0.0.1:$b_port/net/\*\*\* out of rotation: not ready" "$work/once.log" &&
    grep -q "CLIP endpoint http://127.0.0.1:$b_port/net/\*\*\* back in rotation" "$work/once.log" &&
    [ "$(posts "$work/b.rec")" -gt 0 ]
ok $? "the endpoint left the rotation while not ready and took requests once ready ($(posts "$work/b.rec"))" ||
    grep "CLIP endpoint" "$work/once.log" | sed 's/^/# /'

# 429 for a while: one endpoint, up to 6 in flight.  Its window halves on
# the 429s (one request at a time), then grows again.
kill "$restarted" 2>/dev/null
wait "$restarted" 2>/dev/null
restarted=""
images "$work/images/busy" 6
parallel=6 core_batch=400 write_ini "$url_b"
: >"$work/b.rec"
curl -s -X POST "$url_b/__emulator/faults" \
    -d '{"add": [{"remaining": 30}, {"status": 429, "remaining": 20}]}' >/dev/null
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
ok $? "a sync through a spell of 429s exits 0" || sed 's/^/# /' "$work/once.log"
"$PYTHON3" - "$work/b.rec" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
first = next(i for i, r in enumerate(recs) if r["status"] == 429)
last = max(i for i, r in enumerate(recs) if r["status"] == 429)
before = max(r["active"] for r in recs[:first])
# The last 429s come once the requests sent before the first have drained.
late = [r["active"] for r in recs[first:last + 1] if r["status"] == 429][-3:]
after = max(r["active"] for r in recs[last + 1:])
print(f"# in flight: up to {before} before, {late} at the last 429s, up to {after} after")
sys.exit(0 if before >= 3 and max(late) == 1 and after >= 2 else 1)
PY
ok $? "in flight went down to one on the 429s and up again after"

# The daemon's metrics: one series per endpoint, labelled without a token.
# B is up; C is never ready.
port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_ini "$url_b, $url_c" "" "interval = 600
listen = 127.0.0.1:$port"
"$embsync" run -c "$work/c.ini" 2>"$work/run.log" &
daemon=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics" 2>/dev/null &&
        grep -q 'embsync_plugin_endpoint_up' "$work/metrics" && break
    sleep 0.1
done
kill "$daemon"
wait "$daemon" 2>/dev/null
grep -q "embsync_plugin_endpoint_up{plugin=\"clip\",endpoint=\"http://127.0.0.1:$b_port/net/\*\*\*\"} 1" "$work/metrics" &&
    grep -q "embsync_plugin_endpoint_up{plugin=\"clip\",endpoint=\"http://127.0.0.1:$c_port/net/\*\*\*\"} 0" "$work/metrics" &&
    grep -q "embsync_plugin_endpoint_window{plugin=\"clip\"" "$work/metrics"
ok $? "metrics show each endpoint, up or not, with its window" || grep endpoint "$work/metrics" | sed 's/^/# /'
! grep -q "$tok_b\|$tok_c" "$work/metrics" "$work/run.log"
ok $? "no token in the metrics or the daemon's log"

# Two embed calls at once: every call is one request (core batch = clip
# batch) and each endpoint takes one at a time, so only calls in flight
# together can keep both replicas busy at the same moment.
start_emulator d "$emu" --dim 32 --batch-cost-ms 150 --record "$work/d.rec"
start_emulator e "$emu" --dim 32 --batch-cost-ms 150 --record "$work/e.rec"
images "$work/images/pairs" 1
rm -rf "$work/images/set" "$work/images/more" "$work/images/later" "$work/images/busy"
n_pairs=$(find "$work/images/pairs" -type f | wc -l)
parallel=1 core_batch=4 clip_batch=4 write_ini "http://127.0.0.1:$d_port, http://127.0.0.1:$e_port"
"$embsync" once -c "$work/c.ini" 2>"$work/once.log"
ok $? "a sync of one call per request over two endpoints exits 0" || sed 's/^/# /' "$work/once.log"
[ "$(embedded "$work/d.rec" "$work/e.rec" | wc -l)" -eq "$n_pairs" ] &&
    [ -z "$(embedded "$work/d.rec" "$work/e.rec" | awk '$2 != 1')" ]
ok $? "each of the $n_pairs images was embedded exactly once"
"$PYTHON3" - "$work/d.rec" "$work/e.rec" <<'PY'
import json, sys
spans = [[json.loads(l)["replica"] for l in open(f) if '"replica"' in l] for f in sys.argv[1:]]
both = sum(min(a[1], b[1]) - max(a[0], b[0]) for a in spans[0] for b in spans[1]
           if min(a[1], b[1]) > max(a[0], b[0]))
print(f"# {len(spans[0])} and {len(spans[1])} requests; both replicas busy for {both:.2f} s")
sys.exit(0 if both > 0.3 else 1)
PY
ok $? "two calls were in flight at once: both replicas worked at the same time"

done_testing
