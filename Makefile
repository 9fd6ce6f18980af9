# roy-procwatch — the two commands a fresh Debian machine needs: `make run` and `make test`.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin/roy-procwatchd
VERSION ?= $(shell dpkg-parsechangelog -S Version 2>/dev/null || echo 0.2.0)
GOFLAGS_BUILD := -trimpath -ldflags "-X main.version=$(VERSION)"

.PHONY: all build run test deps unit integration e2e browser bench lint clean deb

all: build

build:
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./daemon

# Standalone daemon on 127.0.0.1:8088 (token from env/.env or generated and printed once).
run: build
	./$(BIN)

# Installs what the tests need (Debian packages, when root), then runs everything.
test: deps lint unit browser e2e

deps:
	@bash scripts/test-deps.sh

unit:
	$(GO) test -count=1 -race ./...
	@bash scripts/js-test.sh

# The UI in headless Chromium (chromedp) against the real daemon.
browser:
	@bash scripts/browser-test.sh

e2e:
	@bash scripts/e2e.sh

bench:
	@bash scripts/bench.sh $(BENCH_FLAGS)

# gofmt, go vet and staticcheck (installed at a pinned version into bin/tools).
lint:
	@bash scripts/lint.sh

deb:
	@bash scripts/build-deb.sh

clean:
	rm -rf bin build
