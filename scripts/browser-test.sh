#!/usr/bin/env bash
# Browser tests of the embedded UI: headless Chromium driven by chromedp
# against the real daemon (built from ./daemon, run standalone on a free
# 127.0.0.1 port) with real child processes. Installs chromium when root;
# the Go tests skip, saying so, when no chromium is found.
# Screenshots land in build/screenshots/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "browser-test: installing chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core fonts-noto-color-emoji >/dev/null
  else
    echo "browser-test: chromium is not installed and we are not root: the browser tests will be skipped"
  fi
fi
mkdir -p build/screenshots
exec go test -tags browser -count=1 -timeout 5m ./test/browser/ "$@"
