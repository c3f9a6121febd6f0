#!/usr/bin/env bash
# `make demo`: the main job on the embedded lab, start to finish, on a fresh machine:
#   set-up -> labctl up --scenario all-faults -> diagnose -> remediate --check --diff -> remediate -> diagnose -> labctl down
# Needs root for the lab (network namespaces). Finishes in a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SCENARIO=${AKS_TUNNEL_DEMO_SCENARIO:-all-faults}
STATE=${AKS_TUNNEL_DEMO_STATE:-$REPO/.lab}
REPORT_DIR=$REPO/aks-tunnel-report

step() { printf '\n\033[1m==== [%s] %s ====\033[0m\n' "$(date +%H:%M:%S)" "$*"; }
say() { printf '  %s\n' "$@"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "make demo: the lab needs root (network namespaces, nftables); run: sudo make demo" >&2
  exit 2
fi

step "1/7 set-up: Debian packages, .venv with pinned dependencies, collection path"
scripts/setup.sh
export PATH="$REPO/.venv/bin:$PATH"
export ANSIBLE_CONFIG=$REPO/ansible.cfg ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-0} ANSIBLE_LOCALHOST_WARNING=False
started=$(date +%s)

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { step "7/7 labctl down: remove every namespace, rule, route and process of the lab"; tests/lab/labctl down --state "$STATE" || true; }
trap cleanup EXIT

step "2/7 labctl up --scenario $SCENARIO: an AKS cluster with real faults in network namespaces"
tests/lab/labctl up --scenario "$SCENARIO" --state "$STATE"
say "Injected: $(sed -n 's/^description: //p' "tests/lab/scenarios/$SCENARIO.yaml")"

# kubectl against the lab (KUBECONFIG and the lab's kubectl first on PATH), as a user would after `eval "$(labctl env)"`.
eval "$(tests/lab/labctl env --state "$STATE" --no-az)"
BLOCKED_NODES=$(python -c 'import sys, yaml; v = yaml.safe_load(open(sys.argv[1])); print(" ".join(v["aks_tunnel_lab"]["expect"].get("affected_nodes") or []))' "$STATE/vars.yml")

show_logs() {  # the article's first symptom: kubectl logs of a pod on a node the scenario blocks (else the same kubelet path)
  local node ns pod
  for node in $BLOCKED_NODES; do
    read -r ns pod < <(kubectl get pods -A --field-selector "spec.nodeName=$node" \
      -o jsonpath='{range .items[0]}{.metadata.namespace} {.metadata.name}{end}' 2>/dev/null) || true
    if [[ -n ${pod:-} ]]; then
      say "\$ kubectl logs -n $ns $pod --tail 1      # $pod runs on $node"
      kubectl logs -n "$ns" "$pod" --tail 1 --request-timeout 60s 2>&1 | sed 's/^/    /' || true
      return 0
    fi
  done
  node=${BLOCKED_NODES%% *}
  [[ -n $node ]] || return 0
  say "\$ kubectl get --raw /api/v1/nodes/$node/proxy/healthz      # no pod there: the kubelet path kubectl logs takes"
  kubectl get --raw "/api/v1/nodes/$node/proxy/healthz" --request-timeout 60s 2>&1 | sed 's/^/    /' || true
}

step "kubectl logs before the repair (the symptom the article starts from)"
show_logs

run() {  # run <playbook> [args...]: prints the playbook, returns its exit status without stopping the demo
  local rc=0
  # -i localhost, on the command line: no inventory file or directory is read (the playbooks run on localhost).
  ansible-playbook -i localhost, "playbooks/$1.yml" -e "@$STATE/vars.yml" -e "aks_tunnel_report_dir=$REPORT_DIR" "${@:2}" || rc=$?
  return $rc
}

step "3/7 diagnose: finds the problems (a non-zero exit is expected: that is how a pipeline is gated)"
rc=0; run diagnose || rc=$?
say "diagnose exited $rc: non-zero because problems were found; the reports were written first:" \
    "$REPORT_DIR/report.json, report.md, junit.xml"

step "4/7 remediate --check --diff: the plan (NSG rule JSON, ufw/iptables commands per node, outbound ports) - changes nothing"
rc=0; run remediate --check --diff || rc=$?
say "remediate --check exited $rc: the closing diagnosis of the check run still finds every problem (nothing was changed)."

step "5/7 remediate: repair, recreate the tunnel pods, diagnose again (before -> after)"
rc=0; run remediate || rc=$?
say "remediate exited $rc. What has no safe automatic repair (or needs time) stays PROBLEM with the exact next step."
problems=$(python -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))["problems"]))' "$REPORT_DIR/report.json")
say "problems left: ${problems:-none}"
say "snat_exhaustion: the outbound ports were raised; the SNAT metrics still hold the failures of the last hour, but" \
    "only the minutes after the allocation rose decide the verdict (those failures are shown as history)."

step "kubectl logs after the repair: the tunnel reaches the kubelet again"
show_logs

step "6/7 remediate again: idempotent (changed=0), then its closing diagnosis"
rc=0; run remediate || rc=$?
say "second remediate exited $rc; its PLAY RECAP above shows changed=0."
rc=0; run diagnose || rc=$?
if [[ $rc -eq 0 ]]; then say "diagnose exited 0: every cause is OK."; else say "diagnose exited $rc: see $REPORT_DIR/report.md"; fi

say "demo finished in $(( $(date +%s) - started )) s (set-up excluded)"
exit "$rc"
