#!/usr/bin/env bash
# Installs this folder's npm packages (Fedify, pinned by package-lock.json) with `npm ci` into
#     ${SYNDICATOR_FEDIFY_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/syndicator-tests/fedify}
# outside the repository, like Fixtures/twitter-text: the test project copies Fixtures/** to its output folder and
# node_modules must not be copied on every build. server.mjs and the tests' FedifyServer look there.
# Fedify 2.3.6, not the newest 2.3.8: the registry lacks 2.3.8's own dependencies (@fedify/vocab 2.3.8). Fedify 2.x
# declares node >= 22 but runs on Debian's node 20 for what the tests use (signing, verifying, WebFinger, inboxes):
# the tests prove it, so the engine warning is expected.
# Idempotent: does nothing when that folder already holds an install of this exact package.json and lock file.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${SYNDICATOR_FEDIFY_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/syndicator-tests/fedify}

command -v node >/dev/null || { echo "install.sh: node is not on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "install.sh: npm is not on PATH" >&2; exit 1; }

want=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)
stamp=$home/.installed-from
if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $home/node_modules/@fedify/fedify/package.json ]]; then
    echo "fedify already installed in $home"
    exit 0
fi

mkdir -p "$home"
rm -f "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$home/"
# No package here needs an install script.
(cd "$home" && npm ci --no-audit --no-fund --ignore-scripts --engine-strict=false)
(cd "$home" && node --input-type=module -e "await import('$home/node_modules/@fedify/fedify/dist/mod.js')") || { echo "install.sh: @fedify/fedify does not load" >&2; exit 1; }
echo "$want" >"$stamp"
echo "fedify $(node -p "require('$home/node_modules/@fedify/fedify/package.json').version") installed in $home"
