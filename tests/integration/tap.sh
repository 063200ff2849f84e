# Minimal TAP helpers for the shell tests: ok STATUS DESCRIPTION.
tap_n=0
tap_failed=0
ok() {
    tap_n=$((tap_n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $tap_n - $2"
    else
        echo "not ok $tap_n - $2"
        tap_failed=$((tap_failed + 1))
    fi
    return "$1"
}
done_testing() {
    echo "1..$tap_n"
    exit 0
}

# An INI of the embedded default (dir -> descriptor -> faiss-local):
#   local_ini FILE STATE_DIR ROOT [CORE_LINE...]
# the extra lines go to [core], after state_dir and plugin_path.
local_ini() {
    ini_file=$1 ini_state=$2 ini_root=$3
    shift 3
    {
        printf '[core]\nstate_dir = %s\nplugin_path = %s\n' "$ini_state" "$top_builddir/plugins"
        for ini_line in "$@"; do printf '%s\n' "$ini_line"; done
        printf '[source]\nplugin = dir\nroot = %s\n' "$ini_root"
        printf '[embedder]\nplugin = descriptor\n[store]\nplugin = faiss-local\n'
    } >"$ini_file"
}

# An INI of dir -> the null embedder (its seed is its model) -> a store,
# written aside and renamed, since a reader may be reading it:
#   null_ini FILE STATE_DIR ROOT SEED DIM BATCH STORE_LINES
null_ini() {
    printf '[core]\nstate_dir = %s\nplugin_path = %s\nbatch_size = %s\nlog_level = info\n' \
        "$2" "$top_builddir/plugins" "$6" >"$1.new"
    printf '[source]\nplugin = dir\nroot = %s\n' "$3" >>"$1.new"
    printf '[embedder]\nplugin = null\ndim = %s\nseed = %s\n' "$5" "$4" >>"$1.new"
    printf '[store]\n%s\n' "$7" >>"$1.new"
    mv "$1.new" "$1"
}

# fake_photos DIR N: N files p00000.jpg ... in DIR that the null embedder
# takes (it reads only a JPEG's signature and hashes the bytes).
fake_photos() {
    mkdir -p "$1"
    "$PYTHON3" - "$1" "$2" <<'PY'
import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], f"p{i:05d}.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0" + i.to_bytes(4, "big") + b"photo")
PY
}
