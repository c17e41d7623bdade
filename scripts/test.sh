#!/usr/bin/env bash
#
# test.sh -- build pgapi_fdw and run every test suite against the simulator
#
# Usage: bash scripts/test.sh [--quick | --long]
#
# Installs missing packages, builds with -Werror, installs, starts the API
# simulator and a throwaway cluster, then runs in turn:
#   1. pg_regress (`make installcheck`): one test per sql/ file
#   2. src/test/apisim_selftest.py, if present
#   3. TAP tests t/*.pl, if present
#   4. every executable src/test/suites/*.sh
# Each of 2-4 prints `N passed, N failed` as its last line; the counts are
# added up.  The output ends with exactly one line `N passed, N failed`, and
# the exit status is non-zero if anything failed or nothing ran.
#
# Every suite gets PGHOST, PGPORT, PGUSER, PGDATABASE, PGAPI_SIM_URL,
# PGAPI_SIM_GRAPHQL_URL, PGAPI_SIM_JOURNAL, PGAPI_SERVER_LOG and
# PGAPI_TEST_MODE (quick | ci | long).  valgrind is installed for the
# valgrind suite in every mode; PGAPI_VALGRIND is passed on (default 0).

set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PASSED=0
FAILED=0
SUMMARY_DONE=0

usage()
{
	echo "usage: bash scripts/test.sh [--quick | --long]" >&2
	exit 2
}

parse_args()
{
	export PGAPI_TEST_MODE=ci
	while [ $# -gt 0 ]; do
		case "$1" in
			--quick) PGAPI_TEST_MODE=quick ;;
			--long) PGAPI_TEST_MODE=long ;;
			-h | --help) usage ;;
			*) echo "unknown option: $1" >&2; usage ;;
		esac
		shift
	done
}

# add_counts NAME PASS FAIL: add one suite's result to the totals.
add_counts()
{
	log "$1: $2 passed, $3 failed"
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
}

# add_summary_line NAME OUTPUT_FILE STATUS: take `N passed, N failed` from
# the last line of a suite's output.  A suite that exits non-zero without
# reporting a failure, or whose last line is not a summary, counts as one
# failure, so a crash never looks like success.
add_summary_line()
{
	local name=$1 out=$2 status=$3 last p f

	last=$(tail -n 1 "$out" 2>/dev/null || true)
	if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		p=${BASH_REMATCH[1]}
		f=${BASH_REMATCH[2]}
		if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1
		fi
	else
		echo "$name: last line is not 'N passed, N failed' (exit $status)" >&2
		p=0
		f=1
	fi
	add_counts "$name" "$p" "$f"
}

# run_regress: `make installcheck` as the invoking user; pg_regress is only a
# client here, connecting over the cluster's socket as DB user postgres.
# PG 15 prints `test NAME ... ok` / `... FAILED` (also for a crash) /
# `... failed (ignored)` (an ignored test, which counts neither way); PG 16+
# prints TAP-like `ok N - NAME` / `not ok N - NAME`: count both forms.
run_regress()
{
	local out="$PGAPI_TMP/regress.out" status=0 p f

	log "pg_regress (make installcheck)"
	(cd "$PGAPI_REPO" && make installcheck PG_CONFIG="$PG_CONFIG") 2>&1 |
		tee "$out" || status=$?
	p=$(grep -cE '\.\.\. +ok( |$)|^ok [0-9]+ ' "$out" || true)
	f=$(grep -cE '\.\.\. +FAILED|^not ok [0-9]+ ' "$out" || true)
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	if [ -s "$PGAPI_REPO/regression.diffs" ] && [ "$f" -gt 0 ]; then
		echo "---- regression.diffs (first 400 lines) ----"
		head -n 400 "$PGAPI_REPO/regression.diffs"
		echo "---- end of regression.diffs ----"
	fi
	add_counts "pg_regress" "$p" "$f"
}

run_selftest()
{
	local selftest="$PGAPI_REPO/src/test/apisim_selftest.py"
	local out="$PGAPI_TMP/selftest.out" status=0

	[ -f "$selftest" ] || return 0
	log "simulator selftest"
	(cd "$PGAPI_REPO" && /usr/bin/python3 "$selftest") 2>&1 | tee "$out" ||
		status=$?
	add_summary_line "apisim_selftest" "$out" "$status"
}

