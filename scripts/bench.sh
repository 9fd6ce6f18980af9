#!/usr/bin/env bash
# make bench: spawn a workload, measure roy-procwatchd's /api/processes
# against ps + ss, print a table, and clean everything up (even on Ctrl-C).
#
#   scripts/bench.sh [bench flags]     e.g. -procs 500 -listen 100 -conns 50
#   BENCH_GO=0 scripts/bench.sh        skip the Go testing.B benchmarks
#   BENCH_BASELINE=<git rev> scripts/bench.sh
#                                      also time that revision's daemon in (a)
#
# No figure fails the run: read the table. See test/bench/main.go -h.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

for tool in ps ss sleep; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing: run 'make deps' (procps, iproute2)" >&2; exit 1; }
done

mkdir -p bin
go build -trimpath -o bin/roy-procwatchd ./daemon
go build -trimpath -o bin/procwatch-bench ./test/bench
baseline=()
if [ -n "${BENCH_BASELINE:-}" ]; then
  src=$(mktemp -d)
  git archive "$BENCH_BASELINE" | tar -x -C "$src"
  (cd "$src" && go build -trimpath -o "$OLDPWD/bin/roy-procwatchd-baseline" ./daemon)
  rm -rf "$src"
  baseline=(-baseline-daemon bin/roy-procwatchd-baseline)
fi

# 2,000 processes: make sure this shell may fork them.
if [ "$(ulimit -u)" != unlimited ] && [ "$(ulimit -u)" -lt 10000 ]; then ulimit -u 10000 2>/dev/null || true; fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

pgid_file=$(mktemp)
work=$(mktemp -d)   # the driver's temporary files (daemon logs), removed whatever happens
cleanup() {
  # The driver cleans up itself; this is the net under it (it was killed,
  # or crashed): kill the workload's process group, whatever is left.
  local pg
  pg=$(cat "$pgid_file" 2>/dev/null || true)
  if [ -n "$pg" ] && kill -0 -- "-$pg" 2>/dev/null; then
    kill -KILL -- "-$pg" 2>/dev/null || true
  fi
  rm -f "$pgid_file"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

go_bench=./internal/procfs/,./daemon/procs/,./httpui/
[ "${BENCH_GO:-1}" = 0 ] && go_bench=
TMPDIR="$work" ./bin/procwatch-bench -daemon bin/roy-procwatchd -pgid-file "$pgid_file" -go-bench "$go_bench" "${baseline[@]}" "$@"
