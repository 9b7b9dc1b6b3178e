#!/usr/bin/env bash
# Installs the identity providers the SSO tests run on loopback, into
# tests/idp/node_modules (ignored by git). Safe to run again: it does nothing
# when the pinned versions are installed already.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null; then
    echo "tests/idp/setup.sh: node is needed for the OpenID provider the SSO tests use" >&2
    exit 1
fi
stamp=node_modules/.scimlink-installed
if [[ -f $stamp ]] && cmp -s package.json "$stamp"; then
    exit 0
fi
npm install --no-audit --no-fund --no-save --loglevel=error >/dev/null
cp package.json "$stamp"
echo "tests/idp: installed $(node -p "require('./node_modules/oidc-provider/package.json').version" 2>/dev/null || echo '?') oidc-provider"
