#!/usr/bin/env bash
# Runs a backupsim sweep as a Slurm job array plus a dependent merge job.
#
# Usage:
#   scripts/slurm-sweep.sh -n TASKS --out DIR [options] -- SCENARIO.toml [sweep flags...]
#   scripts/slurm-sweep.sh --parts N --out DIR [options] -- SCENARIO.toml [run flags...]
#   scripts/slurm-sweep.sh --status --out DIR [-w]
#
#       --parts N        instead of a sweep, one run split into N parts (`run
#                        --partition I/N`, docs/performance.md "Partitioned runs"): array
#                        task i runs part i+1 into DIR.parts/part-<i+1>, and the dependent
#                        job merges them into DIR (byte-identical to the run in one process)
#
#   -n, --tasks N        array size: the sweep is split into N shards (default: sized
#                        from the grid, see "Sizing" below)
#   -c, --cpus N         CPUs per array task, used as `sweep --threads N` (default 1)
#   -p, --pilot DIR      a finished small sweep of the same scenario whose costs.csv gives
#                        the wall time of a run, for sizing (default: DIR's own costs.csv
#                        when an earlier submission left one)
#   -t, --task-minutes M the wall time each array task should take when sized from a
#                        pilot (default 30)
#   -o, --out DIR        the sweep directory (required; on a filesystem every node sees)
#   -b, --bin PATH       the backupsim binary (default: backupsim on PATH, else
#                        target/release/backupsim of this checkout)
#   -s, --sbatch ARG     extra sbatch argument for both jobs (repeatable), e.g.
#                        -s --partition=long -s --time=04:00:00
#   -w, --wait           block until every array task and the merge have ended, then
#                        report as --status does
#       --status         report on the last submission for DIR: which array tasks failed
#                        (with their logs) and whether the merge ran
#   everything after `--` is passed to `backupsim sweep` (the scenario and its flags:
#   --vary, --replications, --set, --common-seeds, --jobs-csv ...)
#
# Exit status (with -w or --status): 0 when every array task and the merge succeeded;
# 1 when one of them failed, was cancelled or was killed (each is named, with its log);
# 3 (--status without -w) while jobs are still queued or running; 2 for bad usage or a
# sweep that does not pass the pre-flight check. Without -w: 0 once both jobs are submitted.
#
# Example:
#   scripts/slurm-sweep.sh -n 16 -c 4 --out /shared/results/fleet-sweep -- \
#       scenarios/quickstart.toml --vary fleet.web.count=200,400,800 --replications 10
#
# Sizing (without -n): the grid's run count comes from the pre-flight `--dry-run` (with
# --target: the first round's). With a pilot's costs.csv, runs per task = M minutes x
# CPUs / the pilot's mean wall seconds per run; without one, 8 runs per CPU. The array
# has ceil(runs / runs per task) tasks, at most one per run (one per point with
# --target, which shards by point) and at most 1000 (Slurm's default MaxArraySize is
# 1001). The script prints the numbers it used.
#
# Design: before submitting, `backupsim sweep ... --dry-run` checks the sweep exactly as
# the array tasks will run it (every point of the grid, with the same --set and --vary),
# and that DIR holds no other sweep and no process is writing it. Every array task runs
# `backupsim sweep ... --shard auto --out DIR`; `--shard auto` reads SLURM_ARRAY_TASK_ID /
# SLURM_ARRAY_TASK_COUNT, and task i runs the runs whose index % N == i. All tasks write
# into the same DIR (each holds its shard's lock; each run directory is renamed into place
# complete). The merge job (`--dependency=afterok:<array job>`) then runs `backupsim merge
# DIR --out DIR`, which checks every run is present and writes sweep.csv, runs.csv and
# points/, byte-identical to a single-machine `backupsim sweep`. If a task fails, Slurm
# cancels the merge job (--kill-on-invalid-dep); submitting the same command again
# resumes: complete runs are skipped.
#
# Job scripts, logs and exit statuses go to DIR.slurm/ (beside DIR, so DIR holds exactly
# what a single-machine sweep writes): shard-<array job>_<task>.out and .status per array
# task, merge-<job>.out and .status, named by job id so that no submission overwrites
# another's. Each job writes its .status (its exit status) when it ends; a job that has
# ended without one was cancelled or killed (time limit, memory, node failure).
# SLURM_SWEEP_POLL sets how often -w asks squeue (seconds, default 10).
set -euo pipefail

