#!/usr/bin/env bash
# Pulls container images with retries and exponential backoff, for the workflows that need images
# from Docker Hub (kindest/node, busybox, testcontainers/ryuk): pulled once here, up front, so
# `kind create` and testcontainers find them present and pull nothing themselves.
# A pull refused for Docker Hub's rate limit ("toomanyrequests") is named as such, as a workflow
# annotation on GitHub, with what to do about it.
#
#   pull-images.sh IMAGE...
#   PULL_ATTEMPTS         attempts per image (default 5)
#   PULL_BACKOFF_SECONDS  wait after the first failure, doubled after each (default 15)
#   DOCKER                docker binary (default docker)
# Exits non-zero when an image could not be pulled.
set -uo pipefail

attempts=${PULL_ATTEMPTS:-5}
backoff=${PULL_BACKOFF_SECONDS:-15}
docker=${DOCKER:-docker}

# ::warning::/::error:: on GitHub, plain lines elsewhere.
annotate() {
  if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::$1::$2"; else echo "$1: $2"; fi
}

status=0
for image in "$@"; do
  wait=$backoff
  rate_limited=false
  for ((attempt = 1; attempt <= attempts; attempt++)); do
    if out=$("$docker" pull "$image" 2>&1); then
      echo "pulled $image (attempt $attempt/$attempts)"
      break
    fi
    last=$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | tail -n 1)
    if grep -qiE 'toomanyrequests|rate limit' <<<"$out"; then
      rate_limited=true
      annotate warning "Docker Hub RATE LIMIT: pull of $image refused (attempt $attempt/$attempts): $last"
    else
      echo "pull of $image failed (attempt $attempt/$attempts): $last"
    fi
    if [ "$attempt" -eq "$attempts" ]; then
      if $rate_limited; then
        annotate error "could not pull $image: Docker Hub rate-limited this runner's pulls. Set the repository secrets DOCKERHUB_USERNAME and DOCKERHUB_TOKEN (a Docker Hub access token) so the workflow pulls as a user (CONTRIBUTING.md, This repository's workflows and secrets), or re-run later."
      else
        annotate error "could not pull $image after $attempts attempts: $last"
      fi
      status=1
      break
    fi
    echo "retrying in ${wait}s"
    sleep "$wait"
    wait=$((wait * 2))
  done
done
exit "$status"
