# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CI recipes of docs/ci/ (issue 18): their shell steps, run in order as the hosted runner would, against a lab.

Each recipe is parsed as YAML; its `run:` / `script:` / AzureCLI@2 `inlineScript` steps run unmodified in bash, with the
step conditions (`if: always()`, `condition: succeededOrFailed()`), the `${{ vars.X }}` / `$(X)` values, and the runner's
files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, `##vso[...]` commands). Stubbed, because they need the internet:

* azure/login (OIDC) and the login of AzureCLI@2 (workload identity federation): `az login` against the lab's ARM emulator
  (tests/lab/arm/azcli.py, the same as `labctl env`), plus AZURE_ARM_ENDPOINT / AZURE_CA_PATH because the lab is not
  the public cloud;
* Galaxy: `ansible-galaxy collection install aks.tunnel...` installs the tarball built from this tree instead;
* PyPI: pip runs with PIP_NO_INDEX, so the recipe's `pip install` resolves from the test environment (which has them);
* setup-python / UsePythonVersion: nothing (the test's Python has the requirements);
* upload-artifact / PublishPipelineArtifact / the JUnit publishers: the test checks the files they would publish.

Kubernetes access is the collection's own (no kubeconfig): the cluster's user credential from ARM with the az login. The
GitHub recipe runs on nsg-deny-10250 (local accounts: the credential is a kubeconfig with a token) with the NSG and
konnectivity checks (outcome problem: the gate fails with exit 1); the Azure DevOps recipe on entra-only (local accounts
disabled: an Entra token for the AKS server application from `az`, no kubelogin) with the konnectivity check (outcome ok:
the gate passes). Every gate outcome (ok, problem, unknown, tool error, no report) is checked without a lab on synthetic
reports.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import stat
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET

import pytest
import yaml

from ansible_collections.aks.tunnel.tests.integration.collection_tarball import COLLECTION_ROOT, build_tarball
from ansible_collections.aks.tunnel.tests.lab.arm import azcli

pytestmark = pytest.mark.xdist_group('packaging')  # shares the tarball with test_collection_packaging.py

GITHUB = os.path.join(COLLECTION_ROOT, 'docs', 'ci', 'github-actions.yml')
AZDO = os.path.join(COLLECTION_ROOT, 'docs', 'ci', 'azure-pipelines.yml')
BIN = os.path.dirname(sys.executable)
STEP_TIMEOUT = 300


def _load(path):
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def _sanitized_environ():
    """The test process's environment without what a fresh runner does not have (auth, collection paths, PYTHONPATH)."""
    drop = ('AZURE_', 'ARM_', 'K8S_AUTH_', 'ANSIBLE_', 'GITHUB_', 'RUNNER_', 'PYTHON', 'VIRTUAL_ENV', 'KUBECONFIG', 'PIP_')
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', PIP_NO_INDEX='1', PIP_DISABLE_PIP_VERSION_CHECK='1', NO_PROXY='127.0.0.1,localhost',
               no_proxy='127.0.0.1,localhost')
    return env


