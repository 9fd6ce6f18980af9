#!/usr/bin/env bash
# make lint: gofmt, go vet and staticcheck. staticcheck is installed at a
# pinned version into the repository's bin/tools (ignored by git) the first
# time, through the Go module proxy, so a fresh machine needs only Go.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
GO=${GO:-go}
STATICCHECK_VERSION=v0.8.2 # staticcheck 2026.2.2, which knows Go 1.26

out=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './vendor/*'))
if [ -n "$out" ]; then echo "gofmt needed:"; echo "$out"; exit 1; fi

# The browser and e2e suites are behind build tags: lint them too.
tags=browser,e2e
$GO vet -tags $tags ./...

tools=$PWD/bin/tools
sc=$tools/staticcheck
if ! [ -x "$sc" ] || ! "$sc" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})"; then
	echo "lint: installing staticcheck $STATICCHECK_VERSION into bin/tools"
	GOBIN=$tools $GO install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
"$sc" -tags $tags ./...
echo "lint: gofmt, go vet and staticcheck are clean"
