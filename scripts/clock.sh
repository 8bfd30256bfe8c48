# Sourced by scripts/bench.sh and scripts/ab.sh: how a run is timed, in one place.
#
# A run's wall time is read from bash's clock (EPOCHREALTIME, bash 5) right around the
# process: a timing process of its own (`/usr/bin/time`, `date`) would have its start
# counted in every run, about 2 ms.
if [ -z "${EPOCHREALTIME:-}" ]; then
    echo "$(basename "$0") needs bash 5 or later (EPOCHREALTIME)" >&2
    exit 2
fi

# us_between T0 T1: the microseconds between two readings of EPOCHREALTIME (seconds with
# six decimals, so the digits without the point are microseconds).
us_between() {
    echo $(( ${2//[.,]/} - ${1//[.,]/} ))
}