class Runner:
    """A hosted-runner stand-in: a workspace, a HOME, a temp dir and a PATH whose stubs replace what needs the internet."""

    def __init__(self, root, lab=None):
        self.root = root
        self.lab = lab
        self.workspace = root / 'workspace'
        self.home = root / 'home'
        self.temp = root / 'runner-temp'
        self.stubs = root / 'stub-bin'
        self.az_bin = root / 'az-bin'
        for folder in (self.workspace, self.home, self.temp, self.stubs):
            folder.mkdir()
        self.galaxy_log = root / 'galaxy-requests.txt'
        self.logged_in = False
        self.published = []
        self.log = []

    def write_galaxy_stub(self, tarball):
        """`ansible-galaxy` that installs the local tarball where the recipe asks Galaxy for aks.tunnel."""
        stub = self.stubs / 'ansible-galaxy'
        stub.write_text('#!%s\n' % sys.executable + '\n'.join([
            'import os, sys',
            'args = sys.argv[1:]',
            'with open(%r, "a", encoding="utf-8") as log:' % str(self.galaxy_log),
            '    log.write(" ".join(args) + "\\n")',
            'args = [%r if a == "aks.tunnel" or a.startswith("aks.tunnel:") else a for a in args]' % tarball,
            'real = %r' % os.path.join(BIN, 'ansible-galaxy'),
            'os.execv(real, [real] + args)', '']))
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)

    def login(self):
        """What azure/login and AzureCLI@2 leave behind: a logged-in `az` on PATH (here: logged in to the lab)."""
        if not self.logged_in:
            self.az_bin.mkdir()
            os.symlink(self.lab.az.az, str(self.az_bin / 'az'))
            self.logged_in = True
        return {'AZURE_CONFIG_DIR': self.lab.az.config_dir, 'REQUESTS_CA_BUNDLE': self.lab.ca_path,
                # only because the lab is a private cloud: on Azure these stay unset
                'AZURE_ARM_ENDPOINT': self.lab.auth['arm_endpoint'], 'AZURE_CA_PATH': self.lab.ca_path}

    def env(self, extra):
        env = _sanitized_environ()
        path = [str(self.stubs)] + ([str(self.az_bin)] if self.logged_in else []) + [BIN, '/usr/local/bin', '/usr/bin', '/bin']
        env.update(HOME=str(self.home), PATH=os.pathsep.join(path))
        if self.logged_in:
            env.update(self.login())
        env.update(extra)
        return env

    def bash(self, script, env, flags):
        script_file = self.temp / ('step%d.sh' % len(self.log))
        script_file.write_text(script)
        started = time.monotonic()
        proc = subprocess.run(['bash', '--noprofile', '--norc'] + flags + [str(script_file)], cwd=str(self.workspace), env=env,
                              capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False)
        proc.duration = time.monotonic() - started
        self.log.append((script, proc))
        return proc


# --- GitHub Actions -------------------------------------------------------------------------------------------------

_GH_EXPR = re.compile(r'\$\{\{\s*(.*?)\s*\}\}')


def gh_expand(value, contexts):
    """${{ ctx.name }} replaced from `contexts` ({'vars': {...}, 'secrets': {...}}); anything else is an error (keep recipes simple)."""
    def one(match):
        parts = match.group(1).split('.')
        if len(parts) != 2 or parts[0] not in contexts:
            raise AssertionError('unsupported expression in the recipe: %s' % match.group(0))
        return str(contexts[parts[0]].get(parts[1], ''))
    return _GH_EXPR.sub(one, value) if isinstance(value, str) else value


class GitHubJob:
    """Runs one job of a workflow: `run:` steps in bash -eo pipefail (GitHub's default shell), `uses:` steps stubbed."""

    def __init__(self, runner, workflow, job, variables):
        self.runner = runner
        self.job = workflow['jobs'][job]
        self.contexts = {'vars': variables, 'secrets': {}}
        self.env = {k: gh_expand(v, self.contexts) for k, v in (workflow.get('env') or {}).items()}
        self.env.update({k: gh_expand(v, self.contexts) for k, v in (self.job.get('env') or {}).items()})
        self.summary = runner.root / 'step-summary.md'
        self.summary.write_text('')
        self.outputs = {}
        self.results = []

    def run(self):
        failed = False
        for step in self.job['steps']:
            condition = step.get('if', 'success()')
            assert condition in ('success()', 'always()'), 'unsupported condition %r' % condition
            if failed and condition != 'always()':
                self.results.append((step, None))
                continue
            ok = self._step(step)
            self.results.append((step, ok))
            failed = failed or not ok
        return self

    def _step(self, step):
        if 'uses' in step:
            return self._uses(step['uses'].split('@')[0], {k: gh_expand(v, self.contexts) for k, v in (step.get('with') or {}).items()})
        output = self.runner.temp / ('github-output-%d' % len(self.results))
        output.write_text('')
        env = dict(self.env, **{k: gh_expand(v, self.contexts) for k, v in (step.get('env') or {}).items()})
        env.update(GITHUB_WORKSPACE=str(self.runner.workspace), RUNNER_TEMP=str(self.runner.temp), GITHUB_OUTPUT=str(output),
                   GITHUB_STEP_SUMMARY=str(self.summary), CI='true', GITHUB_ACTIONS='true')
        proc = self.runner.bash(gh_expand(step['run'], self.contexts), self.runner.env(env), ['-eo', 'pipefail'])
        if step.get('id'):
            self.outputs[step['id']] = dict(line.split('=', 1) for line in output.read_text().splitlines() if '=' in line)
        return proc.returncode == 0

    def _uses(self, action, inputs):
        if action == 'azure/login':
            # OIDC: the three ids, never a secret
            assert sorted(inputs) == ['client-id', 'subscription-id', 'tenant-id'], inputs
            assert inputs['subscription-id'] == self.runner.lab.auth['subscription_id']
            self.runner.login()
            return True
        if action == 'actions/setup-python':
            return True
        if action == 'actions/upload-artifact':
            self.runner.published.append(('artifact', self.runner.workspace / inputs['path']))
            return True
        if action == 'mikepenz/action-junit-report':
            self.runner.published.append(('junit', self.runner.workspace / inputs['report_paths']))
            return True
        raise AssertionError('no stub for the action %s' % action)


