#!/usr/bin/env bash
# Run fuzz targets for a bounded time each and print, per target, the executions run and the
# crashes found. `make fuzz` is the documented way in (it installs cargo-fuzz first).
#
#   fuzz/run.sh [TARGET...]      every target when none is named
#
# FUZZ_SECONDS  seconds per target (default 60)
# CARGO_FUZZ    the cargo-fuzz binary (default .tools/bin/cargo-fuzz)
# FUZZ_ARGS     more libFuzzer options, e.g. FUZZ_ARGS=-jobs=2 or -seed=1
#
# Builds once (libFuzzer, no sanitizer: stable Rust), seeds fuzz/corpus/<target>/ from events/
# (fuzz/seed.py), and keeps each target's log in fuzz/logs/<target>.log. A crash leaves its input
# in fuzz/artifacts/<target>/; the run then goes on with the next target and exits 1 at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ=${CARGO_FUZZ:-.tools/bin/cargo-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
# The build options: `cargo fuzz run` rebuilds unless they are the same as `cargo fuzz build`'s.
BUILD=(-s none)

"$CARGO_FUZZ" fuzz build "${BUILD[@]}"
if [ $# -eq 0 ]; then
	mapfile -t targets < <("$CARGO_FUZZ" fuzz list)
else
	targets=("$@")
fi
python3 fuzz/seed.py
mkdir -p fuzz/logs

summary=()
failed=0
for target in "${targets[@]}"; do
	log=fuzz/logs/$target.log
	artifacts=fuzz/artifacts/$target
	mkdir -p "$artifacts"
	before=$(find "$artifacts" -type f | sort)
	echo "fuzzing $target for ${SECONDS_EACH}s (log: $log)"
	status=0
	# -timeout: one input taking this long is a hang. -max_len: the largest sample is 4 KB.
	# shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
	"$CARGO_FUZZ" fuzz run "${BUILD[@]}" "$target" -- \
		-max_total_time="$SECONDS_EACH" -timeout=20 -max_len=8192 -print_final_stats=1 \
		-dict=fuzz/json.dict ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
	executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ -z "$executions" ]; then
		executions=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
	fi
	found=$(comm -13 <(echo "$before") <(find "$artifacts" -type f | sort) | sed '/^$/d')
	crashes=$(echo -n "$found" | grep -c . || true)
	if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		echo "$target: the fuzzer failed (exit $status) without a crash input; see $log" >&2
		tail -n 20 "$log" >&2
		failed=1
	fi
	if [ "$crashes" -gt 0 ]; then
		failed=1
		echo "$target: crashed; the input is kept in:" >&2
		echo "$found" | sed 's/^/  /' >&2
		grep -E -A2 "^thread '.*' .*panicked" "$log" | head -n 6 >&2 || true
	fi
	summary+=("$(printf '%-18s %12s %8s' "$target" "${executions:-?}" "$crashes")")
done

printf '\n%-18s %12s %8s\n' target executions crashes
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
	echo "crash inputs are in fuzz/artifacts/<target>/; reproduce one with" \
		"$CARGO_FUZZ fuzz run ${BUILD[*]} <target> <file>" >&2
	exit 1
fi
