#!/usr/bin/env bash
# Installs what the real-client interop tests (test/interop/) need from Debian's packages:
#   python3-azure  (Python azure-identity, msal; run with /usr/bin/python3)
#   curl
# Idempotent: does nothing when both are already there. The Node clients (@azure/identity 4.0.1
# and 4.13.1 as npm aliases, @azure/msal-node) come from package.json, not from here.
#
#   sudo scripts/install-interop-deps.sh
#
# Other processes may be using apt at the same time (another install script, for example): dpkg's
# lock is waited for (up to 10 minutes) and every apt-get call is retried while a lock is held.
set -euo pipefail

PYTHON=/usr/bin/python3

have_python_azure() {
  [ -x "$PYTHON" ] && "$PYTHON" -c 'import azure.identity' >/dev/null 2>&1
}
have_curl() {
  command -v curl >/dev/null 2>&1
}

if have_python_azure && have_curl; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-interop-deps: run as root (apt-get install python3-azure curl), or install them yourself" >&2
  exit 1
fi

packages=()
have_python_azure || packages+=(python3-azure)
have_curl || packages+=(curl)
"$(dirname "$0")/apt-install.sh" "${packages[@]}"

if ! have_python_azure; then
  echo "install-interop-deps: python3-azure is installed but '$PYTHON -c \"import azure.identity\"' still fails" >&2
  exit 1
fi
have_curl
echo "install-interop-deps: azure-identity $("$PYTHON" -c 'import azure.identity as i; print(i.__version__)'), $(curl --version | head -1 | cut -d' ' -f1-2)"