tasks="" cpus=1 out="" bin="" wait=0 status_only=0 pilot="" task_minutes=30 parts=""
unit=shard
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        -n|--tasks) tasks="$2"; shift 2 ;;
        --parts) parts="$2"; unit=part; shift 2 ;;
        -c|--cpus) cpus="$2"; shift 2 ;;
        -p|--pilot) pilot="$2"; shift 2 ;;
        -t|--task-minutes) task_minutes="$2"; shift 2 ;;
        -o|--out) out="$2"; shift 2 ;;
        -b|--bin) bin="$2"; shift 2 ;;
        -s|--sbatch) extra+=("$2"); shift 2 ;;
        -w|--wait) wait=1; shift ;;
        --status) status_only=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --) shift; break ;;
        *) echo "slurm-sweep.sh: unknown option $1 (sweep flags go after --)" >&2; exit 2 ;;
    esac
done

say() { echo "slurm-sweep.sh: $*" >&2; }

# Whether Slurm still has job $1 (or a task of array job $1) queued or running. A job
# Slurm no longer knows has ended; any other squeue failure is retried, then reported.
in_queue() {
    local id=$1 outp tries=0
    while :; do
        if outp=$(squeue -h -j "$id" -o %i 2>&1); then
            [ -n "$outp" ]
            return
        fi
        case "$outp" in
            *"Invalid job id"*|*"invalid job id"*) return 1 ;;
        esac
        tries=$((tries + 1))
        if [ "$tries" -ge 10 ]; then
            say "cannot ask Slurm about job $id: $outp"
            exit 1
        fi
        sleep 3
    done
}

# What Slurm's accounting says of job $1 (e.g. TIMEOUT, OUT_OF_MEMORY, CANCELLED), when it
# keeps accounts; empty otherwise.
slurm_state() {
    command -v sacct >/dev/null 2>&1 || return 0
    local t=()
    command -v timeout >/dev/null 2>&1 && t=(timeout 20)
    ${t[@]+"${t[@]}"} sacct -n -X -P -o State -j "$1" 2>/dev/null | head -n 1 | tr -d ' ' || true
}

# What array task $1 of $2 ran: "shard I/N" of a sweep, "part I+1 of N" of a run.
task_label() {
    if [ "$unit" = part ]; then echo "part $(($1 + 1)) of $2"; else echo "shard $1/$2"; fi
}

# Reports on array job $2 ($4 tasks) and merge job $3, whose files are in $1: prints which
# jobs failed, with their logs, and returns 0 (all succeeded), 1 (one failed) or 3 (still
# running: nothing is reported yet).
report() {
    local logs=$1 array=$2 merge=$3 n=$4 i rc st log failed=0
    if in_queue "$array" || in_queue "$merge"; then
        return 3
    fi
    for ((i = 0; i < n; i++)); do
        log="$logs/shard-${array}_$i.out"
        if [ -s "$logs/shard-${array}_$i.status" ]; then
            rc=$(cat "$logs/shard-${array}_$i.status")
            [ "$rc" = 0 ] && continue
            say "array task $i of job $array ($(task_label "$i" "$n")) failed with exit status $rc; log: $log"
        else
            st=$(slurm_state "${array}_$i")
            say "array task $i of job $array ($(task_label "$i" "$n")) ended without an exit status: cancelled, or killed at a time or memory limit or by a node failure${st:+ (Slurm: $st)}; log: $log"
        fi
        failed=1
    done
    log="$logs/merge-$merge.out"
    if [ -s "$logs/merge-$merge.status" ]; then
        rc=$(cat "$logs/merge-$merge.status")
        if [ "$rc" != 0 ]; then
            say "merge job $merge failed with exit status $rc; log: $log"
            failed=1
        fi
    elif [ "$failed" = 1 ]; then
        say "merge job $merge did not run: an array task failed"
    else
        st=$(slurm_state "$merge")
        say "merge job $merge ended without an exit status: cancelled, or killed at a time or memory limit or by a node failure${st:+ (Slurm: $st)}; log: $log"
        failed=1
    fi
    if [ "$failed" = 1 ]; then
        if [ "$unit" = part ]; then
            say "the partitioned run $(dirname "$logs")/$(basename "$logs" .slurm) is incomplete: submit the same command again (every part runs again)"
        else
            say "the sweep in $(dirname "$logs")/$(basename "$logs" .slurm) is incomplete; complete runs are kept: submit the same command again to resume"
        fi
        return 1
    fi
    echo "all $n array tasks of job $array and merge job $merge succeeded"
    return 0
}

