#!/usr/bin/env bash
# Installs this folder's npm packages (@atproto/pds and @did-plc/server, pinned by package-lock.json) with
# `npm ci` into
#     ${SYNDICATOR_BLUESKY_PDS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/syndicator-tests/bluesky-pds}
# which is outside the repository on purpose: the test project copies Fixtures/** to its output folder, and
# node_modules (~250 MB, ~28,000 files) must not be copied on every build nor show up in git status.
# start-pds.mjs and the tests' BlueskyPdsFixture look for the packages in the same folder.
#
# Idempotent: does nothing when that folder already holds an install of this exact package.json and
# package-lock.json. better-sqlite3 (a PDS dependency) builds its native addon with node-gyp from the
# machine's Node headers (/usr/include/node), g++ and make when no prebuilt binary can be downloaded.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${SYNDICATOR_BLUESKY_PDS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/syndicator-tests/bluesky-pds}

command -v node >/dev/null || { echo "install.sh: node is not on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "install.sh: npm is not on PATH" >&2; exit 1; }

want=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)
stamp=$home/.installed-from
if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $home/node_modules/@atproto/pds/package.json ]] &&
    (cd "$home" && node -e "require('better-sqlite3')" 2>/dev/null); then
    echo "bluesky PDS packages already installed in $home"
    exit 0
fi

mkdir -p "$home"
rm -f "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$home/"
(cd "$home" && npm ci --no-audit --no-fund)
# The PDS cannot start without better-sqlite3's native addon; fail here rather than in the tests.
(cd "$home" && node -e "require('better-sqlite3')") ||
    { echo "install.sh: better-sqlite3's native addon did not build (needs g++, make, python3 and Node headers)" >&2; exit 1; }
echo "$want" >"$stamp"
echo "bluesky PDS packages installed in $home:" \
    "@atproto/pds $(node -p "require('$home/node_modules/@atproto/pds/package.json').version")," \
    "@did-plc/server $(node -p "require('$home/node_modules/@did-plc/server/package.json').version")"
