#!/usr/bin/env bash
# Runs the quorumlock benchmark suite against redsync and redislock on the
# same real redis-server nodes, saves the raw output under
# bench/results/<date>.txt, prints benchstat's side-by-side tables, redraws
# docs/handoff.png and docs/hung.png and prints the ratio tables.
#
# Needs only Go and redis-server (on PATH or in /usr/bin, /usr/sbin,
# /usr/local/bin); modules come from the Go module proxy.
#
#   bench/run.sh              # -count 6
#   bench/run.sh -count 3     # or COUNT=3 bench/run.sh
#   bench/run.sh -count 1 -only 'Handoff|Stampede'
#
# The library measured is the one in the parent directory (the replace in
# bench/go.mod); its git revision is recorded in the output
# (QUORUMLOCK_REV overrides it, for a tree exported without .git).
#
# Each family runs in its own invocation of one compiled test binary, with
# the -benchtime that suits it (the sampling families stop at that many
# samples or at a time budget, whichever comes first; see the top of
# bench_test.go), COUNT rounds of all families.
set -euo pipefail

COUNT="${COUNT:-6}"
ONLY="${ONLY:-}"
while [ $# -gt 0 ]; do
	case "$1" in
	-count) COUNT="$2"; shift 2 ;;
	-count=*) COUNT="${1#-count=}"; shift ;;
	-only) ONLY="$2"; shift 2 ;;
	-only=*) ONLY="${1#-only=}"; shift ;;
	*) echo "usage: $0 [-count N] [-only REGEXP]" >&2; exit 2 ;;
	esac
done

BENCHSTAT="golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"

cd "$(dirname "$0")"
command -v go >/dev/null || { echo "run.sh: go not found" >&2; exit 1; }
REDIS="$(command -v redis-server || true)"
for d in /usr/bin /usr/sbin /usr/local/bin; do
	[ -n "$REDIS" ] || { [ -x "$d/redis-server" ] && REDIS="$d/redis-server"; } || true
done
[ -n "$REDIS" ] || { echo "run.sh: redis-server not found (apt-get install redis-server)" >&2; exit 1; }
export QUORUMLOCK_REQUIRE_REDIS=1 # a missing redis-server fails instead of skipping

mkdir -p results
stamp="$(date -u +%Y-%m-%d)"
out="results/$stamp.txt"
[ -e "$out" ] && out="results/$stamp-$(date -u +%H%M%S).txt"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/bench.test" .

# family  benchtime  (the sampling families also stop at their time budget)
families=(
	"Uncontended 1s"
	"Throughput 3000x"
	"Handoff 200x"
	"Stampede 50x"
	"HungNodes 300x"
	"Memory 1x"
	"RestartCampaign 1x"
)

{
	# Lines of the form "key: value" are benchstat configuration; these
	# are the same for the whole file and say what was measured where.
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "go: $(go env GOVERSION)"
	echo "redis-server: $("$REDIS" --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
	echo "nproc: $(nproc)"
	echo "quorumlock: ${QUORUMLOCK_REV:-$(git -C .. describe --always --dirty 2>/dev/null || echo unknown)}"
} >"$out"

start=$(date +%s)
# Rounds outside, families inside: every round measures every implementation
# once, so that a slow patch of the machine hits all of them alike instead of
# the -count runs of one implementation.
for round in $(seq 1 "$COUNT"); do
	for f in "${families[@]}"; do
		set -- $f
		if [ -n "$ONLY" ] && ! [[ "$1" =~ $ONLY ]]; then
			continue
		fi
		echo "== round $round/$COUNT: $1 (-benchtime $2)" >&2
		"$tmp/bench.test" -test.run '^$' -test.bench "^Benchmark$1\$" -test.benchmem \
			-test.benchtime "$2" -test.count 1 -test.timeout 30m | tee -a "$out"
	done
done
echo "== suite took $(( $(date +%s) - start ))s; raw output in bench/$out" >&2

echo
go run "$BENCHSTAT" -col /impl "$out"
echo
go run ./cmd/plot -in "$out" -out ../docs
echo >&2
echo "raw output: bench/$out; plots: docs/handoff.png docs/hung.png" >&2
