#!/usr/bin/env bash
# Builds backupsim with profile-guided optimisation: an instrumented build runs a training
# set of scenarios, and a second build lays out and inlines the code by the counts it
# recorded (which branches are taken, which calls are hot). It computes exactly what the
# plain release build computes: the script checks that their outputs agree, byte for
# byte, on scenarios outside the training set. In pairs on the same cores it is 3-8 %
# faster on the scale scenarios' regions and not on the 2 000-VM case (docs/performance.md,
# "2026-11-29, 16:02-17:20 UTC").
#
# The training set: scale-100k's first 10 days (a third of its benchmark run; the
# estate's branches at the scale where the counts matter: trained on scale-10k's whole
# month instead, the gain at scale-100k was a third of this one) and the other shipped
# scenarios for 7 days each, but for scale-1m, scale-10m, scale-10k and the path-heavy
# variant, which the training does not see.
#
# Needs `llvm-profdata` of the toolchain's LLVM: `rustup component add llvm-tools`.
# Takes about 5 minutes on 2 cores (two release builds and the training runs).
#
# Usage: scripts/pgo.sh
# Writes target/pgo/backupsim (the builds, the counts and the check's outputs are under
# target/pgo/ too); prints its path last.
set -euo pipefail
cd "$(dirname "$0")/.."

sysroot=$(rustc --print sysroot)
profdata=$(find "$sysroot/lib/rustlib" -name llvm-profdata -type f 2>/dev/null | head -n 1)
if [ -z "$profdata" ]; then
    echo "scripts/pgo.sh: llvm-profdata not found under $sysroot; install it with" >&2
    echo "  rustup component add llvm-tools" >&2
    exit 2
fi

dir=$PWD/target/pgo
rm -rf "$dir/profiles" "$dir/train" "$dir/check"
mkdir -p "$dir/profiles" "$dir/train" "$dir/check"

echo "pgo: instrumented build (target/pgo/gen)" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$dir/profiles" \
    cargo build --release --quiet --target-dir "$dir/gen"
gen=$dir/gen/release/backupsim

# train FILE [run options...]
train() {
    local file=$1 name
    shift
    name=$(basename "$file" .toml)
    echo "pgo: training on $name $*" >&2
    if ! "$gen" run "$file" --out "$dir/train/$name" --quiet --no-plots --jobs-csv off "$@" \
        > "$dir/train/$name.log" 2>&1; then
        echo "scripts/pgo.sh: the training run of $name failed (see $dir/train/$name.log)" >&2
        exit 1
    fi
}
for f in scenarios/*.toml; do
    case $(basename "$f" .toml) in
        scale-100k | scale-1m | scale-10m | scale-10k) ;;
        *) train "$f" --set simulation.duration=7d ;;
    esac
done
train scenarios/scale-100k.toml --set simulation.duration=10d

"$profdata" merge -o "$dir/merged.profdata" "$dir/profiles"

echo "pgo: optimised build (target/pgo/use)" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$dir/merged.profdata" \
    cargo build --release --quiet --target-dir "$dir/use"
cp "$dir/use/release/backupsim" "$dir/backupsim"

# The same results as the plain build, on runs the training did not see: scale-10k for
# 7 days and one region of the path-heavy variant for 2.
echo "pgo: checking its outputs against the plain release build" >&2
cargo build --release --quiet
for b in plain pgo; do
    bin=target/release/backupsim
    [ "$b" = pgo ] && bin=$dir/backupsim
    for run in 10k paths; do
        if [ "$run" = 10k ]; then
            set -- scenarios/scale-10k.toml --set simulation.duration=7d
        else
            set -- benches/scale-100k-paths.toml --partition 1/4 --set simulation.duration=2d
        fi
        if ! "$bin" run "$@" --out "$dir/check/$b-$run" --quiet --no-plots \
            > "$dir/check/$b-$run.log" 2>&1; then
            echo "scripts/pgo.sh: the $b build's check run ($run) failed (see $dir/check/$b-$run.log)" >&2
            exit 1
        fi
    done
done
for run in 10k paths; do
    if ! diff -r -x run.json "$dir/check/plain-$run" "$dir/check/pgo-$run" > /dev/null; then
        echo "scripts/pgo.sh: the profile-guided build's outputs differ from the plain build's ($dir/check/*-$run); do not use it" >&2
        exit 1
    fi
done
echo "pgo: outputs identical to the plain build's (all but run.json)" >&2
echo "$dir/backupsim"
