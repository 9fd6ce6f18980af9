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
need=(debhelper dpkg-dev lintian)
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

run=(dpkg-buildpackage -us -uc -b)
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
	log "building $deb without network (unshare -n)"
	run=(unshare -n -- "${run[@]}")
else
	log "building $deb (GOPROXY=off; not root, so no network namespace)"
fi
start=$SECONDS
"${run[@]}"
log "dpkg-buildpackage took $((SECONDS - start))s"

# dpkg-buildpackage writes next to the source tree; collect under build/.
mkdir -p build
for f in ../roy-procwatch_"${version}"_"${arch}".{deb,buildinfo,changes} \
	../roy-procwatch-dbgsym_"${version}"_"${arch}".{deb,ddeb}; do
	[ -e "$f" ] && mv -f "$f" build/
done
[ -f "build/$deb" ] || { echo "build-deb: build/$deb missing" >&2; exit 1; }
log "built build/$deb"
dpkg-deb --info "build/$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "build/$deb"

log "lintian"
lintian --display-info --fail-on error,warning "build/$deb"
log "lintian: no errors, no unjustified warnings"
