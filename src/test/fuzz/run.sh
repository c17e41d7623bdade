#!/usr/bin/env bash
#
# run.sh -- build the libFuzzer harnesses and run each for a bounded time.
# Usage: src/test/fuzz/run.sh [seconds]   (default: 30; PGAPI_FUZZ_SECONDS)
# Harnesses: fuzz_prometheus (the Prometheus text parser: no crash) and
# fuzz_jsontape (the tape parser against json-c: same verdict, same values).
# A dictionary for fuzz_NAME, if any, is src/test/fuzz/NAME.dict.
# Needs clang with libFuzzer (Debian: clang).  Crashes are kept under
# $PGAPI_FUZZ_OUT (default /tmp/pgapi-fuzz) as crash-*; a crash input goes
# into src/test/fuzz/corpus/<harness>/ as a regression seed once fixed.
# Prints `N passed, N failed` last.
#
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
secs=${1:-${PGAPI_FUZZ_SECONDS:-30}}
out=${PGAPI_FUZZ_OUT:-/tmp/pgapi-fuzz}
pg_config=${PG_CONFIG:-pg_config}
inc=$("$pg_config" --includedir-server)
libdir=$("$pg_config" --pkglibdir)
passed=0
failed=0
mkdir -p "$out"

if ! command -v clang >/dev/null; then
	echo "not ok - clang not installed"
	echo "0 passed, 1 failed"
	exit 1
fi

for h in prometheus jsontape; do
	bin="$out/fuzz_$h"
	if ! clang -g -O1 -Wno-ignored-attributes -I/usr/include/json-c -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-I"$inc" -I"$repo/src" -I"$repo" "$here/fuzz_$h.c" "$repo/src/$h.c" \
		"$libdir/libpgcommon.a" "$libdir/libpgport.a" $(pkg-config --libs json-c) \
		-o "$bin" 2>"$out/build-$h.log"; then
		echo "not ok - fuzz_$h: build failed"
		head -20 "$out/build-$h.log"
		failed=$((failed + 1))
		continue
	fi
	corpus="$out/corpus-$h"
	mkdir -p "$corpus"
	cp "$here/corpus/$h/"* "$corpus/" 2>/dev/null || true
	# regression: every stored seed (past crashes included) must run clean
	if ! "$bin" -runs=0 "$here/corpus/$h" >"$out/seeds-$h.log" 2>&1; then
		echo "not ok - fuzz_$h: a stored seed fails"
		tail -30 "$out/seeds-$h.log"
		failed=$((failed + 1))
		continue
	fi
	dict=()
	if [ -f "$here/$h.dict" ]; then
		dict=(-dict="$here/$h.dict")
	fi
	if (cd "$out" && "$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 \
		-rss_limit_mb=2048 "${dict[@]}" "$corpus") >"$out/run-$h.log" 2>&1; then
		execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/run-$h.log" | grep -o '[0-9]*$' || true)
		[ -n "$execs" ] || execs=$(grep -oE '#[0-9]+' "$out/run-$h.log" | tail -1 | tr -d '#')
		echo "ok - fuzz_$h: $secs s, ${execs:-?} inputs, no crash"
		passed=$((passed + 1))
	else
		echo "not ok - fuzz_$h: crash, see $out/run-$h.log"
		grep -A20 'ERROR: \|SUMMARY' "$out/run-$h.log" | head -40
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
