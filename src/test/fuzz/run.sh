#!/usr/bin/env bash
#
# run.sh -- build the libFuzzer harnesses and run each for a bounded time.
# Usage: src/test/fuzz/run.sh [seconds]   (default: 30; PGAPI_FUZZ_SECONDS)
#
# Every harness (HARNESSES below) is fuzz_<name>.c, linked with the stand-in
# backend (pgstub.c, pgtypes.c), the extension files under test and
# PostgreSQL's frontend libraries, built with clang's libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer.  For each: the stored
# seeds in corpus/<name>/ (past crashes included) must all run clean
# first; then it fuzzes for the given seconds from a working corpus under
# $PGAPI_FUZZ_OUT (default /tmp/pgapi-fuzz), with dict/<name>.dict when
# there is one.  Crash inputs are kept there as artifacts-<name>/crash-*;
# once fixed, one goes into corpus/<name>/ as a regression seed.
#
# Prints per harness the seconds, executions, coverage (libFuzzer's cov:)
# and crashes, and `N passed, N failed` last.
#
set -euo pipefail

# The harnesses, in one place.  PGAPI_FUZZ_ONLY="json ..." runs a subset.
HARNESSES=(json rfc3339 headers prometheus jsontape)
if [ -n "${PGAPI_FUZZ_ONLY:-}" ]; then
	read -r -a HARNESSES <<<"$PGAPI_FUZZ_ONLY"
fi

# Extension files linked into every harness (each harness uses some).
SOURCES=(json.c prometheus.c rfc3339.c headers.c jsontape.c)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
secs=${1:-${PGAPI_FUZZ_SECONDS:-30}}
out=${PGAPI_FUZZ_OUT:-/tmp/pgapi-fuzz}
pg_config=${PG_CONFIG:-pg_config}
inc=$("$pg_config" --includedir-server)
libdir=$("$pg_config" --pkglibdir)
passed=0
failed=0

cflags=(-g -O1 -Wall -Wno-unused-parameter -Wno-ignored-attributes
	-fsanitize=address,undefined -fno-sanitize-recover=undefined
	-I/usr/include/json-c -I"$inc" -I"$repo/src" -I"$here")
libs=("$libdir/libpgcommon.a" "$libdir/libpgport.a" -ljson-c -lcurl -lm)

if ! command -v clang >/dev/null; then
	echo "not ok - clang not installed"
	echo "0 passed, 1 failed"
	exit 1
fi

# build_objects: the stand-ins and the extension files, once
build_objects()
{
	local f
	mkdir -p "$out/obj"
	objs=()
	for f in "$here/pgstub.c" "$here/pgtypes.c" "${SOURCES[@]/#/$repo/src/}"; do
		local o="$out/obj/$(basename "$f" .c).o"
		clang -c "${cflags[@]}" -fsanitize=fuzzer-no-link "$f" -o "$o" \
			2>>"$out/build.log" || return 1
		objs+=("$o")
	done
}

# field NAME LOG: the last value of libFuzzer's "NAME: N" in LOG
field()
{
	grep -oE "$1: *[0-9]+" "$2" | tail -1 | grep -oE '[0-9]+$' || true
}

# run_harness NAME: build, replay the stored seeds, fuzz; prints one line
run_harness()
{
	local h=$1 bin="$out/fuzz_$1" log="$out/run-$1.log" arts="$out/artifacts-$1/"
	local dict=() start elapsed execs cov ncrash status

	if ! clang "${cflags[@]}" -fsanitize=fuzzer "$here/fuzz_$h.c" "${objs[@]}" \
		"${libs[@]}" -o "$bin" 2>"$out/build-$h.log"; then
		echo "not ok - fuzz_$h: build failed"
		head -20 "$out/build-$h.log"
		return 1
	fi
	if [ -f "$here/dict/$h.dict" ]; then
		dict=(-dict="$here/dict/$h.dict")
	fi

	# regression: every stored seed (past crashes included) must run clean
	mkdir -p "$arts"
	if ! "$bin" -runs=0 -artifact_prefix="$arts" "${dict[@]}" "$here/corpus/$h" \
		>"$out/seeds-$h.log" 2>&1; then
		echo "not ok - fuzz_$h: a stored seed fails"
		grep -E 'ORACLE|ERROR:|SUMMARY|Running: ' "$out/seeds-$h.log" | head -20
		return 1
	fi

	mkdir -p "$out/corpus-$h"
	cp "$here/corpus/$h/"* "$out/corpus-$h/"
	rm -f "$arts"crash-* "$arts"leak-* "$arts"timeout-* "$arts"oom-*
	start=$SECONDS
	if (cd "$out" && "$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$arts" \
		"${dict[@]}" "$out/corpus-$h") >"$log" 2>&1; then
		status=0
	else
		status=1
	fi
	elapsed=$((SECONDS - start))
	execs=$(field 'stat::number_of_executed_units' "$log")
	cov=$(field 'cov' "$log")
	ncrash=$(find "$arts" -type f | wc -l)
	if [ "$status" -eq 0 ] && [ "$ncrash" -eq 0 ]; then
		echo "ok - fuzz_$h: ${elapsed} s, ${execs:-?} executions, cov ${cov:-?}, 0 crashes"
		return 0
	fi
	echo "not ok - fuzz_$h: ${elapsed} s, ${execs:-?} executions, cov ${cov:-?}, $ncrash crashes (see $log, $arts)"
	grep -E 'ORACLE|ERROR: |SUMMARY' "$log" | head -10
	return 1
}

mkdir -p "$out"
: >"$out/build.log"
if ! build_objects; then
	echo "not ok - fuzz: building the harness objects failed"
	head -30 "$out/build.log"
	echo "0 passed, 1 failed"
	exit 1
fi
for h in "${HARNESSES[@]}"; do
	if run_harness "$h"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