# Waits until Slurm has neither job, then reports.
wait_and_report() {
    local logs=$1 array=$2 merge=$3 n=$4
    while in_queue "$array" || in_queue "$merge"; do
        sleep "${SLURM_SWEEP_POLL:-10}"
    done
    report "$logs" "$array" "$merge" "$n"
}

if [ -z "$out" ]; then
    echo "usage: slurm-sweep.sh -n TASKS --out DIR [-c CPUS] [-b BIN] [-s SBATCH_ARG]... [-w] -- SCENARIO [sweep flags...]" >&2
    echo "       slurm-sweep.sh --status --out DIR [-w]" >&2
    exit 2
fi
command -v sbatch >/dev/null || { say "sbatch not found: is this a Slurm login node?"; exit 2; }

if [ "$status_only" = 1 ]; then
    logs="${out%/}.slurm"
    [ -s "$logs/last-submission" ] || { say "$logs/last-submission not found: nothing was submitted for $out"; exit 2; }
    array="" merge="" n=""
    # shellcheck disable=SC1091
    . "$logs/last-submission"
    if [ "$wait" = 1 ]; then
        wait_and_report "$logs" "$array" "$merge" "$n"
        exit
    fi
    rc=0
    report "$logs" "$array" "$merge" "$n" || rc=$?
    [ "$rc" = 3 ] && echo "array job $array and merge job $merge are still queued or running"
    exit "$rc"
fi

if [ $# -eq 0 ]; then
    echo "usage: slurm-sweep.sh -n TASKS --out DIR [-c CPUS] [-b BIN] [-s SBATCH_ARG]... [-w] -- SCENARIO [sweep flags...]" >&2
    exit 2
fi
[ -z "$tasks" ] || case "$tasks" in *[!0-9]*|0) say "--tasks: expected a positive integer, found '$tasks'"; exit 2 ;; esac
case "$task_minutes" in ''|*[!0-9]*|0) say "--task-minutes: expected a positive integer, found '$task_minutes'"; exit 2 ;; esac
if [ -n "$pilot" ] && [ ! -s "$pilot/costs.csv" ]; then
    say "--pilot $pilot: no costs.csv there (expected a finished sweep directory)"; exit 2
fi
case "$cpus" in ''|*[!0-9]*|0) say "--cpus: expected a positive integer, found '$cpus'"; exit 2 ;; esac

if [ -z "$bin" ]; then
    bin=$(command -v backupsim || true)
    [ -n "$bin" ] || bin="$(cd "$(dirname "$0")/.." && pwd)/target/release/backupsim"
fi
[ -x "$bin" ] || { say "$bin is not an executable backupsim (build it, or pass --bin)"; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

q() { printf '%q ' "$@"; }
q1() { printf '%q' "$1"; }

# Submits $logs/sweep.sbatch as an array of $tasks tasks named $1 (writing into $2) and
# $logs/merge.sbatch after it, records the submission in $logs/last-submission, and with
# -w waits and reports.
submit() {
    array=$(sbatch --parsable --chdir="$PWD" --job-name="$1" --array="0-$((tasks - 1))" \
        --cpus-per-task="$cpus" --output="$logs/shard-%A_%a.out" ${extra[@]+"${extra[@]}"} "$logs/sweep.sbatch")
    array=${array%%;*}
    echo "array job $array: $tasks ${unit}s -> $2 (logs: $logs/shard-${array}_<task>.out)"
    merge=$(sbatch --parsable --chdir="$PWD" --job-name=backupsim-merge --dependency="afterok:$array" \
        --kill-on-invalid-dep=yes --output="$logs/merge-%j.out" ${extra[@]+"${extra[@]}"} "$logs/merge.sbatch")
    merge=${merge%%;*}
    echo "merge job $merge (after $array; log: $logs/merge-$merge.out) -> $out"
    printf 'array=%s\nmerge=%s\nn=%s\nunit=%s\n' "$array" "$merge" "$tasks" "$unit" > "$logs/last-submission"
    if [ "$wait" = 1 ]; then
        wait_and_report "$logs" "$array" "$merge" "$tasks"
    else
        echo "check with: $0 --status --out $(q1 "$out")"
    fi
}

# One run split into parts: an array task per part, then the merge.
if [ -n "$parts" ]; then
    case "$parts" in *[!0-9]*|0) say "--parts: expected a positive integer, found '$parts'"; exit 2 ;; esac
    [ ! -e "$out" ] || { say "$out exists: the merged run is written there; remove it or choose another --out"; exit 2; }
    "$bin" validate "$1" >/dev/null || exit 2
    mkdir -p "$(dirname "$out")"
    out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
    logs="$out.slurm" partdir="$out.parts"
    rm -rf "$partdir"
    mkdir -p "$logs" "$partdir"
    dirs=()
    for ((i = 1; i <= parts; i++)); do dirs+=("$partdir/part-$i"); done
    cat > "$logs/sweep.sbatch" <<SH