# --- Azure DevOps ---------------------------------------------------------------------------------------------------

_AZDO_MACRO = re.compile(r'\$\(([A-Za-z_][\w.]*)\)')


class AzureDevOpsJob:
    """Runs the steps of a single-job pipeline: `script:` in bash, AzureCLI@2's inlineScript after the stubbed login."""

    def __init__(self, runner, pipeline, overrides):
        self.runner = runner
        self.pipeline = pipeline
        self.variables = {'Build.ArtifactStagingDirectory': str(runner.root / 'a'), 'Agent.TempDirectory': str(runner.temp),
                          'Build.SourcesDirectory': str(runner.workspace), 'System.DefaultWorkingDirectory': str(runner.workspace)}
        os.makedirs(self.variables['Build.ArtifactStagingDirectory'])
        for name, value in dict(pipeline.get('variables') or {}, **overrides).items():
            self.variables[name] = self.expand(str(value))
        self.outputs = {}
        self.results = []

    def expand(self, value):
        return _AZDO_MACRO.sub(lambda m: self.variables.get(m.group(1), m.group(0)), value) if isinstance(value, str) else value

    def env(self):
        """Pipeline variables reach scripts as environment variables: upper case, dots as underscores."""
        return {name.upper().replace('.', '_'): value for name, value in self.variables.items()}

    def run(self):
        failed = False
        for step in self.pipeline['steps']:
            condition = step.get('condition', 'succeeded()')
            assert condition in ('succeeded()', 'succeededOrFailed()', 'always()'), 'unsupported condition %r' % condition
            if failed and condition == 'succeeded()':
                self.results.append((step, None))
                continue
            ok = self._step(step)
            self.results.append((step, ok))
            failed = failed or not ok
        return self

    def _script(self, step, script, extra=None):
        proc = self.runner.bash(script, self.runner.env(dict(self.env(), TF_BUILD='True', **(extra or {}))), [])
        for name, value in re.findall(r'^##vso\[task\.setvariable variable=(\w+);isOutput=true\](.*)$', proc.stdout, re.M):
            self.outputs.setdefault(step.get('name'), {})[name] = value
        return proc.returncode == 0

    def _step(self, step):
        if 'script' in step:
            return self._script(step, step['script'])
        task = step['task']
        inputs = {k: self.expand(v) for k, v in (step.get('inputs') or {}).items()}
        if task == 'UsePythonVersion@0':
            return True
        if task == 'AzureCLI@2':
            assert inputs['azureSubscription'] and inputs['scriptType'] == 'bash' and inputs['scriptLocation'] == 'inlineScript', inputs
            self.runner.login()
            ok = self._script(step, inputs['inlineScript'])
            self.runner.logged_in = False  # AzureCLI@2 logs out when its script ends
            return ok
        if task == 'PublishTestResults@2':
            assert inputs['testResultsFormat'] == 'JUnit' and inputs['failTaskOnFailedTests'] is False, inputs
            self.runner.published.append(('junit', inputs['testResultsFiles']))
            return True
        if task == 'PublishPipelineArtifact@1':
            self.runner.published.append(('artifact', inputs['targetPath']))
            return True
        raise AssertionError('no stub for the task %s' % task)


