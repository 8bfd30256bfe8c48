#!/usr/bin/env bash
# Fleet-scale benchmark: builds the release binary, runs the scale scenarios (10k, 100k
# and 1M VMs, 30 days each) and prints a Markdown table of events, wall time, events per
# second and peak memory, read from each run's run.json. Each is one simulation on one
# thread (`--partition off`): the model's cost per VM-day; `run` itself splits these
# scenarios into their regions on every core (scripts/bench.sh times that).
#
# Usage: scripts/scale.sh [10k 100k 1m]     (default: all three)
#        REPEAT=3 scripts/scale.sh 100k      (best of N runs: wall clock is noisy on a
#                                             shared machine; the load is printed too)
# Results go to target/scale/<name>/ (not results/, so they never mix with studies).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(10k 100k 1m)
repeat=${REPEAT:-1}

cargo build --release --quiet
bin=target/release/backupsim
out=target/scale
mkdir -p "$out"

runs=()
for s in "${sizes[@]}"; do
    f=scenarios/scale-$s.toml
    [ -f "$f" ] || { echo "no scenario $f" >&2; exit 2; }
    for r in $(seq 1 "$repeat"); do
        echo "running $f (run $r of $repeat; load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        "$bin" run "$f" --out "$out/scale-$s-$r" --quiet --no-plots --jobs-csv off --partition off
        runs+=("$f" "$out/scale-$s-$r")
    done
done

python3 - "${runs[@]}" <<'PY'
import json, re, sys, os
args = sys.argv[1:]
best = {}
order = []
for scen, d in zip(args[::2], args[1::2]):
    run = json.load(open(os.path.join(d, "run.json")))
    text = open(scen).read()
    vms = sum(int(c) for c in re.findall(r"^count = (\d+)$", text[text.index("[[fleet]]"):].split("[[restore]]")[0], re.M))
    days = int(re.search(r'^duration = "(\d+)d"', text, re.M).group(1))
    key = scen
    if key not in best:
        order.append(key)
    if key not in best or run["wall_seconds"] < best[key][0]["wall_seconds"]:
        best[key] = (run, vms, days)
print("| scenario | VMs × days | events | wall (s) | events/s | µs per VM-day | peak memory |")
print("|---|---:|---:|---:|---:|---:|---:|")
for k in order:
    run, vms, days = best[k]
    w = run["wall_seconds"]
    mem = run.get("peak_memory_bytes") or 0
    print(f"| {os.path.basename(k)} | {vms:,} × {days} | {run['events']:,} | {w:.2f} | "
          f"{run['events'] / w / 1e6:.2f} M | {w * 1e6 / (vms * days):.2f} | {mem / 2**20:.0f} MiB |")
PY
