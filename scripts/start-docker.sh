#!/usr/bin/env bash
# Makes a Docker Engine reachable for the testcontainers tests (test/docker), idempotently:
#   1. `docker info` already answers            -> nothing to do.
#   2. no dockerd binary                        -> apt-get install docker.io (Debian's package).
#   3. dockerd not running                      -> start it in the background (log: $DOCKERD_LOG).
#   4. wait (up to $DOCKER_WAIT_SECONDS, default 60) until `docker info` answers.
# Prints what it did on stderr; exits non-zero (with the dockerd log tail) if the daemon never
# answers. Run as root (it installs packages and starts a daemon).
#
# This only starts an engine for unprivileged containers from local images: it does NOT make
# kind possible here (kind needs privileged containers and pulled images).
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
DOCKER_WAIT_SECONDS=${DOCKER_WAIT_SECONDS:-60}

log() { printf '[start-docker %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

docker_ok() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if docker_ok; then
  log "docker daemon already reachable ($(docker info --format '{{.ServerVersion}}' 2>/dev/null)); nothing to do"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v containerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "dockerd is not installed and this is not root: cannot apt-get install docker.io"
    exit 1
  fi
  log "dockerd not installed: apt-get install docker.io"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run (a colleague's, unattended-upgrades) may hold the lock: wait for it.
  apt_opts=(-o DPkg::Lock::Timeout=300)
  apt-get "${apt_opts[@]}" update -qq >&2
  apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends docker.io >&2
  log "installed: $(dockerd --version 2>/dev/null || echo '?')"
else
  log "dockerd present: $(dockerd --version 2>/dev/null || echo '?')"
fi

if pgrep -x dockerd >/dev/null 2>&1; then
  log "dockerd already running (pid $(pgrep -x dockerd | head -n1)); waiting for it to answer"
else
  log "starting dockerd in the background (log: $DOCKERD_LOG)"
  # setsid + nohup: the daemon outlives this script and its shell.
  setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
  log "dockerd started (pid $!)"
fi

deadline=$((SECONDS + DOCKER_WAIT_SECONDS))
until docker_ok; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "docker daemon did not answer within ${DOCKER_WAIT_SECONDS}s; last lines of $DOCKERD_LOG:"
    tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
    exit 1
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd exited; last lines of $DOCKERD_LOG:"
    tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 1
done
log "docker daemon reachable: server $(docker info --format '{{.ServerVersion}}'), storage driver $(docker info --format '{{.Driver}}'), cgroup $(docker info --format '{{.CgroupVersion}}')"