# --- the lab --------------------------------------------------------------------------------------------------------

class CiLab:
    def __init__(self, scenario, state_dir):
        from ansible_collections.aks.tunnel.tests.lab.dataplane import lab  # pylint: disable=import-outside-toplevel
        self._lab = lab
        self.state_dir = str(state_dir)
        lab.up(scenario, self.state_dir, log=lambda _m: None)
        with open(os.path.join(self.state_dir, 'vars.yml'), encoding='utf-8') as handle:
            self.vars = yaml.safe_load(handle)
        self.auth = self.vars['aks_tunnel_azure_auth']
        self.ca_path = self.auth['ca_path']
        self.az = azcli.AzCli(azcli.find_az(), os.path.join(self.state_dir, 'azure-cli'), self.ca_path)
        self.az.setup(self.auth['arm_endpoint'], self.auth)

    def down(self):
        self._lab.down(self.state_dir, log=lambda _m: None)

    def arm_journal(self):
        """Every ARM request the emulator answered (lab admin API)."""
        with open(os.path.join(self.state_dir, 'control.ready'), encoding='utf-8') as handle:
            arm = json.load(handle)['arm']
        with open(arm['admin_token_path'], encoding='utf-8') as handle:
            token = handle.read().strip()
        request = urllib.request.Request(arm['url'] + '/_lab/journal', headers={'Authorization': 'Bearer ' + token})
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=arm['ca_path']), timeout=30) as response:
            return json.loads(response.read())['value']


def _ci_lab(scenario, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip('the lab needs root')
    if azcli.find_az() is None:
        pytest.skip('the Azure CLI is absent: scripts/setup.sh installs azure-cli into .venv-az (or set AKS_TUNNEL_AZ)')
    lab = CiLab(scenario, tmp_path_factory.mktemp('ci-' + scenario))
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope='module')
def ci_lab(tmp_path_factory):
    yield from _ci_lab('nsg-deny-10250', tmp_path_factory)


@pytest.fixture(scope='module')
def entra_lab(tmp_path_factory):
    yield from _ci_lab('entra-only', tmp_path_factory)


