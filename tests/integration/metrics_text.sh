#!/bin/sh
# /metrics is valid exposition text even for hostile collection names: a
# folder named with a double quote, a backslash and a newline comes back
# escaped, every family has HELP and TYPE, and the strict checker itself
# refuses each kind of malformed text it is meant to catch.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
parse() { "$PYTHON3" "$top_srcdir/tests/integration/prom_parse.py" "$@"; }

# --- the checker refuses what it must ------------------------------------
good='# HELP a_total Things done.
# TYPE a_total counter
a_total{collection="x"} 1
'
printf '%s' "$good" | parse a_total >/dev/null
ok $? "the checker accepts a well-formed family"
refuses() { # $1 = what, $work/bad = the text
    if parse <"$work/bad" >/dev/null 2>"$work/why"; then
        ok 1 "the checker refuses $1"
    else
        ok 0 "the checker refuses $1"
        sed 's/^/# /' "$work/why"
    fi
}
printf '# HELP a_total x\n# TYPE a_total counter\na_total{collection="we"ird"} 1\n' >"$work/bad"
refuses "an unescaped quote in a label value"
printf '# HELP a_total x\n# TYPE a_total counter\na_total{collection="a\\qb"} 1\n' >"$work/bad"
refuses "an unknown escape in a label value"
printf '# HELP a_total x\na_total 1\n# TYPE a_total counter\n' >"$work/bad"
refuses "a sample before its TYPE line"
printf '# TYPE a_total counter\na_total 1\n' >"$work/bad"
refuses "a family without HELP"
printf '# HELP a_total x\n# TYPE a_total counter\na_total{c="1"} 1\n# HELP b x\n# TYPE b gauge\nb 2\n# HELP a_total x\n# TYPE a_total counter\na_total{c="2"} 1\n' >"$work/bad"
refuses "a family written twice"
printf '# HELP a_total x\n# TYPE a_total counter\na_total 1\na_total 2\n' >"$work/bad"
refuses "a series written twice"
printf '# HELP a_total x\n# TYPE a_total counter\na_total one\n' >"$work/bad"
refuses "a value that is not a number"
printf '# HELP a_total x\n# TYPE a_total counter\na_total{c="1",c="2"} 1\n' >"$work/bad"
refuses "a label given twice"
printf '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n' >"$work/bad"
refuses "histogram buckets that are not cumulative"
printf '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n' >"$work/bad"
refuses "a histogram whose _count differs from its +Inf bucket"

# --- embsync's own text, with a hostile collection name ---------------------
weird='we"ird\name
line2'
mkdir -p "$work/images/$weird" "$work/images/plain"
cp "$top_srcdir"/samples/shapes/* "$work/images/$weird/"
cp "$top_srcdir"/samples/shapes/* "$work/images/plain/"
chmod -R u+w "$work/images"
port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/embsync.ini" <<INI
[core]
interval = 60
state_dir = $work/state
plugin_path = $top_builddir/plugins
listen = 127.0.0.1:$port
[source]
plugin = dir
root = $work/images
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
"$top_builddir/embsync" run -c "$work/embsync.ini" 2>"$work/daemon.log" &
pid=$!
code=000
for _ in $(seq 1 150); do
    code=$(curl -s -o "$work/health" -w '%{http_code}' "http://127.0.0.1:$port/health")
    [ "$code" = 200 ] && break
    sleep 0.2
done
[ "$code" = 200 ]
ok $? "the daemon syncs a folder whose name has a quote, a backslash and a newline" ||
    { sed 's/^/# /' "$work/daemon.log" | tail -20; cat "$work/health" | sed 's/^/# /'; }
curl -s -o "$work/metrics" "http://127.0.0.1:$port/metrics"
parse --json embsync_items_total embsync_runs_total embsync_backend_up \
    embsync_build_info embsync_batch_duration_seconds <"$work/metrics" \
    >"$work/samples.json" 2>"$work/parse.err"
ok $? "GET /metrics passes the strict checker and the Prometheus client's parser" ||
    { sed 's/^/# /' "$work/parse.err"; grep -n 'ird' "$work/metrics" | sed 's/^/# /'; }
WEIRD="$weird" "$PYTHON3" - "$work/samples.json" <<'PY'
import json, os, sys
samples = json.load(open(sys.argv[1]))
names = {s["labels"].get("collection") for s in samples
         if s["name"] == "embsync_items_total"}
assert os.environ["WEIRD"] in names, names
assert "plain" in names, names
embedded = [s["value"] for s in samples if s["name"] == "embsync_items_total"
            and s["labels"] == {"collection": os.environ["WEIRD"], "result": "embedded"}]
assert embedded and embedded[0] > 0, embedded
PY
ok $? "the collection label reads back as the folder's exact name, with its items counted"
grep -q 'collection="we\\"ird\\\\name\\nline2"' "$work/metrics"
ok $? "the label value is written with its quote, backslash and newline escaped"
"$PYTHON3" - "$work/metrics" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
fams = {m.group(1) for m in re.finditer(r"^# TYPE (\S+) ", text, re.M)}
helps = {m.group(1) for m in re.finditer(r"^# HELP (\S+) \S", text, re.M)}
assert fams and fams == helps, (fams ^ helps)
PY
ok $? "every family has a non-empty HELP line"
done_testing
