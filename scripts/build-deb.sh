#!/usr/bin/env bash
# make deb: builds build/roy-procwatch_<version>_<arch>.deb with
# dpkg-buildpackage and checks it with lintian (fails on errors and on
# warnings that debian/roy-procwatch.lintian-overrides does not justify).
#
# Offline build: the module cache is primed here (`go mod download`, the only
# step that uses the network, through the Go module proxy); the package build
# itself runs with GOPROXY=off and, when root, inside a network namespace
# with no network at all (unshare -n).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

log() { echo "build-deb: $*"; }

# Build dependencies (only when root; otherwise they must be there).
need=(debhelper dpkg-dev lintian libsystemd-dev)
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

# Prime the module and build caches outside the package build.
GOMODCACHE=$(go env GOMODCACHE)
GOCACHE=$(go env GOCACHE)
export GOMODCACHE GOCACHE
go mod download

version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=roy-procwatch_${version}_${arch}.deb

# dpkg-buildpackage writes its results next to the source tree. Build in a
# private copy under .cache/ (tracked and untracked, not ignored, files) so
# that the results never land in the repository's parent directory, where
# several checkouts could overwrite each other's, and the tree stays clean.
work=.cache/deb-build
src=$work/roy-procwatch
rm -rf "$work"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -C "$src" -xf -
else
	tar --exclude=./.cache --exclude=./build --exclude=./bin --exclude=./.git -cf - . | tar -C "$src" -xf -
fi

run=(dpkg-buildpackage -us -uc -b)
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
	log "building $deb without network (unshare -n)"
	run=(unshare -n -- "${run[@]}")
else
	log "building $deb (GOPROXY=off; not root, so no network namespace)"
fi
start=$SECONDS
(cd "$src" && "${run[@]}")
log "dpkg-buildpackage took $((SECONDS - start))s"

mkdir -p build
rm -f build/roy-procwatch_* build/roy-procwatch-dbgsym_*
for f in "$work"/*.deb "$work"/*.ddeb "$work"/*.buildinfo "$work"/*.changes; do
	[ -e "$f" ] && mv -f "$f" build/
done
[ -f "build/$deb" ] || { echo "build-deb: build/$deb missing" >&2; exit 1; }
log "built build/$deb"
dpkg-deb --info "build/$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "build/$deb"

log "lintian"
lintian --display-info --fail-on error,warning "build/$deb"
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
