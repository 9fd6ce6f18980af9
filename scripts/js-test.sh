#!/usr/bin/env bash
# Unit tests of the UI's JS logic (httpui/static/logic.mjs) with Node's
# built-in test runner: no npm, no dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1; then
  echo "js-test: node not found; skipping the JS unit tests (apt-get install nodejs)"
  exit 0
fi
exec node --test test/js/*.test.mjs
