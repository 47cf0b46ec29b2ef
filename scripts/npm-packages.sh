#!/usr/bin/env bash
# The npm packages the test suite runs as real peers, installed into the project's own
# .npm-peers/ (git-ignored) when missing or out of date, never globally:
#
#   web-push-testing  a Web Push service: checks the VAPID token, decrypts the payload (RFC
#                     8291), keeps it for the test to read, expires subscriptions on request
#
# The exact versions, transitive ones included, are scripts/npm-peers/package-lock.json;
# `npm ci` installs exactly those. Called by scripts/system-packages.sh (test profile).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
source_dir="$root/scripts/npm-peers"
target="$root/.npm-peers"

if ! command -v npm >/dev/null; then
    echo "npm-packages: npm is missing; as root on Debian 12 run: apt-get install -y nodejs npm" >&2
    exit 1
fi
# Already installed from this very lock file: nothing to do.
if [ -x "$target/node_modules/.bin/web-push-testing" ] \
    && cmp -s "$source_dir/package-lock.json" "$target/package-lock.json"; then
    exit 0
fi
echo "npm-packages: installing the test peers into .npm-peers/"
mkdir -p "$target"
cp "$source_dir/package.json" "$source_dir/package-lock.json" "$target/"
(cd "$target" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
