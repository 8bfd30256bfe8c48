#!/usr/bin/env bash
# Runs a backupsim sweep as a Slurm job array plus a dependent merge job.
#
# Usage:
#   scripts/slurm-sweep.sh -n TASKS --out DIR [options] -- SCENARIO.toml [sweep flags...]
#
#   -n, --tasks N        array size: the sweep is split into N shards (default 4)
#   -c, --cpus N         CPUs per array task, used as `sweep --threads N` (default 1)
#   -o, --out DIR        the sweep directory (required; on a filesystem every node sees)
#   -b, --bin PATH       the backupsim binary (default: backupsim on PATH, else
#                        target/release/backupsim of this checkout)
#   -s, --sbatch ARG     extra sbatch argument for both jobs (repeatable), e.g.
#                        -s --partition=long -s --time=04:00:00
#   -w, --wait           block until the merge job has finished; exit non-zero if it failed
#   everything after `--` is passed to `backupsim sweep` (the scenario and its flags:
#   --vary, --replications, --set, --common-seeds, --jobs-csv ...)
#
# Example:
#   scripts/slurm-sweep.sh -n 16 -c 4 --out /shared/results/fleet-sweep -- \
#       scenarios/quickstart.toml --vary fleet.web.count=200,400,800 --replications 10
#
# Design: every array task runs `backupsim sweep ... --shard auto --out DIR`; `--shard
# auto` reads SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT, and task i runs the runs whose
# index % N == i. All tasks write into the same DIR (each run directory is renamed into
# place complete, and sweep.json is written atomically, so concurrent tasks do not clash).
# The merge job (`--dependency=afterok:<array job>`) then runs `backupsim merge DIR --out
# DIR`, which checks every run is present and writes sweep.csv, runs.csv and points/,
# byte-identical to a single-machine `backupsim sweep`. If a task fails, the merge job is
# cancelled (--kill-on-invalid-dep); re-submitting the same command resumes: complete runs
# are skipped.
#
# Job scripts and logs go to DIR.slurm/ (beside DIR, so DIR holds exactly what a
# single-machine sweep writes). Prints the two job ids.
set -euo pipefail

tasks=4 cpus=1 out="" bin="" wait=0
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--tasks) tasks="$2"; shift 2 ;;
        -c|--cpus) cpus="$2"; shift 2 ;;
        -o|--out) out="$2"; shift 2 ;;
        -b|--bin) bin="$2"; shift 2 ;;
        -s|--sbatch) extra+=("$2"); shift 2 ;;
        -w|--wait) wait=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --) shift; break ;;
        *) echo "slurm-sweep.sh: unknown option $1 (sweep flags go after --)" >&2; exit 2 ;;
    esac
done
if [ -z "$out" ] || [ $# -eq 0 ]; then
    echo "usage: slurm-sweep.sh -n TASKS --out DIR [-c CPUS] [-b BIN] [-s SBATCH_ARG]... [-w] -- SCENARIO [sweep flags...]" >&2
    exit 2
fi
case "$tasks" in ''|*[!0-9]*|0) echo "slurm-sweep.sh: --tasks: expected a positive integer, found '$tasks'" >&2; exit 2 ;; esac
case "$cpus" in ''|*[!0-9]*|0) echo "slurm-sweep.sh: --cpus: expected a positive integer, found '$cpus'" >&2; exit 2 ;; esac
command -v sbatch >/dev/null || { echo "slurm-sweep.sh: sbatch not found: is this a Slurm login node?" >&2; exit 2; }

if [ -z "$bin" ]; then
    bin=$(command -v backupsim || true)
    [ -n "$bin" ] || bin="$(cd "$(dirname "$0")/.." && pwd)/target/release/backupsim"
fi
[ -x "$bin" ] || { echo "slurm-sweep.sh: $bin is not an executable backupsim (build it, or pass --bin)" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
mkdir -p "$out"
out=$(cd "$out" && pwd)
logs="$out.slurm"
mkdir -p "$logs"

# Check the scenario now, on the login node, rather than in N failing tasks.
"$bin" validate "$1" >/dev/null

q() { printf '%q ' "$@"; }
cat > "$logs/sweep.sbatch" <<SH
#!/bin/bash
exec $(q "$bin" sweep "$@" --shard auto --threads "$cpus" --out "$out")
SH
cat > "$logs/merge.sbatch" <<SH
#!/bin/bash
exec $(q "$bin" merge "$out" --out "$out")
SH

array=$(sbatch --parsable --chdir="$PWD" --job-name=backupsim-sweep --array="0-$((tasks - 1))" \
    --cpus-per-task="$cpus" --output="$logs/shard-%a.out" ${extra[@]+"${extra[@]}"} "$logs/sweep.sbatch")
array=${array%%;*}
waitflag=()
[ "$wait" = 1 ] && waitflag=(--wait)
echo "array job $array: $tasks shards -> $out (logs: $logs)"
merge=$(sbatch --parsable --chdir="$PWD" --job-name=backupsim-merge --dependency="afterok:$array" \
    --kill-on-invalid-dep=yes --output="$logs/merge.out" ${extra[@]+"${extra[@]}"} ${waitflag[@]+"${waitflag[@]}"} "$logs/merge.sbatch")
echo "merge job ${merge%%;*} (after $array)"
