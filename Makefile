# aks.tunnel: the two commands of the README, plus helpers.
.PHONY: demo test setup compat-core compat-sdk sanity units lint build docs clean lab-down

# Run the main job on the embedded lab (set-up, diagnose, remediate --check --diff, remediate, diagnose).
demo:
	@scripts/demo.sh

# Sanity, lint, unit, integration and lab tests (lab tests need root).
test:
	@scripts/test.sh

setup:
	@scripts/setup.sh

# ansible-core matrix (2.20 on Python 3.12, 2.21 on Python 3.13; rows whose Python is absent are skipped): unit tests,
# validate-modules and a playbook smoke against a lab. About 6 min with warm caches; not part of `make test`.
compat-core: setup
	@tests/compat/ansible-core-matrix.sh

# SDK range ends (requirements.txt lowest in .venv-compat, highest in .venv) on a lab, and the Azure CLI lab tests
# (root; about 2.5 min; part of `make test`), and the diagnose playbook with the lowest set (opt-in elsewhere, about 1 min).
compat-sdk: setup
	@AKS_TUNNEL_SDK_FLOOR_PLAYBOOK=1 AKS_TUNNEL_AZURE_SPECS=$${AKS_TUNNEL_AZURE_SPECS:-$(CURDIR)/../shared/azure-specs} PYTHONPATH=.tmp/dev \
	  .venv/bin/python -m pytest -p no:cacheprovider -q tests/integration/lab_arm/test_sdk_range_floors.py \
	  tests/integration/lab_arm/test_sdk_range_smoke.py tests/integration/playbooks/test_playbook_sdk_floor.py tests/integration/clients_az

build: setup
	.venv/bin/ansible-galaxy collection build --output-path dist/ --force

clean:
	rm -rf .tmp dist tests/output .pytest_cache .coverage
