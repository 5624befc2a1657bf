#!/usr/bin/env bash
# Installs this folder's npm package (twitter-text, pinned by package-lock.json) with `npm ci` into
#     ${SYNDICATOR_TWITTER_TEXT_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/syndicator-tests/twitter-text}
# outside the repository, like Fixtures/bluesky: the test project copies Fixtures/** to its output folder and
# node_modules must not be copied on every build. weigh.mjs and the tests' TwitterText oracle look there.
# Idempotent: does nothing when that folder already holds an install of this exact package.json and lock file.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
home=${SYNDICATOR_TWITTER_TEXT_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/syndicator-tests/twitter-text}

command -v node >/dev/null || { echo "install.sh: node is not on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "install.sh: npm is not on PATH" >&2; exit 1; }

want=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)
stamp=$home/.installed-from
if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $home/node_modules/twitter-text/package.json ]]; then
    echo "twitter-text already installed in $home"
    exit 0
fi

mkdir -p "$home"
rm -f "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$home/"
# core-js's postinstall only prints an advertisement; twitter-text needs no install script.
(cd "$home" && npm ci --no-audit --no-fund --ignore-scripts)
(cd "$home" && node -e "require('twitter-text')") || { echo "install.sh: twitter-text does not load" >&2; exit 1; }
echo "$want" >"$stamp"
echo "twitter-text $(node -p "require('$home/node_modules/twitter-text/package.json').version") installed in $home"
