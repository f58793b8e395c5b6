#!/bin/sh
# The long fuzzing runs recorded in docs/FUZZING.md: each harness in turn, at
# nice 19, until RUNS executions or its share of the time left before DEADLINE
# (UTC, HH:MM, default: none), whichever comes first. Fast harnesses go first,
# so the slow ones inherit the time the fast ones did not need.
#   tests/fuzz/long-run.sh [NAME...]      (from the project root, after make fuzz-build)
# Output: build-fuzz/long/NAME.log and a markdown table build-fuzz/long/summary.md.
set -u
RUNS=${RUNS:-10000000}
DEADLINE=${DEADLINE:-}
OUT=build-fuzz/long
NAMES=${*:-"pending thin ebsname imds config plan label xml"}
mkdir -p "$OUT"
commit=$(git rev-parse --short HEAD)
[ -f "$OUT/summary.md" ] || printf '| harness | executions | exec/s | coverage (cov/ft) | corpus | duration | result | date | commit |\n|---|---|---|---|---|---|---|---|---|\n' > "$OUT/summary.md"
set -- $NAMES
left=$#
for n in $NAMES; do
	budget=86400
	if [ -n "$DEADLINE" ]; then
		end=$(date -u -d "$DEADLINE" +%s)
		[ "$end" -lt "$(date -u +%s)" ] && end=$((end + 86400))
		budget=$(( (end - $(date -u +%s)) / left ))
		[ "$budget" -lt 60 ] && budget=60
	fi
	opts=$(cat tests/fuzz/$n.options 2>/dev/null)
	dict=""
	[ -f tests/fuzz/$n.dict ] && dict="-dict=tests/fuzz/$n.dict"
	mkdir -p "$OUT/corpus/$n" "$OUT/artifacts/$n"
	start=$(date -u +%s)
	day=$(date -u +%Y-%m-%dT%H:%MZ)
	echo "== fuzz_$n: up to $RUNS runs or $budget s"
	# shellcheck disable=SC2086
	nice -n 19 build-fuzz/fuzz_$n $opts $dict -runs="$RUNS" -max_total_time="$budget" -timeout=25 \
		-print_final_stats=1 -artifact_prefix="$OUT/artifacts/$n/" "$OUT/corpus/$n" tests/fuzz/corpus/$n \
		> "$OUT/$n.log" 2>&1
	rc=$?
	dur=$(( $(date -u +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$n.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$OUT/$n.log")
	last=$(grep -E '^#[0-9]+' "$OUT/$n.log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \/ \2/p')
	corp=$(echo "$last" | sed -n 's/.*corp: \([^ ]*\).*/\1/p')
	if [ $rc -eq 0 ]; then res=ok; else res="FAILED (rc $rc, see $OUT/$n.log)"; fi
	printf '| fuzz_%s | %s | %s | %s | %s | %s s | %s | %s | %s |\n' "$n" "$execs" "$rate" "$cov" "$corp" \
		"$dur" "$res" "$day" "$commit" >> "$OUT/summary.md"
	tail -1 "$OUT/summary.md"
	left=$((left - 1))
done
