#!/usr/bin/env bash
set -euo pipefail
# Installs the Debian packages the tests need (only when root).
if [ "$(id -u)" != 0 ]; then echo "deps: not root, skipping apt installs"; exit 0; fi
# dbus-daemon: private bus for the D-Bus tests; systemd: busctl; util-linux:
# setpriv (unprivileged D-Bus client); python3-dbusmock: the polkitd mock;
# nodejs: the UI's JS unit tests; chromium + fonts: the browser tests; jq:
# the examples of docs/host.md; libsystemd-dev: sd-journal headers (cgo, the
# services view's journal); prometheus (and its promtool): the /metrics
# scrape and rules tests.
pkgs=(libsystemd-dev dbus dbus-daemon iproute2 procps curl jq systemd util-linux python3-dbusmock nodejs chromium fonts-dejavu-core fonts-noto-color-emoji prometheus)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; fi
