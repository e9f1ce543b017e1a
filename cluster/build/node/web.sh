#!/bin/sh
# PID 1 of the sample web image (safe-drain.local/web, FROM scratch, static busybox): serves
# "<hostname>" on :${PORT:-8080} with busybox httpd. busybox as PID 1 would ignore SIGTERM (no
# default action for PID 1), so this wrapper traps it: it keeps serving for
# ${SHUTDOWN_DELAY_SECONDS:-0} s (what a preStop sleep gives: time for kube-proxy on every node to
# drop the endpoint), then stops httpd and exits 0.
port=${PORT:-8080}
mkdir -p /www
hostname > /www/index.html
httpd -f -p "$port" -h /www &
pid=$!
stop() {
  echo "SIGTERM: serving ${SHUTDOWN_DELAY_SECONDS:-0} s more, then exiting"
  sleep "${SHUTDOWN_DELAY_SECONDS:-0}"
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  exit 0
}
trap stop TERM INT
echo "serving on :$port"
# `wait` returns early when a trapped signal arrives; the trap then exits.
wait "$pid"
echo "httpd exited"
exit 1
