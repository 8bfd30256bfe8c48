#!/usr/bin/env bash
# Before and after at the same moment: runs two backupsim binaries at once, one on each of
# two cores (swapped every round), N rounds, and prints each round's wall times and the
# ratio B/A, then the median ratio and the median over both cores (each two rounds'
# geometric mean, which cancels a difference between the cores). On a shared machine
# whose speed drifts by a fifth over minutes, runs made at the same moment see the same
# drift, which `scripts/ab.sh`'s alternation only evens out; both processes share the
# last-level cache and the memory bus, as a partitioned run's two threads do. For
# one-simulation runs (a `--partition K/N` part, or `--partition off`): a split run uses
# both cores by itself.
#
# Usage: scripts/pair.sh BIN_A BIN_B N SCENARIO [run options...]
#   e.g. scripts/pair.sh /tmp/old/backupsim target/release/backupsim 10 \
#          scenarios/scale-1m.toml --partition 2/4 --set simulation.duration=6d
# Every run is `BIN run SCENARIO --out DIR --quiet --no-plots --jobs-csv off [options]`
# (needs two cores and `taskset`); outputs go to target/pair/ (not results/), and the
# last round's outputs are compared.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/clock.sh
. scripts/clock.sh

if [ $# -lt 4 ]; then
    echo "usage: scripts/pair.sh BIN_A BIN_B N SCENARIO [run options...]" >&2
    exit 2
fi
a=$1 b=$2 n=$3 file=$4
shift 4
out=target/pair
mkdir -p "$out"
rows=$out/rows.tsv
: > "$rows"

# run LABEL BIN CORE: the run's wall time (µs) into $out/LABEL.us.
run() {
    local label=$1 bin=$2 core=$3 t0 t1
    shift 3
    rm -rf "${out:?}/$label"
    t0=$EPOCHREALTIME
    taskset -c "$core" "$bin" run "$file" --out "$out/$label" --quiet --no-plots \
        --jobs-csv off "$@" > /dev/null 2> "$out/$label.err"
    t1=$EPOCHREALTIME
    us_between "$t0" "$t1" > "$out/$label.us"
}

load0=$(cut -d' ' -f1 /proc/loadavg)
for i in $(seq 1 "$n"); do
    ca=$((i % 2)) cb=$(((i + 1) % 2))
    run A "$a" "$ca" "$@" &
    run B "$b" "$cb" "$@" &
    wait
    printf '%s\t%s\n' "$(cat "$out/A.us")" "$(cat "$out/B.us")" >> "$rows"
done
load1=$(cut -d' ' -f1 /proc/loadavg)
echo "$n rounds of $file $*, A and B at once on cores 0 and 1 (swapped each round), load average $load0 at the start, $load1 at the end"
python3 - "$rows" "$a" "$b" <<'PY'
import sys
from statistics import median
rows = [tuple(int(x) for x in l.split("\t")) for l in open(sys.argv[1])]
for i, (ua, ub) in enumerate(rows, 1):
    print(f"round {i}: A {ua / 1e3:.1f} ms, B {ub / 1e3:.1f} ms, B/A {ub / ua:.3f}")
ratios = [ub / ua for ua, ub in rows]
print(f"A {sys.argv[2]}: median {median(ua for ua, _ in rows) / 1e3:.1f} ms; "
      f"B {sys.argv[3]}: median {median(ub for _, ub in rows) / 1e3:.1f} ms")
print(f"B/A: median {median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
# Each build ran once on each core in two consecutive rounds: the geometric mean of their
# two ratios cancels a difference between the cores (a neighbour on one of them), which
# the median of single rounds does not when the difference is larger than the change.
if len(ratios) >= 2:
    pairs = [(ratios[i] * ratios[i + 1]) ** 0.5 for i in range(0, len(ratios) - 1, 2)]
    print(f"B/A over both cores (each two rounds' geometric mean): median {median(pairs):.3f}"
          f" (min {min(pairs):.3f}, max {max(pairs):.3f}, {len(pairs)} pairs of rounds)")
PY
if diff -r -x run.json "$out/A" "$out/B" > /dev/null; then
    echo "outputs: identical (all but run.json)"
else
    echo "outputs: DIFFERENT (diff -r -x run.json $out/A $out/B)"
fi