def _stale_report(folder):
    """A report of an earlier run that must not be published again."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'report.json'), 'w', encoding='utf-8') as handle:
        json.dump({'schema': 'aks.tunnel/report/v1', 'outcome': 'ok', 'stale': True, 'test_stand_in': True}, handle)
    with open(os.path.join(folder, 'stale.txt'), 'w', encoding='utf-8') as handle:
        handle.write('from an earlier run\n')


def _published_reports(runner):
    kinds = dict((kind, str(path)) for kind, path in runner.published)
    assert sorted(kinds) == ['artifact', 'junit'], runner.published
    artifact = kinds['artifact'].rstrip('/')
    assert sorted(os.listdir(artifact)) == ['junit.xml', 'report.json', 'report.md'], os.listdir(artifact)
    with open(os.path.join(artifact, 'report.json'), encoding='utf-8') as handle:
        report = json.load(handle)
    junit = ET.parse(kinds['junit']).getroot()
    return report, junit


def _step_log(runner):
    return '\n'.join('--- %s\nrc=%s (%.1f s)\n%s\n%s' % (script[:200], proc.returncode, proc.duration, proc.stdout[-3000:], proc.stderr[-3000:])
                     for script, proc in runner.log)


@pytest.mark.lab
def test_github_actions_recipe_diagnoses_the_lab_and_the_gate_fails_on_the_problem(ci_lab, tmp_path):
    runner = Runner(tmp_path, ci_lab)
    runner.write_galaxy_stub(build_tarball())
    _stale_report(str(runner.workspace / 'aks-tunnel-report'))
    variables = {'AZURE_CLIENT_ID': ci_lab.auth['client_id'], 'AZURE_TENANT_ID': ci_lab.auth['tenant'],
                 'AZURE_SUBSCRIPTION_ID': ci_lab.auth['subscription_id'], 'AKS_NAME': ci_lab.vars['aks_tunnel_cluster_name'],
                 'AKS_RESOURCE_GROUP': ci_lab.vars['aks_tunnel_resource_group'], 'AKS_TUNNEL_TAGS': 'nsg'}
    job = GitHubJob(runner, _load(GITHUB), 'diagnose', variables).run()
    log = _step_log(runner)
    print('step durations: %s' % ['%.1f' % proc.duration for _script, proc in runner.log])
    ran = [(step.get('name'), ok) for step, ok in job.results]
    # every step ran; only the gate failed (a problem is a verdict, not a broken diagnosis)
    assert [ok for _name, ok in ran] == [True] * (len(ran) - 1) + [False], (ran, log)
    assert job.outputs['gate'] == {'outcome': 'problem'}, log
    gate_proc = runner.log[-1][1]
    assert gate_proc.returncode == 1 and '::error title=AKS tunnel problem::nsg_blocks_10250' in gate_proc.stdout, log
    assert runner.galaxy_log.read_text().split() == ['collection', 'install', 'aks.tunnel:>=0.1.0,<1.0.0']
    report, junit = _published_reports(runner)
    assert report['outcome'] == 'problem' and report['problems'] == ['nsg_blocks_10250'] and 'stale' not in report
    failures = [case.get('name').split(':')[0] for case in junit.iter('testcase') if case.find('failure') is not None]
    assert failures == ['nsg_blocks_10250'], ET.tostring(junit)[:2000]
    assert 'nsg_blocks_10250' in job.summary.read_text()
    # the cluster model read Kubernetes through the cluster's user credential from ARM (no kubeconfig was given)
    assert any(e['path'].endswith('/listClusterUserCredential') and e['status'] == 200 for e in ci_lab.arm_journal())


@pytest.mark.lab
def test_azure_pipelines_recipe_diagnoses_an_entra_only_cluster_and_the_gate_passes_when_ok(entra_lab, tmp_path):
    runner = Runner(tmp_path, entra_lab)
    runner.write_galaxy_stub(build_tarball())
    pipeline = _load(AZDO)
    overrides = {'AKS_NAME': entra_lab.vars['aks_tunnel_cluster_name'], 'AKS_RESOURCE_GROUP': entra_lab.vars['aks_tunnel_resource_group'],
                 'AKS_TUNNEL_TAGS': 'konnectivity'}
    job = AzureDevOpsJob(runner, pipeline, overrides)
    _stale_report(job.variables['REPORT_DIR'])
    job.run()
    log = _step_log(runner)
    print('step durations: %s' % ['%.1f' % proc.duration for _script, proc in runner.log])
    assert [ok for _step, ok in job.results] == [True] * len(job.results), ([(s.get('displayName'), ok) for s, ok in job.results], log)
    assert job.outputs['gate'] == {'outcome': 'ok'}, log
    assert 'aks.tunnel: no problem found (outcome ok)' in runner.log[-1][1].stdout
    report, junit = _published_reports(runner)
    assert report['outcome'] == 'ok' and report['problems'] == [] and 'stale' not in report
    # read through an Entra token of the az login (local accounts are disabled), without kubelogin
    assert [f['status'] for f in report['findings'] if f['cause'] == 'konnectivity_agent_scaling'] == ['ok']
    assert not [case for case in junit.iter('testcase') if case.find('failure') is not None or case.find('error') is not None]


# --- the gates, on synthetic reports (no lab) -----------------------------------------------------------------------

def _gate(recipe):
    if recipe == 'github':
        step = next(s for s in _load(GITHUB)['jobs']['diagnose']['steps'] if s.get('id') == 'gate')
        return step['run'], 'GITHUB_OUTPUT'
    step = next(s for s in _load(AZDO)['steps'] if s.get('name') == 'gate')
    return step['script'], None


REPORTS = {
    'ok': ({'outcome': 'ok', 'error': None, 'problems': [], 'unknown': []}, 0, 'no problem found'),
    'problem': ({'outcome': 'problem', 'error': None, 'problems': ['ufw_blocks_10250', 'snat_exhaustion'], 'unknown': []}, 1,
                'AKS tunnel problem'),
    'unknown': ({'outcome': 'unknown', 'error': None, 'problems': [], 'unknown': ['egress_ports_blocked']}, 2, 'undecided'),
    'error': ({'outcome': 'error', 'error': 'the cluster model could not be read: HTTP 401', 'problems': [], 'unknown': []}, 3,
              'tool error, not a verdict'),
    'missing': (None, 3, 'no readable report.json'),
}


@pytest.mark.parametrize('recipe', ['github', 'azure-pipelines'])
@pytest.mark.parametrize('case', sorted(REPORTS) + ['unknown-allowed'])
def test_gate_tells_ok_problem_undecided_and_tool_error_apart(recipe, case, tmp_path):
    report, rc, text = REPORTS[case.replace('-allowed', '')]
    script, output_var = _gate(recipe)
    report_dir = tmp_path / 'aks-tunnel-report'   # where the GitHub recipe writes it; the Azure DevOps one reads $REPORT_DIR
    report_dir.mkdir()
    if report is not None:
        (report_dir / 'report.json').write_text(json.dumps(dict(report, schema='aks.tunnel/report/v1', test_stand_in=True)))
    output = tmp_path / 'output'
    output.write_text('')
    env = dict(_sanitized_environ(), PATH=os.pathsep.join([BIN, '/usr/bin', '/bin']), REPORT_DIR=str(report_dir))
    if output_var:
        env[output_var] = str(output)
    if case == 'unknown-allowed':
        env['AKS_TUNNEL_ALLOW_UNKNOWN'] = 'true'
        rc = 0
    proc = subprocess.run(['bash', '--noprofile', '--norc', '-c', script], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == rc, (proc.stdout, proc.stderr)
    assert text in proc.stdout, proc.stdout
    outcome = (report or {}).get('outcome', 'error')
    if output_var:
        assert output.read_text() == 'outcome=%s\n' % outcome
    else:
        assert '##vso[task.setvariable variable=outcome;isOutput=true]%s' % outcome in proc.stdout.splitlines()
    if report and report['problems']:
        assert ', '.join(report['problems']) in proc.stdout


def test_recipes_use_federated_identity_and_are_documented():
    workflow, pipeline = _load(GITHUB), _load(AZDO)
    assert workflow['permissions']['id-token'] == 'write'
    for text in (open(GITHUB, encoding='utf-8').read(), open(AZDO, encoding='utf-8').read()):
        assert 'secrets.' not in text and 'client-secret' not in text and 'AZURE_SECRET' not in text
        assert '"auth_source": "cli"' in text and 'rbac/azure/aks-tunnel-kube-access.json' in text
        assert 'requirements.txt' in text and 'rm -rf' in text
    assert [s['task'] for s in pipeline['steps'] if 'task' in s] == ['UsePythonVersion@0', 'AzureCLI@2', 'PublishTestResults@2',
                                                                     'PublishPipelineArtifact@1']
    with open(os.path.join(COLLECTION_ROOT, 'docs', 'usage.md'), encoding='utf-8') as handle:
        usage = handle.read()
    assert 'docs/ci/github-actions.yml' in usage and 'docs/ci/azure-pipelines.yml' in usage


if shutil.which('bash') is None:  # pragma: no cover
    pytest.skip('bash is needed to run the recipes', allow_module_level=True)
