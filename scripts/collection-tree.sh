#!/usr/bin/env bash
# Copy the collection (tracked + untracked-but-not-ignored files) to
#   <dest>/ansible_collections/aks/tunnel
# ansible-test needs a real (not symlinked) tree at that path. Prints the collection directory.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-.tmp/collections}
T="$DEST/ansible_collections/aks/tunnel"
mkdir -p "$T"
# Refresh the copy but keep tests/output (ansible-test's cached venvs and results) between runs.
find "$T" -mindepth 1 -maxdepth 1 ! -name tests -exec rm -rf {} +
if [[ -d $T/tests ]]; then
  find "$T/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} +
fi
git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$T"
cd "$T" && pwd
