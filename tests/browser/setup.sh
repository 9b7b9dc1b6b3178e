#!/usr/bin/env bash
# Installs what the dashboard's browser tests (dashboard.mjs) need: npm's
# playwright-core into tests/browser/node_modules (ignored by git). It drives
# Debian's Chromium and never downloads a browser of its own. Safe to run
# again: it does nothing when the pinned version is installed already.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null; then
    echo "tests/browser/setup.sh: node is needed to run the dashboard's browser tests" >&2
    exit 1
fi
if [[ ! -x /usr/bin/chromium ]]; then
    echo "tests/browser/setup.sh: /usr/bin/chromium is missing: install Debian's chromium (apt-get install chromium)" >&2
    exit 1
fi
stamp=node_modules/.scimlink-installed
if [[ -f $stamp ]] && cmp -s package.json "$stamp"; then
    exit 0
fi
# playwright-core has no install script that fetches browsers; the variable
# makes sure nothing tries to.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --no-save --no-package-lock --loglevel=error >/dev/null
cp package.json "$stamp"
echo "tests/browser: installed playwright-core $(node -p "require('./node_modules/playwright-core/package.json').version" 2>/dev/null || echo '?')"