# run_tap: prove t/*.pl with PostgreSQL::Test::Cluster from the PGXS tree.
# The TAP framework runs initdb itself, which PostgreSQL refuses as root, so
# as root the tests run as the cluster's OS user from a copy of the checkout
# in the temp dir (the checkout itself may be unreadable to that user).
# Counts are the top-level `ok` / `not ok` lines of `prove -v`.
run_tap()
{
	local out="$PGAPI_TMP/tap.out" status=0 p f dir pgxs perl_lib
	local -a tests env_vars

	shopt -s nullglob
	tests=("$PGAPI_REPO"/t/*.pl)
	shopt -u nullglob
	[ ${#tests[@]} -gt 0 ] || return 0

	log "TAP tests"
	# --pgxs is <pgxs>/src/makefiles/pgxs.mk
	pgxs=$(cd "$(dirname "$("$PG_CONFIG" --pgxs)")/../.." && pwd)
	perl_lib="$pgxs/src/test/perl"
	dir="$PGAPI_TMP/tap"
	mkdir -p "$dir"
	tar -C "$PGAPI_REPO" --exclude=.git --exclude=results --exclude=tmp_check \
		-cf - . | tar -C "$dir" -xf -
	if [ "$(id -u)" -eq 0 ]; then
		chown -R "$PGAPI_OS_USER:" "$dir"
	fi
	env_vars=(
		"PATH=$PG_BINDIR:/usr/local/bin:/usr/bin:/bin"
		"LC_ALL=C"
		"HOME=$dir"
		"PERL5LIB=$perl_lib"
		"TESTDIR=$dir"
		"PG_REGRESS=$pgxs/src/test/regress/pg_regress"
		"PGAPI_TEST_MODE=$PGAPI_TEST_MODE"
		"PGAPI_VALGRIND=${PGAPI_VALGRIND:-0}"
		"PGAPI_SIM_URL=$PGAPI_SIM_URL"
		"PGAPI_SIM_GRAPHQL_URL=$PGAPI_SIM_GRAPHQL_URL"
		"PGAPI_SIM_JOURNAL=$PGAPI_SIM_JOURNAL"
	)
	# shellcheck disable=SC2016 # expanded by the inner shell, in the copy
	(cd "$dir" && as_pg_user env -i "${env_vars[@]}" \
		bash -c 'cd "$TESTDIR" && prove -v t/*.pl') 2>&1 | tee "$out" ||
		status=$?
	p=$(grep -cE '^ok [0-9]+' "$out" || true)
	f=$(grep -cE '^not ok [0-9]+' "$out" || true)
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	if [ "$status" -ne 0 ] && [ -d "$dir/tmp_check/log" ]; then
		echo "---- TAP logs: tail of each ----"
		tail -n 40 "$dir"/tmp_check/log/* 2>/dev/null || true
	fi
	add_counts "TAP" "$p" "$f"
}

# run_suites: every executable src/test/suites/*.sh, with our environment.
run_suites()
{
	local suite name out status

	for suite in "$PGAPI_REPO"/src/test/suites/*.sh; do
		[ -x "$suite" ] || continue
		name=$(basename "$suite" .sh)
		out="$PGAPI_TMP/suite-$name.out"
		status=0
		log "suite $name ($PGAPI_TEST_MODE)"
		(cd "$PGAPI_REPO" && "$suite") 2>&1 | tee "$out" || status=$?
		add_summary_line "$name" "$out" "$status"
	done
}

# show_server_log: the tail of the server and simulator logs when something
# failed; printed before cleanup removes them.
show_server_log()
{
	if [ -n "${PGAPI_SERVER_LOG:-}" ] && [ -f "$PGAPI_SERVER_LOG" ]; then
		echo "---- server log (last 60 lines) ----"
		tail -n 60 "$PGAPI_SERVER_LOG" || true
	fi
	if [ -n "${PGAPI_SIM_LOG:-}" ] && [ -f "$PGAPI_SIM_LOG" ]; then
		echo "---- simulator log (last 30 lines) ----"
		tail -n 30 "$PGAPI_SIM_LOG" || true
	fi
}

# on_exit: if we die early (build error, cluster won't start, Ctrl-C), still
# end with a summary line that counts the failure, so CI never sees a run
# with no verdict.
on_exit()
{
	local status=$?

	cleanup
	if [ "$SUMMARY_DONE" -eq 0 ]; then
		echo "$PASSED passed, $((FAILED + 1)) failed"
		[ "$status" -ne 0 ] || status=1
	fi
	exit "$status"
}

main()
{
	local start=$SECONDS

	parse_args "$@"
	setup_cleanup_trap
	trap on_exit EXIT
	# valgrind: src/test/suites/valgrind.sh
	ensure_packages valgrind
	build_and_install
	start_simulator
	start_cluster
	export PGAPI_VALGRIND=${PGAPI_VALGRIND:-0}

	run_regress
	run_selftest
	run_tap
	run_suites

	if [ "$FAILED" -gt 0 ]; then
		show_server_log
	fi
	cleanup
	log "mode $PGAPI_TEST_MODE, $((SECONDS - start)) s"
	SUMMARY_DONE=1
	echo "$PASSED passed, $FAILED failed"
	if [ "$FAILED" -gt 0 ] || [ "$PASSED" -eq 0 ]; then
		exit 1
	fi
}

main "$@"
