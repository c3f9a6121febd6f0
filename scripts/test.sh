#!/usr/bin/env bash
# The one test command (`make test`): sanity, lint, unit tests, integration and lab tests.
# Exits non-zero on any failure; the last line printed is pytest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
scripts/setup.sh
export PATH="$REPO/.venv/bin:$PATH"
# CI clones into another folder with shared/ beside the clone; the ARM emulator validates its
# responses against the Azure REST specs there.
export AKS_TUNNEL_AZURE_SPECS=${AKS_TUNNEL_AZURE_SPECS:-$REPO/../shared/azure-specs}

# ansible-test reads git when the tree sits inside a work tree, so the copy lives outside the checkout.
DEST="${XDG_CACHE_HOME:-$HOME/.cache}/aks-tunnel/$(printf %s "$REPO" | sha256sum | cut -c1-12)/collections"
T=$(scripts/collection-tree.sh "$DEST")

# ansible-test bootstraps every venv it creates with a downloaded get-pip script; write our own
# stand-in under the name it looks for (pip version from ansible-test itself), on every run.
pip_version=$(python - <<'PY'
import os, re, ansible_test
src = open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()
print(re.search(r"pip\s*=\s*'([0-9.]+)'", src).group(1))
PY
)
mkdir -p ~/.ansible/test/cache
cp scripts/get_pip_shim.py ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"

step() { printf '\n==== %s (at %d s) ====\n' "$*" "$SECONDS"; }

failed=()

step "ansible-test sanity (no Docker: --venv, Python 3.11)"
(cd "$T" && ansible-test sanity --venv --python 3.11 --color no) || failed+=(sanity)

step "ansible-lint (production profile, offline)"
(cd "$T" && ANSIBLE_COLLECTIONS_PATH="$DEST" ansible-lint --offline --profile production --nocolor -q) || failed+=(ansible-lint)

if [[ $(id -u) -ne 0 ]]; then
  echo "NOTICE: not running as root: the lab and network-namespace tests will be SKIPPED."
fi

step "unit, integration and lab tests (pytest, with coverage of plugins/)"
cd "$T"
PYTHONPATH="$DEST" python -m pytest -p no:cacheprovider -n 2 --dist loadgroup --durations="${AKS_TUNNEL_TEST_DURATIONS:-30}" \
  --cov=plugins --cov-report=term:skip-covered --cov-report=xml:tests/output/coverage.xml \
  tests/unit tests/integration || failed+=(pytest)

step "done"
if ((${#failed[@]})); then
  echo "make test: FAILED: ${failed[*]} (see the sections above)"
  exit 1
fi
