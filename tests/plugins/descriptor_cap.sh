#!/bin/sh
# Hostile pictures through the real binary: a PNG whose header claims
# 30000 x 30000 pixels (2.7 GB decoded) fails alone, named and with its
# size in the reason, before anything is allocated; the descriptor's
# max_pixels key sets the cap; every other image still embeds.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
embsync="$top_builddir/embsync"
cp -R "$top_srcdir/samples" "$work/images"
chmod -R u+w "$work/images"
"$PYTHON3" - "$work/images/shapes/huge.png" <<'PY'
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                              chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b""))
PY
write_ini() { # $1 = extra [embedder] line
    cat >"$work/e.ini" <<INI
[core]
state_dir = $work/state
plugin_path = $top_builddir/plugins
[source]
plugin = dir
root = $work/images
[embedder]
plugin = descriptor
$1
[store]
plugin = faiss-local
INI
}
write_ini ""
shapes=$(find "$work/images/shapes" -type f \( -name '*.jpg' -o -name '*.png' \) | wc -l)
"$embsync" once -c "$work/e.ini" 2>"$work/once.err"
ok $? "a pass with a 30000 x 30000 PNG in the folder succeeds" || sed 's/^/# /' "$work/once.err"
grep -q "collection shapes: $((shapes - 1)) embedded, 0 deleted, 1 failed" "$work/once.err"
ok $? "the huge PNG fails alone; the other $((shapes - 1)) images embed" || sed 's/^/# /' "$work/once.err"
"$embsync" status -c "$work/e.ini" >"$work/status" 2>&1
grep -q "image is 30000 x 30000 pixels, more than max_pixels (100000000)" "$work/status"
ok $? "its reason gives the size and the cap" || sed 's/^/# /' "$work/status"

rm -rf "$work/state" "$work/images/shapes/huge.png"
write_ini "max_pixels = 5000"
"$embsync" once -c "$work/e.ini" 2>"$work/once.err"
grep -q "collection shapes: 0 embedded, 0 deleted, $((shapes - 1)) failed" "$work/once.err" &&
    grep -q "more than max_pixels (5000)" "$work/once.err"
ok $? "max_pixels = 5000 refuses the 160 x 120 samples, saying so" || sed 's/^/# /' "$work/once.err"
write_ini "max_pixels = 0"
"$embsync" once -c "$work/e.ini" 2>"$work/once.err"
[ $? -ne 0 ] && grep -q "max_pixels must be at least 1" "$work/once.err"
ok $? "max_pixels = 0 is a configuration error" || sed 's/^/# /' "$work/once.err"
done_testing
