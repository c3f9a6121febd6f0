#!/usr/bin/env bash
# ansible-core compatibility matrix (`make compat`): for every row of tests/compat/ansible-core.txt
# (<ansible-core version> <Python version>) whose Python exists on this machine (python3.X on PATH or in pyenv),
# build a virtualenv with that ansible-core and the collection's pinned dependencies, then run
#   1. the unit tests (pytest tests/unit),
#   2. ansible-test sanity --test validate-modules (on a copied collection tree),
#   3. a playbook smoke (tests/compat/smoke.yml) against a `healthy` lab, when running as root.
# A row whose Python is absent (a fresh Debian 12 has only 3.11) is skipped with the reason; the script then exits 0.
# Usage: tests/compat/ansible-core-matrix.sh [VERSION-PREFIX ...]   e.g. 2.21
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/aks-tunnel/$(printf %s "$REPO" | sha256sum | cut -c1-12)/compat"
mkdir -p "$CACHE"
export AKS_TUNNEL_AZURE_SPECS=${AKS_TUNNEL_AZURE_SPECS:-$REPO/../shared/azure-specs}

find_python() {  # python<major.minor> from PATH, else pyenv's newest of that minor
  local want=$1 candidate
  for candidate in "$(command -v "python$want" 2>/dev/null)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/python"$want"; do
    [[ -n $candidate && -x $candidate ]] || continue
    "$candidate" -c 'import venv, ensurepip' >/dev/null 2>&1 && { echo "$candidate"; return 0; }
  done
  return 1
}

# The collection's pinned dependencies, less what the row replaces (ansible-core) or does not need (lint, changelog).
deps() { grep -vE '^(ansible-core|ansible-lint|antsibull-changelog|yamllint)==' requirements-dev.txt; }

results=()
status=0
while read -r core py; do
  [[ -z $core || $core == \#* ]] && continue
  if (($#)); then
    keep=no
    for prefix in "$@"; do [[ $core == "$prefix"* ]] && keep=yes; done
    [[ $keep == yes ]] || continue
  fi
  row="ansible-core $core / Python $py"
  if ! python=$(find_python "$py"); then
    echo "compat: SKIP $row: python$py is not installed here (neither on PATH nor in pyenv)"
    results+=("$row: skipped (no python$py)")
    continue
  fi
  echo "==== $row ($python) ===="
  venv="$CACHE/venv-$core-py$py"
  want=$( (echo "ansible-core==$core"; deps) | sha256sum | cut -c1-16)
  if [[ ! -x $venv/bin/python || $(cat "$venv/.stamp" 2>/dev/null) != "$want" ]]; then
    rm -rf "$venv"
    "$python" -m venv "$venv" || { results+=("$row: FAILED (venv)"); status=1; continue; }
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1
    if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check "ansible-core==$core" -r <(deps) >"$CACHE/pip-$core.log" 2>&1; then
      tail -n 5 "$CACHE/pip-$core.log"; results+=("$row: FAILED (pip install)"); status=1; continue
    fi
    echo "$want" > "$venv/.stamp"
  fi
  dest="$CACHE/tree-$core"
  tree=$(scripts/collection-tree.sh "$dest") || { results+=("$row: FAILED (collection tree)"); status=1; continue; }
  failed=()

  echo "-- unit tests"
  (cd "$tree" && PYTHONPATH="$dest" "$venv/bin/python" -m pytest -q -p no:cacheprovider -n 2 tests/unit >"$CACHE/units-$core.log" 2>&1) \
    || failed+=(units)
  tail -n 1 "$CACHE/units-$core.log"

  echo "-- ansible-test sanity --test validate-modules"
  # ansible-test bootstraps its venvs with a get-pip script it would download: the repo's stand-in, under its pip version.
  pip_version=$("$venv/bin/python" - <<'PY'
import os, re, ansible_test
src = open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()
print(re.search(r"pip\s*=\s*'([0-9.]+)'", src).group(1))
PY
)
  mkdir -p ~/.ansible/test/cache
  cp scripts/get_pip_shim.py ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
  (cd "$tree" && PATH="$venv/bin:$(dirname "$python"):$PATH" ansible-test sanity --venv --python "$py" --color no \
     --test validate-modules >"$CACHE/sanity-$core.log" 2>&1) || failed+=(validate-modules)
  tail -n 5 "$CACHE/sanity-$core.log"

  if [[ $(id -u) -eq 0 ]]; then
    echo "-- playbook smoke against a healthy lab"
    state="$CACHE/lab-$core"
    if tests/lab/labctl up --scenario healthy --state "$state" >"$CACHE/lab-$core.log" 2>&1; then
      (ANSIBLE_COLLECTIONS_PATH="$dest" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False \
        "$venv/bin/ansible-playbook" -i localhost, -e "ansible_python_interpreter=$venv/bin/python" -e "@$state/vars.yml" \
        "$tree/tests/compat/smoke.yml" >"$CACHE/smoke-$core.log" 2>&1) || failed+=(smoke)
      tail -n 4 "$CACHE/smoke-$core.log"
    else
      failed+=(lab-up)
      tail -n 5 "$CACHE/lab-$core.log"
    fi
    tests/lab/labctl down --state "$state" >>"$CACHE/lab-$core.log" 2>&1 || true
  else
    echo "compat: playbook smoke skipped: the lab needs root"
  fi

  if ((${#failed[@]})); then
    results+=("$row: FAILED (${failed[*]}; logs in $CACHE)"); status=1
  else
    results+=("$row: passed")
  fi
done < tests/compat/ansible-core.txt

echo
echo "==== ansible-core matrix ===="
printf '%s\n' "${results[@]}"
exit $status
