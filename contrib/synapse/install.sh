#!/usr/bin/env bash
# Installs Synapse for raiden-pfs's tests and devnet: an idempotent virtualenv at
# <devtools>/synapse-venv with a pinned matrix-synapse, pytest and ruff, and the presence router package
# (contrib/presence-router) and the signature-login module (contrib/eth-auth-provider) installed editable. <devtools> is $RAIDEN_PFS_DEVTOOLS, or
# <repo root>/.devtools (git-ignored).
#
# Prints the venv's path as the last line. A second run with nothing changed is a fast no-op: a
# stamp file records what was installed (Synapse, pytest and ruff versions, a hash of the router's
# pyproject.toml and of this script), and any difference reinstalls.
set -euo pipefail

# The Synapse release the presence router was measured and tested with
# (see contrib/presence-router/README.md and ../shared/spec/FEDERATED-PRESENCE.md).
SYNAPSE_VERSION="1.163.2"
PYTEST_VERSION="8.4.2"
RUFF_VERSION="0.17.6"

repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
devtools="${RAIDEN_PFS_DEVTOOLS:-$repo_root/.devtools}"
venv="$devtools/synapse-venv"
router="$repo_root/contrib/presence-router"
eth_auth="$repo_root/contrib/eth-auth-provider"
stamp="$venv/.raiden-pfs-install-stamp"

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "error: $python not found. Install Python 3.10 or newer (Debian: apt-get install -y python3 python3-venv python3-pip)," >&2
    echo "       or point PYTHON at an interpreter." >&2
    exit 1
fi

wanted="synapse=$SYNAPSE_VERSION pytest=$PYTEST_VERSION ruff=$RUFF_VERSION $(cat "$router/pyproject.toml" "$eth_auth/pyproject.toml" "$0" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -x "$venv/bin/python" ]; then
    echo "$venv"
    exit 0
fi

if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    echo "error: $("$python" --version 2>&1) is too old; Synapse $SYNAPSE_VERSION needs Python 3.10 or newer." >&2
    exit 1
fi
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "error: $python has no venv/ensurepip module, so it cannot create a virtualenv with pip." >&2
    echo "       Debian: apt-get install -y python3-venv python3-pip" >&2
    exit 1
fi

echo "Installing matrix-synapse $SYNAPSE_VERSION, pytest $PYTEST_VERSION, ruff $RUFF_VERSION and the presence router into $venv" >&2
mkdir -p "$devtools"
rm -f "$stamp"
log="$devtools/synapse-install.log"
: > "$log"
quiet() {
    if ! "$@" >>"$log" 2>&1; then
        echo "error: '$*' failed; its output:" >&2
        cat "$log" >&2
        exit 1
    fi
}
if [ ! -x "$venv/bin/python" ]; then
    quiet "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
quiet "${pip[@]}" install --upgrade pip
quiet "${pip[@]}" install "matrix-synapse==$SYNAPSE_VERSION" "pytest==$PYTEST_VERSION" "ruff==$RUFF_VERSION"
quiet "${pip[@]}" install --no-deps --editable "$router"
# The signature-login module with its pinned crypto libraries (coincurve, pycryptodome).
quiet "${pip[@]}" install --editable "$eth_auth"
# `pip check` catches a Synapse pin that contradicts the package's declared range.
quiet "${pip[@]}" check
echo "$wanted" > "$stamp"
echo "$venv"
