#!/usr/bin/env bash
# The whole test run: system packages the tests need, type check, lint, then every test on node:test.
# README.md and .ci/run both call this through `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Debian packages behind the tests' real peers (installed when missing, as root).
bash scripts/debian-peers.sh test

echo "test: node $(node --version)"
echo "test: type check"; tsc --noEmit -p tsconfig.json
echo "test: lint"; eslint --max-warnings 0 .
echo "test: node:test"
# Files run two at a time (the machines have 2 cores); each test file owns its ports and temp dirs.
# node:test bounds each test (--test-timeout) but not its before/after hooks: the whole run is bounded too, so a
# wedged peer fails the run in minutes instead of holding CI for its 90 (a full run takes about 5).
timeout --kill-after=30s 25m node --import tsx --test --test-concurrency=2 --test-timeout=300000 "test/**/*.test.ts"
