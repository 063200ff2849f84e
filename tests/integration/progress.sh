#!/bin/sh
# Progress that tells the truth: on a terminal (faked with script(1) from bsdutils) one
# live line per collection with done/total, percentage, rate and time left,
# cleared around every log line so none is overwritten or glued on; without
# a terminal, progress log lines at a steady interval and no escape codes;
# /progress gives the dir source's total.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
embsync="$top_builddir/embsync"
cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
write_ini() { # $1 = extra [core] lines
    cat >"$work/e.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
batch_size = 1
$1
[source]
plugin = dir
root = $work/images
[embedder]
plugin = descriptor
[store]
plugin = faiss-local
INI
}
write_ini ""
shapes=$(find "$work/images/shapes" -type f \( -name '*.jpg' -o -name '*.png' \) | wc -l)

if command -v script >/dev/null; then
    script -q -e -c "'$embsync' once -c '$work/e.ini'" /dev/null >"$work/tty.out" 2>&1
    ok $? "once on a terminal exits 0"
    "$PYTHON3" - "$work/tty.out" "$shapes" <<'PY'
import re, sys
raw = open(sys.argv[1], "rb").read().decode()
total = sys.argv[2]
clear = "\r\x1b[K"
stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")
live = re.compile(r"(shapes|textures): (\d+)/(\d+) \((\d+)%\)(, \d+ failed)?, \d+/s, (\d+ s left|done)")
lines = [m for m in live.finditer(raw)]
assert lines, "no live progress line: " + repr(raw[:400])
shapes = [m for m in lines if m.group(1) == "shapes"]
assert shapes and all(m.group(3) == total for m in shapes), (total, [m.group(0) for m in shapes])
assert shapes[-1].group(2) == total and shapes[-1].group(4) == "100", shapes[-1].group(0)
assert any(m.group(6).endswith("left") for m in lines) or len(shapes) == 1, [m.group(0) for m in lines]
# Each live line and each log line starts on a line of its own: at the
# start, after a newline, or after the clearing sequence.
for m in list(lines) + list(stamp.finditer(raw)):
    before = raw[:m.start()]
    assert before == "" or before.endswith("\n") or before.endswith(clear), \
        "glued: " + repr(raw[max(0, m.start() - 60):m.end()])
# Nothing is left drawn after the last log line.
assert raw.rstrip("\r\n").split("\n")[-1].lstrip(clear).startswith(tuple("0123456789")), repr(raw[-200:])
PY
    ok $? "the terminal shows done/total, %, rate and time left; log lines never glued on" ||
        cat -v "$work/tty.out" | head -n 20 | sed 's/^/# /'
else
    tap_n=$((tap_n + 2))
    echo "ok $((tap_n - 1)) - once on a terminal # SKIP script(1) (bsdutils) missing"
    echo "ok $tap_n - live progress line # SKIP script(1) (bsdutils) missing"
fi

# Without a terminal: a progress log line every interval (shortened here).
rm -rf "$work/state"
EMBSYNC_PROGRESS_INTERVAL=0.001 "$embsync" once -c "$work/e.ini" 2>"$work/pipe.err"
ok $? "once without a terminal exits 0"
grep -qE "info +progress: shapes: [0-9]+/$shapes \([0-9]+%\), [0-9]+/s, " "$work/pipe.err" &&
    ! grep -q "$(printf '\033')" "$work/pipe.err"
ok $? "without a terminal: progress log lines with the total, no escape codes" ||
    sed 's/^/# /' "$work/pipe.err" | head -n 20
rm -rf "$work/state"
"$embsync" once -c "$work/e.ini" 2>"$work/quiet.err"
! grep -q "progress:" "$work/quiet.err"
ok $? "a pass shorter than the interval (10 s) logs no progress line"

# /progress: the dir source's total while a pass runs.
mkdir -p "$work/images/shapes/bulk"
for f in $(find "$work/images" -type f -name '*.png' | head -n 10); do
    for k in $(seq 1 40); do cp "$f" "$work/images/shapes/bulk/$(basename "$f" .png)-$k.png"; done
done
rm -rf "$work/state"
shapes=$(find "$work/images/shapes" -type f \( -name '*.jpg' -o -name '*.png' \) | wc -l)
port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_ini "listen = 127.0.0.1:$port
interval = 60"
"$embsync" run -c "$work/e.ini" 2>"$work/daemon.log" &
pid=$!
seen=""
for _ in $(seq 1 400); do
    body=$(curl -s "http://127.0.0.1:$port/progress?collection=shapes")
    case "$body" in
    *'"done":0,'*) ;;
    *'"state":"running"'*'"done":'*) seen=$body; break ;;
    esac
    sleep 0.02
done
echo "$seen" | "$PYTHON3" -c '
import json, sys
p = json.load(sys.stdin)
assert p["state"] == "running" and p["collection"] == "shapes", p
assert p["total"] == int(sys.argv[1]) and 0 < p["done"] <= p["total"], p
' "$shapes"
ok $? "/progress gives the dir source's total ($shapes) while the pass runs" ||
    echo "# $seen"
kill "$pid"
wait "$pid"
pid=""
done_testing
