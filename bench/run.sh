#!/usr/bin/env bash
# The overhead benchmarks, against bare runc, in one run (README "Performance"):
#
#   sudo bash bench/run.sh [passthrough|start|engines|cri|concurrent|idle|delete|collector ...]
#                                                                     (npm run bench)
#
# BENCH_RUNS=N sets the runs per case of the scripts that take it (see each script's header).
# Needs root, tracefs, runc, crun, containerd and docker.io (.ci/lab-setup.sh),
# and a build (npm run build; done here when dist/bundle/ or dist/bin/ is missing). Each script starts what it
# needs under a temp directory (private containerd and dockerd for engines) and removes it after.
# The default set is the quick one; concurrent, idle, delete and collector take minutes each.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]]; then
  echo "bench: run as root (sudo bash bench/run.sh)" >&2
  exit 1
fi
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
[[ -f dist/bundle/cli/oci-ftrace.js && -e dist/bin/oci-ftrace-runc ]] || npm run build
scripts=("$@")
(( ${#scripts[@]} )) || scripts=(passthrough start engines)
for name in "${scripts[@]}"; do
  echo
  echo "=== bench/$name.mjs"
  node "bench/$name.mjs"
done
