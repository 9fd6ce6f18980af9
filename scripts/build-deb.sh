#!/usr/bin/env bash
# make deb: builds the source package (3.0 native, Go modules vendored into
# it) and, from that source package alone and without network, the binary
# package build/roy-procwatch_<version>_<arch>.deb; checks both with lintian
# (fails on errors and on warnings that the lintian overrides do not justify)
# and the service's systemd-analyze exposure (fails above 2.0).
#
# `go mod vendor` is the only step that uses the network (the Go module
# proxy); the package build runs with GOPROXY=off, -mod=vendor and, when root,
# inside a network namespace with no network at all (unshare -n).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

log() { echo "build-deb: $*"; }

# Build dependencies (only when root; otherwise they must be there).
need=(debhelper dpkg-dev lintian iproute2 libsystemd-dev)
if [ "$(id -u)" = 0 ]; then
	missing=()
	for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
fi
for c in dpkg-buildpackage dh lintian go; do
	command -v "$c" >/dev/null || { echo "build-deb: $c not found (install ${need[*]} and Go at /usr/local/go)" >&2; exit 1; }
done

version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=roy-procwatch_${version}_${arch}.deb
dsc=roy-procwatch_${version}.dsc

# 1. The source tree: a private copy under .cache/ (tracked and untracked, not
# ignored, files), so that results never land in the repository's parent
# directory, where several checkouts could overwrite each other's.
work=.cache/deb-build
rm -rf "$work"
mkdir -p "$work/tree"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -C "$work/tree" -xf -
else
	tar --exclude=./.cache --exclude=./build --exclude=./bin --exclude=./.git --exclude=./vendor -cf - . | tar -C "$work/tree" -xf -
fi

# 2. Vendor the modules into it: the only step that uses the network (the Go
# module proxy, or the module cache when it already holds them).
(cd "$work/tree" && go mod vendor)
# debian/copyright must name every vendored module's license.
for m in $(sed -n 's/^# \([^ ]*\) .*/\1/p' "$work/tree/vendor/modules.txt"); do
	grep -q "vendor/$m/\*" debian/copyright ||
		{ echo "build-deb: debian/copyright has no 'Files: vendor/$m/*' stanza (its license)" >&2; exit 1; }
done

# 3. The source package (3.0 native), vendor/ included.
(cd "$work" && dpkg-source -b tree >/dev/null)
log "source package $work/$dsc ($(du -h "$work/roy-procwatch_${version}.tar.xz" | cut -f1))"

# 4. Build from the source package alone: unpack it afresh and run
# dpkg-buildpackage without network (unshare -n when root: a network
# namespace with only a loopback interface), without the invoking user's
# module cache or GOPATH (debian/rules sets its own). The build cache is
# passed in: it only saves compile time.
(cd "$work" && dpkg-source -x "$dsc" src >/dev/null)
GOCACHE=$(go env GOCACHE)
export GOCACHE
unset GOPATH GOMODCACHE GOFLAGS
# Debian 12 has no Go >= 1.26 package, so the Go build dependency cannot be
# satisfied there: check it only when a Debian Go package could satisfy it.
bdflags=()
if ! dpkg-checkbuilddeps "$work/src/debian/control" 2>/dev/null; then
	log "build dependencies not met by Debian packages ($(dpkg-checkbuilddeps "$work/src/debian/control" 2>&1 | sed 's/.*Unmet build dependencies: //')); using $(command -v go) ($(go env GOVERSION)) with -d"
	bdflags=(-d)
fi
build=(dpkg-buildpackage -us -uc "${bdflags[@]}")
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
	log "building $deb without network (unshare -n)"
	run=(unshare -n -- sh -c 'ip link set lo up 2>/dev/null || true; exec "$@"' sh "${build[@]}")
else
	log "building $deb (GOPROXY=off, vendored modules; not root, so no network namespace)"
	run=("${build[@]}")
fi
start=$SECONDS
(cd "$work/src" && "${run[@]}")
log "dpkg-buildpackage took $((SECONDS - start))s"

mkdir -p build
rm -f build/roy-procwatch_* build/roy-procwatch-dbgsym_*
for f in "$work"/*.deb "$work"/*.ddeb "$work"/*.buildinfo "$work"/*.changes "$work"/*.dsc "$work"/*.tar.*; do
	[ -e "$f" ] && mv -f "$f" build/
done
[ -f "build/$deb" ] || { echo "build-deb: build/$deb missing" >&2; exit 1; }
log "built build/$deb and the source package build/$dsc"
dpkg-deb --info "build/$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "build/$deb"

log "lintian"
lintian --display-info --fail-on error,warning build/roy-procwatch_"${version}"_"${arch}".changes
log "lintian: no errors, no unjustified warnings"

# E1 offline: the unit's exposure score must stay <= 2.0 (the e2e test checks
# the installed unit again in the booted container).
unit=packaging/systemd/roy-procwatch.service
if command -v systemd-analyze >/dev/null && systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
	score=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>/dev/null |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	[ -n "$score" ] || { echo "build-deb: no exposure score for $unit" >&2; exit 1; }
	if awk -v s="$score" 'BEGIN { exit !(s > 2.0) }'; then
		echo "build-deb: systemd-analyze security $unit: $score > 2.0" >&2
		exit 1
	fi
	log "systemd-analyze security --offline=yes: $score (<= 2.0)"
else
	log "systemd-analyze --offline not available: exposure score not checked here"
fi