#!/bin/bash
i=\$((SLURM_ARRAY_TASK_ID + 1))
$(q "$bin" run "$@" --quiet --no-plots --partition)"\$i/$parts" --out $(q1 "$partdir")/part-\$i
rc=\$?
echo "\$rc" > $(q1 "$logs")/shard-\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}.status
exit "\$rc"
SH
    cat > "$logs/merge.sbatch" <<SH
#!/bin/bash
$(q "$bin" merge "${dirs[@]}" --out "$out" --quiet)
rc=\$?
echo "\$rc" > $(q1 "$logs")/merge-\${SLURM_JOB_ID}.status
exit "\$rc"
SH
    tasks=$parts
    submit backupsim-part "$partdir"
    exit
fi

# Check the sweep now, on the login node, as every array task will run it (every point,
# with the same flags), rather than in N failing tasks.
# (Its report is on stderr; kept there, and read for the run count.)
dry=$("$bin" sweep "$@" --out "$out" --dry-run 2>&1) || { printf '%s\n' "$dry" >&2; exit 2; }
printf '%s\n' "$dry" >&2

# The mean wall seconds of a run in costs.csv $1 (empty when it has none).
mean_wall() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "wall_seconds") c = i; next }
             c && $c != "" { s += $c; n++ } END { if (n) printf "%.6f", s / n }' "$1"
}

if [ -z "$tasks" ]; then
    runs=$(printf '%s\n' "$dry" | sed -n 's/.* = \([0-9][0-9]*\) runs.*/\1/p' | head -n 1)
    points=$(printf '%s\n' "$dry" | sed -n 's/^sweep .*: \([0-9][0-9]*\) point(s).*/\1/p' | head -n 1)
    [ -n "$runs" ] || { say "cannot read the run count from: $dry"; exit 2; }
    costs=""
    if [ -n "$pilot" ]; then costs="$pilot/costs.csv"
    elif [ -s "$out/costs.csv" ]; then costs="$out/costs.csv"; fi
    per_run=""
    [ -z "$costs" ] || per_run=$(mean_wall "$costs")
    if [ -n "$per_run" ]; then
        per_task=$(awk -v m="$task_minutes" -v c="$cpus" -v w="$per_run" \
            'BEGIN { n = int(m * 60 * c / (w > 0 ? w : 1e-9)); print (n < 1 ? 1 : n) }')
        why="$per_run s per run in $costs, $task_minutes min per task on $cpus CPU(s)"
    else
        per_task=$((8 * cpus))
        why="no pilot costs.csv (give --pilot DIR to size by cost): 8 runs per CPU"
    fi
    tasks=$(( (runs + per_task - 1) / per_task ))
    cap=$runs
    case " $* " in *" --target "*|*" --target="*) [ -z "$points" ] || cap=$points ;; esac
    [ "$tasks" -le "$cap" ] || tasks=$cap
    [ "$tasks" -le 1000 ] || tasks=1000
    [ "$tasks" -ge 1 ] || tasks=1
    echo "sizing: $runs runs, $per_task per task ($why) -> $tasks array task(s)"
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
logs="$out.slurm"
mkdir -p "$logs"

cat > "$logs/sweep.sbatch" <<SH
#!/bin/bash
$(q "$bin" sweep "$@" --shard auto --threads "$cpus" --out "$out")
rc=\$?
echo "\$rc" > $(q1 "$logs")/shard-\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}.status
exit "\$rc"
SH
cat > "$logs/merge.sbatch" <<SH
#!/bin/bash
$(q "$bin" merge "$out" --out "$out")
rc=\$?
echo "\$rc" > $(q1 "$logs")/merge-\${SLURM_JOB_ID}.status
exit "\$rc"
SH

submit backupsim-sweep "$out"
