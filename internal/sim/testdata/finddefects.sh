#!/usr/bin/env bash
# finddefects.sh: shows that the simulator finds each defect fixed in the
# safety issue once it is put back. For every patch in defects/ (each one
# puts one defect back), it copies the working tree to a scratch directory,
# applies the patch there and runs the simulator's schedules until the first
# violation (in two processes, as TestSchedules runs them); it prints the
# first seed that found it.
#
#   internal/sim/testdata/finddefects.sh            # every patch
#   internal/sim/testdata/finddefects.sh 5-*.patch  # some
#
# SEEDS (default 2000, the CI budget) bounds the search; SEED is the first
# seed (default 1). A patch whose first line is "expect: no violation" puts
# back a defect that a later fix made harmless: there, finding nothing is
# the result wanted. It exits non-zero when a defect is not found (or such
# a patch's is), or when a patch no longer applies. Nothing outside the
# scratch directories changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
seeds=${SEEDS:-2000}
seed=${SEED:-1}
cd "$here/defects"
patches=()
for a in "$@"; do # names or patterns of patches in defects/, from wherever it is run
	for f in $(basename -a $a); do patches+=("$f"); done
done
[ ${#patches[@]} -gt 0 ] || patches=(*.patch)

missed=0
for p in "${patches[@]}"; do
	scratch=$(mktemp -d)
	trap 'rm -rf "$scratch"' EXIT
	(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$scratch"
	if ! patch -s -p1 -d "$scratch" <"$p"; then
		echo "$p: does not apply"
		missed=1
		continue
	fi
	began=$(date +%s)
	out=$(cd "$scratch" && go test -count=1 ./internal/sim -run '^TestSchedules$' \
		-sim.seeds="$seeds" -sim.seed="$seed" -sim.stop 2>&1 || true)
	took=$(($(date +%s) - began))
	harmless=0
	if head -1 "$p" | grep -q '^expect: no violation'; then harmless=1; fi
	if found=$(grep -m1 -o 'found a violation at seed [0-9]*: within the first [0-9]* seeds' <<<"$out"); then
		echo "$p: $found; ${took}s with the build"
		grep -m3 -A3 'violations:$' <<<"$out" | sed 's/^/    /' || true
		if [ $harmless = 1 ]; then
			echo "    (this patch's defect should be harmless now: see its first lines)"
			missed=1
		fi
	elif [ $harmless = 1 ]; then
		echo "$p: no violation in $seeds schedules, as expected (${took}s)"
	else
		echo "$p: NOT FOUND in $seeds schedules (${took}s)"
		tail -3 <<<"$out" | sed 's/^/    /'
		missed=1
	fi
	rm -rf "$scratch"
done
exit $missed
