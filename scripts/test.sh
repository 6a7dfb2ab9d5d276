#!/usr/bin/env bash
# The whole test run: system packages the tests need, type check, lint, then every test on node:test.
# README.md and .ci/run both call this through `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages behind the tests' real peers, as "command package" pairs.
peers=(
  "redis-server redis-server"
  "tshark tshark"
  "sipp sip-tester"
  "sipsak sipsak"
  "kamailio kamailio"
  "kamailio kamailio-ims-modules:/usr/lib/x86_64-linux-gnu/kamailio/modules/ims_auth.so"
  "kamailio kamailio-presence-modules:/usr/lib/x86_64-linux-gnu/kamailio/modules/presence.so"
)
missing=()
for pair in "${peers[@]}"; do
  read -r cmd spec <<<"$pair"
  pkg=${spec%%:*}
  file=${spec#*:}
  if [ "$file" != "$spec" ]; then
    [ -e "$file" ] || missing+=("$pkg")  # a module package: its file, not a command, tells whether it is there
  else
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "test: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test: these Debian packages are needed and you are not root: ${missing[*]}" >&2
    echo "test: install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

echo "test: node $(node --version)"
echo "test: type check"; tsc --noEmit -p tsconfig.json
echo "test: lint"; eslint --max-warnings 0 .
echo "test: node:test"
# Files run two at a time (the machines have 2 cores); each test file owns its ports and temp dirs.
# node:test bounds each test (--test-timeout) but not its before/after hooks: the whole run is bounded too, so a
# wedged peer fails the run in minutes instead of holding CI for its 90 (a full run takes about 5).
timeout --kill-after=30s 25m node --import tsx --test --test-concurrency=2 --test-timeout=300000 "test/**/*.test.ts"
