#!/usr/bin/env bash
# Prepares a Debian 12 machine (as root) for `vitest run --project integration`: the real runtimes and engines,
# tracefs, and the cgroup layout crun needs. Idempotent: a rerun on a ready machine changes nothing.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "lab-setup: must run as root" >&2
  exit 1
fi

say() { echo "lab-setup: $*"; }

# Packages: install only what is missing, so reruns need no network.
# python3-yaml: the SPO profile tests read our YAML back with a real parser; logrotate: the shipped
# contrib/logrotate file is run against our log.
packages=(runc crun containerd docker.io podman busybox-static strace gcc libc6-dev python3-yaml libcap2-bin passwd util-linux uidmap logrotate)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  # The packages' units would start engines on the default paths; the tests start their own.
  for unit in docker.service docker.socket containerd.service; do
    if systemctl is-active --quiet "$unit" 2>/dev/null; then
      systemctl stop "$unit" && say "stopped $unit (tests run their own daemons)"
    fi
  done
else
  say "packages present"
fi

# tracefs
if mountpoint -q /sys/kernel/tracing; then
  say "tracefs mounted"
else
  mount -t tracefs nodev /sys/kernel/tracing
  say "mounted tracefs on /sys/kernel/tracing"
fi

# crun 1.8.1 refuses this hybrid cgroup layout until hugetlb is a v1 controller (only on cgroup-v1/hybrid hosts).
if [[ -d /sys/fs/cgroup/memory ]] && grep -qw hugetlb /proc/cgroups; then
  if mountpoint -q /sys/fs/cgroup/hugetlb; then
    say "hugetlb cgroup v1 mounted"
  else
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
    say "mounted hugetlb cgroup v1 for crun"
  fi
fi

# crun 1.8.1's `exec --user` bug can chown the host's /dev/null; later runs then fail in odd ways.
if [[ $(stat -c '%u:%g %a %t:%T' /dev/null) != '0:0 666 1:3' ]]; then
  if [[ -c /dev/null ]]; then
    chown 0:0 /dev/null && chmod 666 /dev/null
  else
    rm -f /dev/null && mknod -m 666 /dev/null c 1 3
  fi
  say "repaired /dev/null"
else
  say "/dev/null ok"
fi

say "ready ($(runc --version | head -1); $(crun --version | head -1); $(containerd --version | awk '{print $3}'))"
