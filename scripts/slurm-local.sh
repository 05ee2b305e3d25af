#!/usr/bin/env bash
# A one-node Slurm on this machine, for testing emitted studies against the real thing (docs/reliability.md case 37).
#   bash scripts/slurm-local.sh COMMAND [ARGS...]   start Slurm, run COMMAND with SLURM_CONF set, stop Slurm
#   bash scripts/slurm-local.sh                     start Slurm and keep it up until Ctrl-C
# Installs Debian's slurm-wlm and munge when missing (needs root: apt-get, and the daemons run as root).
# Everything it writes lives in $OT_SLURM_DIR (default /tmp/overtrain-slurm); /etc/slurm is not touched. The
# node has CPUs = nproc; process tracking is linuxproc, so no cgroups are needed (containers work too).
set -euo pipefail

state="${OT_SLURM_DIR:-/tmp/overtrain-slurm}"
host="$(hostname -s)"
cpus="$(nproc)"
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 ))

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-local.sh: run as root (it installs packages and starts munged, slurmctld and slurmd)" >&2
  exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  echo "slurm-local.sh: installing slurm-wlm and munge from Debian" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >&2 ||
    { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >&2; }
fi

rm -rf "$state"
mkdir -p "$state"/{ctld,spool,munge,log}
chmod 700 "$state/munge"
conf="$state/slurm.conf"
cat > "$conf" <<EOF
# Written by scripts/slurm-local.sh: one node ($host, $cpus CPUs), everything as root, no cgroups.
ClusterName=overtrain-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MinJobAge=3600
SchedulerType=sched/backfill
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$conf"

# munge: a fresh key and a private socket, so an installed munge service is left alone.
key="$state/munge/munge.key"
dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
chmod 400 "$key"
socket="$state/munge/munge.socket"
pids=()
stop() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT
munged --foreground --force --key-file="$key" --socket="$socket" --pid-file="$state/munge/munged.pid" \
  --log-file="$state/log/munged.log" --seed-file="$state/munge/munged.seed" >>"$state/log/munged.out" 2>&1 &
pids+=($!)
# Slurm's auth/munge plugin finds the socket through AuthInfo.
echo "AuthInfo=socket=$socket" >> "$conf"
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { echo "slurm-local.sh: munged did not start (see $state/log/munged.log)" >&2; exit 1; }

slurmctld -D -i -f "$conf" >>"$state/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$conf" >>"$state/log/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then break; fi
  sleep 0.3
done
if ! sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
  echo "slurm-local.sh: the node did not come up; logs in $state/log:" >&2
  tail -n 20 "$state"/log/*.log >&2 || true
  exit 1
fi
echo "slurm-local.sh: Slurm is up (node $host, $cpus CPUs; SLURM_CONF=$conf)" >&2

if [ $# -gt 0 ]; then
  "$@"
else
  echo "slurm-local.sh: Ctrl-C stops it; in another shell: export SLURM_CONF=$conf" >&2
  wait
fi
