#!/usr/bin/env bash
# Idempotent: make a local Docker engine answer on this machine, for the docker backend and `harness images build`.
#   1. installs Debian `docker.io` and `debootstrap` when missing (one `apt-get update` first; needs root);
#   2. starts `dockerd --iptables=false --bridge=none` in the background when no daemon answers
#      (no bridge, no NAT rules: containers use host networking, so every address stays on 127.0.0.1);
#   3. polls `docker info` until the daemon answers or the deadline passes; prints one status line.
# Exit 0: daemon answers. Exit 3: could not install or start it (the message says why and where the log is).
#
# Settings (environment):
#   DOCKERD_LOG            dockerd log file                 (default /var/log/gonka-harness-dockerd.log)
#   DOCKERD_TIMEOUT_S      how long to wait for the daemon  (default 60)
#   DOCKERD_STORAGE_DRIVER e.g. overlay2 or vfs             (default: dockerd's own choice)
#   DOCKERD_EXTRA_ARGS     more dockerd flags, space separated
set -euo pipefail

LOG="${DOCKERD_LOG:-/var/log/gonka-harness-dockerd.log}"
TIMEOUT_S="${DOCKERD_TIMEOUT_S:-60}"
t0=$(date +%s.%N)

fail() { echo "docker-engine: $*" >&2; exit 3; }
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# The docker CLI in PATH may be newer than Debian's daemon; it negotiates the API version, so either works.
docker_answers() { timeout 10 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

status_line() {
  local v d
  v=$(timeout 10 docker info --format '{{.ServerVersion}}' 2>/dev/null || echo '?')
  d=$(timeout 10 docker info --format '{{.Driver}}' 2>/dev/null || echo '?')
  echo "docker-engine: ok: dockerd $v (storage $d) answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}; $1 in $(elapsed)s"
}

# An engine elsewhere (DOCKER_HOST) or one already running here: nothing to do.
if command -v docker >/dev/null 2>&1 && docker_answers; then
  command -v debootstrap >/dev/null 2>&1 || echo "docker-engine: note: debootstrap missing (apt-get install debootstrap) - needed by 'harness images build'" >&2
  status_line "already running"
  exit 0
fi
if [ -n "${DOCKER_HOST:-}" ]; then
  fail "DOCKER_HOST=$DOCKER_HOST is set but no daemon answers there; start that engine, or unset DOCKER_HOST to run one locally"
fi

# 1. Packages.
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "missing ${missing[*]}; run this script as root or install them: apt-get install -y ${missing[*]}"
  command -v apt-get >/dev/null 2>&1 || fail "missing ${missing[*]} and no apt-get here; install a Docker engine and debootstrap by hand"
  echo "docker-engine: installing ${missing[*]} (apt-get)" >&2
  apt-get update -qq >/dev/null || fail "apt-get update failed; check the Debian mirror in /etc/apt/sources.list.d/"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
  echo "docker-engine: installed ${missing[*]} after $(elapsed)s" >&2
fi
command -v docker >/dev/null 2>&1 || fail "no docker CLI in PATH after installing docker.io"

# 2. Start dockerd (unless one of ours is still coming up).
pidfile=/var/run/docker.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "docker-engine: dockerd pid $(cat "$pidfile") is running but not answering yet; waiting" >&2
else
  [ "$(id -u)" = 0 ] || fail "dockerd is not running and starting it needs root (sudo bash $0)"
  args=(--iptables=false --bridge=none --ip-masq=false --pidfile "$pidfile")
  [ -n "${DOCKERD_STORAGE_DRIVER:-}" ] && args+=(--storage-driver "$DOCKERD_STORAGE_DRIVER")
  # shellcheck disable=SC2206
  [ -n "${DOCKERD_EXTRA_ARGS:-}" ] && args+=($DOCKERD_EXTRA_ARGS)
  mkdir -p "$(dirname "$LOG")"
  echo "docker-engine: starting dockerd ${args[*]} (log $LOG)" >&2
  # setsid + nohup: the daemon outlives this script and its terminal.
  setsid nohup dockerd "${args[@]}" >>"$LOG" 2>&1 </dev/null &
  dpid=$!
fi

# 3. Wait until it answers (bounded), or report why not.
deadline=$(( $(date +%s) + TIMEOUT_S ))
while ! docker_answers; do
  if [ -n "${dpid:-}" ] && ! kill -0 "$dpid" 2>/dev/null; then
    echo "---- last lines of $LOG ----" >&2; tail -n 20 "$LOG" >&2 || true
    fail "dockerd exited during start-up (see $LOG); try DOCKERD_STORAGE_DRIVER=vfs if the storage driver failed"
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "---- last lines of $LOG ----" >&2; tail -n 20 "$LOG" >&2 || true
    fail "dockerd did not answer 'docker info' within ${TIMEOUT_S}s (see $LOG; raise DOCKERD_TIMEOUT_S if the machine is slow)"
  fi
  sleep 0.2  # poll interval of a bounded wait, not synchronisation
done
command -v debootstrap >/dev/null 2>&1 || echo "docker-engine: note: debootstrap missing (apt-get install debootstrap)" >&2
status_line "started"
