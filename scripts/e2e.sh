#!/usr/bin/env bash
# make e2e: builds the .deb, boots a minimal Debian bookworm with systemd in
# systemd-nspawn, installs the package there and checks the systemd story
# end to end (test/e2e, Go tests with the build tag e2e).
#
# Root only (debootstrap, nspawn); otherwise it prints a skip line and exits 0.
# The rootfs is bootstrapped once and cached as .cache/e2e/rootfs-*.tar.zst
# (git-ignored); a re-run extracts it in about a second.
# Env: E2E_DEB=path to test a prebuilt .deb instead of building one;
#      E2E_REBUILD_ROOTFS=1 to bootstrap the rootfs again;
#      E2E_RUN=regexp for go test -run (keep the install step), e.g.
#      E2E_RUN='TestPackage/^(1_install|R)'.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

if [ "$(id -u)" != 0 ]; then
	echo "e2e: SKIP: needs root (debootstrap, systemd-nspawn); run 'sudo make e2e'"
	exit 0
fi

t0=$SECONDS
log() { echo "e2e: [$((SECONDS - t0))s] $*"; }

# Host tools.
need=(debootstrap systemd-container zstd iproute2)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# One e2e at a time on this host (other checkouts too): they all need
# 127.0.0.1:8088. A second run waits for the first instead of failing.
mkdir -p /run/lock
exec 9>/run/lock/roy-procwatch-e2e.lock
if ! flock -n 9; then
	log "another e2e run holds /run/lock/roy-procwatch-e2e.lock; waiting (up to 15 min)"
	flock -w 900 9 || { echo "e2e: FAIL: lock still held after 15 min" >&2; exit 1; }
fi

# The container shares the host network: 127.0.0.1:8088 must be free.
if ss -Hltn 'sport = :8088' | grep -q .; then
	echo "e2e: FAIL: something on the host already listens on port 8088:" >&2
	ss -ltnp 'sport = :8088' >&2
	exit 1
fi

# The package under test.
if [ -z "${E2E_DEB:-}" ]; then
	log "building the .deb (make deb)"
	mkdir -p .cache
	bash scripts/build-deb.sh >.cache/build-deb.log 2>&1 || { cat .cache/build-deb.log; exit 1; }
	grep -E '^(build-deb:|[EWI]: )' .cache/build-deb.log || true
	version=$(dpkg-parsechangelog -S Version)
	E2E_DEB=$PWD/build/roy-procwatch_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).deb
fi
[ -f "$E2E_DEB" ] || { echo "e2e: FAIL: no package at $E2E_DEB" >&2; exit 1; }
E2E_DEB=$(realpath "$E2E_DEB")
export E2E_DEB

# The rootfs, bootstrapped once. libpam-systemd provides logind, which
# polkitd depends on (debootstrap does not resolve that alternative itself).
# jq: the README's "who listens on 5432?" example runs as written.
include=systemd,systemd-sysv,dbus,procps,curl,iproute2,libpam-systemd,polkitd,jq
mirror=${E2E_MIRROR:-http://deb.debian.org/debian}
cache=.cache/e2e
key=$(printf '%s %s' "$include" "$mirror" | sha256sum | cut -c1-12)
tarball=$cache/rootfs-bookworm-$key.tar.zst
mkdir -p "$cache"
if [ -n "${E2E_REBUILD_ROOTFS:-}" ] || [ ! -s "$tarball" ]; then
	log "bootstrapping bookworm (once; cached as $tarball)"
	tmp=$(mktemp -d "$cache/bootstrap.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	debootstrap --variant=minbase --include="$include" bookworm "$tmp/root" "$mirror" >"$tmp/log" 2>&1 ||
		{ tail -50 "$tmp/log"; tail -50 "$tmp/root/debootstrap/debootstrap.log" 2>/dev/null; exit 1; }
	# Lean rootfs: no apt lists or package cache.
	rm -rf "$tmp"/root/var/cache/apt/archives/*.deb "$tmp"/root/var/lib/apt/lists/*
	tar -C "$tmp/root" --numeric-owner -I 'zstd -T0 -3' -cf "$tarball.part" .
	mv -f "$tarball.part" "$tarball"
	rm -rf "$tmp"
	trap - EXIT
	log "rootfs cached ($(du -h "$tarball" | cut -f1))"
fi
E2E_ROOTFS=$(realpath "$tarball")
export E2E_ROOTFS

# Backstop: whatever happens to the test binary, no container survives it
# and no extracted rootfs is left behind.
export E2E_PIDFILE=$PWD/$cache/nspawn.pid
export E2E_WORKDIR=$PWD/$cache/run
# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
	if [ -s "$E2E_PIDFILE" ]; then
		pid=$(cat "$E2E_PIDFILE")
		if kill -0 "$pid" 2>/dev/null; then
			echo "e2e: stopping leftover container (nspawn pid $pid)"
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
			kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$E2E_PIDFILE"
	fi
	rm -rf "${E2E_WORKDIR:?}"/roy-e2e-*
}
cleanup
mkdir -p "$E2E_WORKDIR"
trap cleanup EXIT

log "go test -tags e2e ./test/e2e/ (package $E2E_DEB)"
rc=0
go test -tags e2e -count=1 -v -timeout 15m ${E2E_RUN:+-run "$E2E_RUN"} ./test/e2e/ || rc=$?
log "done (rc=$rc)"
exit "$rc"
