#!/usr/bin/env bash
# The main job on an embedded default: build a busybox bundle, run it through oci-ftrace-runc
# (which asks the host agent to prepare it for tracing, then execs the real runc), then print the
# container's report and a seccomp profile made from it.
# Usage (root, fresh Debian 12): sudo bash contrib/demo.sh [command...]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "$(id -u)" != 0 ]; then echo "demo: run as root (ftrace and runc need it)" >&2; exit 1; fi

bash "$ROOT/.ci/lab-setup.sh"
cd "$ROOT"
[ -d node_modules ] || npm install --no-audit --no-fund --no-save --loglevel=error
[ -f dist/bundle/cli/oci-ftrace.js ] && [ -e dist/bin/oci-ftrace-runc ] || npm run build --silent

OUT="$ROOT/demo-output"
WORK=$(mktemp -d /tmp/oci-ftrace-demo.XXXXXX)
# The demo's agent idles out a second after the report (agentIdleExitSeconds 1, below); its config
# goes only once it has (an agent whose config is gone falls back to the defaults, 30 s idle).
cleanup() {
  for _ in $(seq 50); do pgrep -f "agent --socket .* --config $WORK/config.json" >/dev/null || break; sleep 0.1; done
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$OUT" "$WORK/bundle/rootfs/bin" "$WORK/bundle/rootfs/etc"
cp /bin/busybox "$WORK/bundle/rootfs/bin/"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$WORK/bundle/rootfs/bin/$applet"
done
echo demo > "$WORK/bundle/rootfs/etc/hostname"
(cd "$WORK/bundle" && runc spec)
if [ $# -gt 0 ]; then ARGS=("$@"); else ARGS=(sh -c 'uname -a; cat /etc/hostname; ls /'); fi
node -e '
  const fs = require("fs"); const [file, ...args] = process.argv.slice(1);
  const spec = JSON.parse(fs.readFileSync(file, "utf8"));
  spec.process.terminal = false; spec.process.args = args;
  // runc spec writes no seccomp profile, so nothing would mark where a profile starts: this
  // container asks to be recorded from scratch (a filter that blocks nothing marks the start).
  spec.annotations = { ...(spec.annotations || {}), "oci-ftrace/record-seccomp": "permissive" };
  fs.writeFileSync(file, JSON.stringify(spec, null, "\t"));
' "$WORK/bundle/config.json" "${ARGS[@]}"

cat > "$WORK/config.json" <<JSON
{ "outputDir": "$OUT", "logFile": "$OUT/oci-ftrace.log", "agentIdleExitSeconds": 1 }
JSON
export OCI_FTRACE_CONFIG="$WORK/config.json"
ID="demo-$(date +%s)"
echo "== container output (runc run through oci-ftrace-runc) =="
"$ROOT/dist/bin/oci-ftrace-runc" run --bundle "$WORK/bundle" "$ID"
echo
echo "== report =="
"$ROOT/bin/oci-ftrace" show "$OUT/$ID/summary.json"
echo "== seccomp profile (OCI linux.seccomp; -f docker or -f spo for the other forms) =="
"$ROOT/bin/oci-ftrace" profile "$OUT/$ID" -f oci
echo "== run options: the capabilities it used, all others dropped, and that profile =="
"$ROOT/bin/oci-ftrace" options "$OUT/$ID" --seccomp-file "$OUT/$ID/seccomp.docker.json"
# The text log follows the summary (rendered off the container's stop path): wait for it.
for _ in $(seq 600); do grep -q '"log": *"pending"' "$OUT/$ID/summary.json" || break; sleep 0.1; done
echo "== first lines of the syscall log ($OUT/$ID/ftrace_syscalls_dump.log) =="
head -n 12 "$OUT/$ID/ftrace_syscalls_dump.log"
