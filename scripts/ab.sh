#!/usr/bin/env bash
# Before and after at the same load: runs two backupsim binaries in turn on one scenario,
# N times each (A, B, A, B, ...), and prints each one's median wall time (whole process),
# quartiles, the page faults of one more run, then whether their outputs (all but
# run.json) are identical.
# On a shared machine the load moves wall times more than most changes do; alternating
# runs see the same load.
#
# Usage: scripts/ab.sh BIN_A BIN_B N SCENARIO [run options...]
#   e.g. scripts/ab.sh /tmp/old/backupsim target/release/backupsim 40 \
#          scenarios/window-2000.toml --set simulation.duration=7d
# Every run is `BIN run SCENARIO --out DIR --quiet --no-plots --jobs-csv off [options]`;
# outputs go to target/ab/ (not results/), each build's last warnings to target/ab/A.err
# and B.err.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/clock.sh
. scripts/clock.sh

if [ $# -lt 4 ]; then
    echo "usage: scripts/ab.sh BIN_A BIN_B N SCENARIO [run options...]" >&2
    exit 2
fi
a=$1 b=$2 n=$3 file=$4
shift 4
out=target/ab
mkdir -p "$out"
rows=$out/rows.tsv
: > "$rows"

# run LABEL BIN: one line in $rows: label, wall (µs). The wall time is read from bash's
# clock right around the process (as scripts/bench.sh does), into a removed directory.
run() {
    local label=$1 bin=$2 t0 t1
    shift 2
    rm -rf "${out:?}/$label"
    t0=$EPOCHREALTIME
    "$bin" run "$file" --out "$out/$label" --quiet --no-plots --jobs-csv off "$@" \
        > /dev/null 2> "$out/$label.err"
    t1=$EPOCHREALTIME
    printf '%s\t%s\n' "$label" "$(us_between "$t0" "$t1")" >> "$rows"
}

# faults LABEL BIN: the minor page faults of one more run (under /usr/bin/time).
faults() {
    local label=$1 bin=$2
    shift 2
    rm -rf "${out:?}/$label"
    /usr/bin/time -f "%R" -o "$out/$label.time" "$bin" run "$file" --out "$out/$label" \
        --quiet --no-plots --jobs-csv off "$@" > /dev/null 2> "$out/$label.err"
    tail -n 1 "$out/$label.time"
}

load0=$(cut -d' ' -f1 /proc/loadavg)
for _ in $(seq 1 "$n"); do
    run A "$a" "$@"
    run B "$b" "$@"
done
load1=$(cut -d' ' -f1 /proc/loadavg)
fa=$(faults A "$a" "$@")
fb=$(faults B "$b" "$@")
echo "$n runs each of $file $*, $(nproc) cores, load average $load0 at the start, $load1 at the end"
python3 - "$rows" "$a" "$b" "$fa" "$fb" <<'PY'
import sys
from statistics import median, quantiles
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
for label, binary, faults in (("A", sys.argv[2], sys.argv[4]), ("B", sys.argv[3], sys.argv[5])):
    ms = [int(us) / 1e3 for l, us in rows if l == label]
    q = quantiles(ms, n=4) if len(ms) > 1 else [ms[0]] * 3
    print(f"{label} {binary}: median {median(ms):.1f} ms (quartiles {q[0]:.1f}–{q[2]:.1f}), "
          f"{faults} page faults")
PY
if diff -r -x run.json "$out/A" "$out/B" > /dev/null; then
    echo "outputs: identical (all but run.json)"
else
    echo "outputs: DIFFERENT (diff -r -x run.json $out/A $out/B)"
fi
