#!/bin/sh
# The descriptor on edited copies of real photographs (benchmark 8):
#   bench/descriptor_eval.sh BUILDDIR [CACHE_DIR]
# Takes 42 photographs from three Debian packages (fetched with apt-get
# download and unpacked into CACHE_DIR, default ~/.cache/embsync-bench;
# nothing is installed), cuts each in two look-alike halves, makes 18
# edited copies of each half (bench/photo_edits.py) and prints
# bench/descriptor_recall's figures for the 1596 images.
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
cache=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/embsync-bench}
python=${PYTHON3:-/usr/bin/python3}
mkdir -p "$cache/debs" "$cache/root"
for pkg in mate-backgrounds plasma-workspace-wallpapers python3-skimage; do
    if ! ls "$cache/debs/${pkg}_"*.deb >/dev/null 2>&1; then
        [ -n "$(apt-cache policy "$pkg" 2>/dev/null | grep Candidate)" ] ||
            apt-get update -qq
        (cd "$cache/debs" && apt-get download -qq "$pkg")
        dpkg-deb -x "$cache/debs/${pkg}_"*.deb "$cache/root"
    fi
done
r=$cache/root
mate=$r/usr/share/backgrounds/mate
wall=$r/usr/share/wallpapers
skimage=$r/usr/lib/python3/dist-packages/skimage/data
set -- "$mate"/nature/*.jpg "$mate/desktop/GreenTraditional.jpg"
# The photographs among the wallpapers (the rest are drawings), at the
# smallest size each ships.
for w in BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow \
         FallenLeaf Grey Kite MilkyWay OneStandsOut Path summer_1am Volna \
         Honeywave; do
    set -- "$@" "$(ls -S "$wall/$w/contents/images/"* | tail -n 1)"
done
for s in coffee astronaut chelsea rocket motorcycle_left motorcycle_right \
         hubble_deep_field retina ihc gravel brick grass camera moon coins; do
    set -- "$@" "$(ls "$skimage/$s".*)"
done
set_dir=$cache/set
rm -rf "$set_dir"
"$python" "$src/bench/photo_edits.py" "$set_dir" "$@" >"$cache/index"
"$build/bench/descriptor_recall" "$cache/index" 0.90
