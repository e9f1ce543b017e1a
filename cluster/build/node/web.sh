#!/bin/sh
# PID 1 of the sample web image (safe-drain.local/web, FROM scratch, static busybox): serves
# "<hostname>" on :${PORT:-8080} with busybox httpd. busybox as PID 1 would ignore SIGTERM (no
# default action for PID 1), so this wrapper traps it: it keeps serving for --delay-shutdown=N
# seconds (default 0; what a preStop sleep gives: time for kube-proxy on every node to drop the
# endpoint), then stops httpd and exits 0. The image's ENTRYPOINT: pod `args` are its arguments.
port=${PORT:-8080}
delay=0
for a in "$@"; do
  case "$a" in
    --delay-shutdown=*) delay=${a#--delay-shutdown=} ;;
    *) echo "unknown argument: $a (usage: web [--delay-shutdown=SECONDS])"; exit 2 ;;
  esac
done
mkdir -p /www
hostname > /www/index.html
httpd -f -p "$port" -h /www &
pid=$!
stop() {
  echo "SIGTERM: serving $delay s more, then exiting"
  sleep "$delay"
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
