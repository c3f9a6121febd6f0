# Stand-in for the get-pip bootstrap script that ansible-test downloads for every virtualenv it
# creates. These machines reach only the package registries, so we bootstrap pip with ensurepip
# and install the requested pip from PyPI. scripts/test.sh copies this file to
# ~/.ansible/test/cache/get_pip_<version>.py on every run.
import subprocess
import sys

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
if args:
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check'] + args)
