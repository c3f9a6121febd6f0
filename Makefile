# aks.tunnel: the two commands of the README, plus helpers.
.PHONY: demo test setup sanity units lint build docs clean lab-down

# Run the main job on the embedded lab (set-up, diagnose, remediate --check --diff, remediate, diagnose).
demo:
	@scripts/demo.sh

# Sanity, lint, unit, integration and lab tests (lab tests need root).
test:
	@scripts/test.sh

setup:
	@scripts/setup.sh

build: setup
	.venv/bin/ansible-galaxy collection build --output-path dist/ --force

clean:
	rm -rf .tmp dist tests/output .pytest_cache .coverage
