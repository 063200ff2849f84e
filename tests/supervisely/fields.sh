#!/bin/sh
# Every supervisely test again under the readings of images.list `fields`
# other than the emulator's default (which ignores it, as the plain runs
# see): honoured (only the fields asked for come back) and strict (also a
# 400 for a name outside the reference's list).  The plugin must behave the
# same under each: each test's results are repeated here, one line per
# result and reading.
set -u
. "$top_srcdir/tests/integration/tap.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for fields in honour strict; do
    for t in supervisely readings generator recovery migration kills; do
        SLY_EMULATOR_FIELDS=$fields sh "$top_srcdir/tests/supervisely/$t.sh" >"$work/out" 2>"$work/err"
        rc=$?
        planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$work/out")
        ran=0
        while IFS= read -r line; do
            case $line in
            "ok "*) ran=$((ran + 1)); ok 0 "fields=$fields $t.sh: ${line#ok * - }" ;;
            "not ok "*) ran=$((ran + 1)); ok 1 "fields=$fields $t.sh: ${line#not ok * - }" ;;
            "#"*) echo "$line" ;;
            esac
        done <"$work/out"
        [ "$rc" -eq 0 ] && [ -n "$planned" ] && [ "$planned" -eq "$ran" ]
        ok $? "fields=$fields $t.sh ran to its end ($ran of ${planned:-?} results, exit $rc)" ||
            sed 's/^/# /' "$work/err" | tail -20
    done
done
done_testing
