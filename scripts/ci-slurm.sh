#!/usr/bin/env bash
# Sets up a one-node Slurm cluster on this machine (Debian/Ubuntu, as root) and runs the
# Slurm integration test (tests/it/slurm.rs) against it for real.
#
# Usage:  sudo scripts/ci-slurm.sh            # install if needed, start daemons, run the test
#         sudo scripts/ci-slurm.sh --setup    # only install and start the daemons
#         sudo scripts/ci-slurm.sh --stop     # stop the daemons this script started
#
# Why a script and not the test itself: installing packages and starting daemons as root
# is a machine-level side effect that `cargo test` must never perform. The test only runs
# when `sbatch` is on PATH and `sinfo` answers; otherwise it prints "skipping" and passes.
#
# Everything listens on loopback only. Daemon pids are in /run/slurmctld.pid and
# /run/slurmd.pid (munged: /run/munge/munged.pid).
set -euo pipefail

cd "$(dirname "$0")/.."

stop() {
    for f in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
        if [ -s "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi
    done
}

if [ "${1:-}" = "--stop" ]; then stop; exit 0; fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ci-slurm.sh: must run as root (installs packages and starts daemons)" >&2
    exit 2
fi

if ! command -v sbatch >/dev/null || [ ! -x /usr/sbin/munged ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge
fi

H=$(hostname -s)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=local
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF

if ! sinfo >/dev/null 2>&1; then
    chown -R munge:munge /run/munge /etc/munge
    pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged || /usr/sbin/munged --force
    pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
    pgrep -x slurmd >/dev/null || /usr/sbin/slurmd
    for _ in $(seq 1 30); do
        if sinfo -h -o '%T' 2>/dev/null | grep -Eq 'idle|mixed|alloc'; then break; fi
        sleep 1
    done
fi
sinfo

if [ "${1:-}" = "--setup" ]; then exit 0; fi

BACKUPSIM_SLURM=1 cargo test --test it slurm -- --nocapture
