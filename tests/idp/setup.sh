#!/usr/bin/env bash
# Installs the identity providers the SSO tests run on loopback: npm's
# oidc-provider and samlify into tests/idp/node_modules, PyPI's pysaml2 into
# tests/idp/.venv (both ignored by git). Safe to run again: it does nothing
# when the pinned versions are installed already.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null; then
    echo "tests/idp/setup.sh: node is needed for the OpenID provider and samlify the SSO tests use" >&2
    exit 1
fi
stamp=node_modules/.scimlink-installed
if [[ -f $stamp ]] && cmp -s package.json "$stamp"; then
    :
else
    npm install --no-audit --no-fund --no-save --loglevel=error >/dev/null
    cp package.json "$stamp"
    echo "tests/idp: installed oidc-provider $(node -p "require('./node_modules/oidc-provider/package.json').version" 2>/dev/null || echo '?'), samlify $(node -p "require('./node_modules/samlify/package.json').version" 2>/dev/null || echo '?')"
fi

# The SAML identity provider (saml-idp.py: PyPI's pysaml2, which signs with
# the xmlsec1 program) runs from a virtualenv in tests/idp/.venv (ignored by
# git), with the versions pinned in requirements.txt.
if ! command -v xmlsec1 >/dev/null; then
    echo "tests/idp/setup.sh: xmlsec1 is needed for the SAML identity provider the SSO tests use (install Debian's xmlsec1: apt-get install xmlsec1)" >&2
    exit 1
fi
if ! command -v python3 >/dev/null; then
    echo "tests/idp/setup.sh: python3 is needed for the SAML identity provider the SSO tests use" >&2
    exit 1
fi
venv_stamp=.venv/.scimlink-installed
if [[ -f $venv_stamp ]] && cmp -s requirements.txt "$venv_stamp"; then
    :
else
    [[ -x .venv/bin/python ]] || python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt >/dev/null
    cp requirements.txt "$venv_stamp"
    echo "tests/idp: installed $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("pysaml2"))' 2>/dev/null || echo '?') pysaml2"
fi
