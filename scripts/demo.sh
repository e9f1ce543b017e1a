#!/usr/bin/env bash
# The main job on a fresh machine (`npm run demo`): set up (scripts/setup.sh: Node 24, npm
# packages, the cluster binaries, built once into a cache outside the repo), start a local
# cluster (real control plane + kwok nodes), deploy a sample app (Deployment helloworld with a
# PDB minAvailable 1 and a Service), then drain the node it runs on with safe-drain: the plan
# first, then the drain. The cluster is left running for a look around; `bash scripts/demo.sh down`
# removes it (with the Node 24 the demo used: the machine's own node may be older).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node24.sh
if [ "${1:-}" = down ]; then exec npm run --silent cluster -- down; fi
bin=$(bash scripts/setup.sh | tail -n 1)
kubectl() { "$bin/kubectl" "$@"; }

npm run --silent cluster -- up
kubeconfig=$(npm run --silent cluster -- status | sed -n "s/^export KUBECONFIG=//p" | tail -n 1)
export KUBECONFIG=$kubeconfig

echo "== deploying the sample app (Deployment helloworld, 1 replica, PDB minAvailable 1, Service)"
kubectl apply -f examples/helloworld.yaml
kubectl -n demo rollout status deployment/helloworld --timeout=120s
node=$(kubectl -n demo get pods -l app=helloworld -o jsonpath='{.items[0].spec.nodeName}')
kubectl -n demo get pods -o wide

echo
echo "== safe-drain: plan for node $node (changes nothing)"
node dist/cli.js plan "$node" || true
echo
echo "== safe-drain: drain node $node"
node dist/cli.js drain "$node" --timeout 3m
echo
kubectl get nodes
kubectl -n demo get pods -o wide
echo
echo "The cluster is still running: export KUBECONFIG=$KUBECONFIG"
echo "Remove it with: bash scripts/demo.sh down"
