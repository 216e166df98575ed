#!/usr/bin/env bash
# A real Slurm cluster on this machine, for the tests and for trying `evaluator slurm`:
# Debian's slurmctld, slurmd, slurm-client and munge (installed if missing, as root),
# one controller and NODES emulated nodes (c1, c2, …: one `slurmd -N` each on its own
# port), all as plain background processes without systemd or cgroups.
#
#   scripts/slurm-test-cluster.sh start    # idempotent; prints `export SLURM_CONF=…`
#   scripts/slurm-test-cluster.sh stop     # cancels the jobs, then stops what start started (by PID)
#   scripts/slurm-test-cluster.sh status
#
# Settings (environment): SLURM_TEST_DIR (state, logs, config; default
# /tmp/leaderboard-slurm), NODES (default 3), CPUS per node (default 2),
# SLURM_PORT_BASE (default 16817: controller; nodes from base+100).
#
# What a cluster without cgroups or accounting needs, measured on Slurm 22.05:
# proctrack/linuxproc and task/none; accounting off and jobcomp/filetxt (job outcomes
# from `scontrol show job`, kept for MinJobAge, or the completion file); kill_invalid_depend
# (else a job depending on a failed one waits forever); RequeueExit=75 (a job that exits 75
# is requeued: `evaluator work` exits 75 on SIGTERM); cred_expire=15 (the requeue delay).
set -euo pipefail

DIR="${SLURM_TEST_DIR:-/tmp/leaderboard-slurm}"
NODES="${NODES:-3}"
CPUS="${CPUS:-2}"
BASE="${SLURM_PORT_BASE:-16817}"
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"

need_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null; then
    return
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "slurm-test-cluster: needs Debian's slurmctld slurmd slurm-client munge (apt-get install, as root)" >&2
    exit 1
  fi
  echo "slurm-test-cluster: installing slurmctld slurmd slurm-client munge" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_conf() {
  local host
  host="$(hostname -s)"
  mkdir -p "$DIR/state" "$DIR/log" "$DIR/munge"
  {
    echo "ClusterName=lbtest"
    echo "SlurmctldHost=$host(127.0.0.1)"
    echo "SlurmctldPort=$BASE"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "AuthType=auth/munge"
    echo "AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=15"
    echo "CredType=cred/munge"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "SchedulerType=sched/builtin"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "AccountingStorageType=accounting_storage/none"
    echo "JobCompType=jobcomp/filetxt"
    echo "JobCompLoc=$DIR/log/jobcomp.txt"
    echo "MinJobAge=3600"
    echo "ReturnToService=2"
    echo "DependencyParameters=kill_invalid_depend"
    echo "RequeueExit=75"
    echo "MpiDefault=none"
    echo "StateSaveLocation=$DIR/state"
    echo "SlurmdSpoolDir=$DIR/spool-%n"
    echo "SlurmctldPidFile=$DIR/slurmctld.pid"
    echo "SlurmdPidFile=$DIR/slurmd-%n.pid"
    echo "SlurmctldLogFile=$DIR/log/slurmctld.log"
    echo "SlurmdLogFile=$DIR/log/slurmd-%n.log"
    echo "SlurmctldTimeout=30"
    echo "SlurmdTimeout=30"
    echo "InactiveLimit=0"
    echo "KillWait=5"
    for i in $(seq 1 "$NODES"); do
      echo "NodeName=c$i NodeHostname=$host NodeAddr=127.0.0.1 Port=$((BASE + 100 + i)) CPUs=$CPUS RealMemory=4000 State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=c[1-$NODES] Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO"
  } > "$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
}

start() {
  need_packages
  mkdir -p "$DIR"
  write_conf
  if ! alive "$DIR/munged.pid"; then
    local key="$DIR/munge/munge.key"
    [ -f "$key" ] || { dd if=/dev/urandom of="$key" bs=1 count=1024 2>/dev/null; chmod 400 "$key"; }
    munged --force --key-file="$key" --socket="$DIR/munge/munge.socket" \
      --pid-file="$DIR/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munge.seed"
  fi
  if ! alive "$DIR/slurmctld.pid"; then
    slurmctld -f "$CONF" -i
  fi
  for i in $(seq 1 "$NODES"); do
    if ! alive "$DIR/slurmd-c$i.pid"; then
      mkdir -p "$DIR/spool-c$i"
      slurmd -f "$CONF" -N "c$i"
    fi
  done
  local t=0
  until [ "$(sinfo -h -o '%t' 2>/dev/null | grep -cE '^(idle|mix|alloc)')" -ge 1 ] && \
        [ "$(sinfo -h -N -o '%N %t' 2>/dev/null | grep -cE ' (idle|mix|alloc)$')" -ge "$NODES" ]; do
    t=$((t + 1))
    if [ "$t" -gt 60 ]; then
      echo "slurm-test-cluster: nodes not idle after 60 s; logs in $DIR/log" >&2
      sinfo -N >&2 || true
      exit 1
    fi
    sleep 1
  done
  echo "export SLURM_CONF=$CONF"
}

stop() {
  if [ -f "$CONF" ] && alive "$DIR/slurmctld.pid"; then
    scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    # slurmstepd outlives slurmd and ignores SIGTERM: wait for the jobs to end first.
    for _ in $(seq 1 30); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 1
    done
  fi
  for p in "$DIR"/slurmd-*.pid "$DIR/slurmctld.pid" "$DIR/munged.pid"; do
    if alive "$p"; then
      kill "$(cat "$p")" 2>/dev/null || true
    fi
  done
  for p in "$DIR"/slurmd-*.pid "$DIR/slurmctld.pid" "$DIR/munged.pid"; do
    for _ in $(seq 1 50); do
      alive "$p" || break
      sleep 0.1
    done
    if alive "$p"; then kill -9 "$(cat "$p")" 2>/dev/null || true; fi
    rm -f "$p"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) sinfo -N; squeue ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
