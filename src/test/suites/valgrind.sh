#!/usr/bin/env bash
#
# valgrind.sh -- the regression tests under valgrind memcheck (issue #8)
#
# Starts a second, private cluster whose postmaster runs under memcheck, so
# every backend and worker it forks does too, with the main cluster's
# shared_preload_libraries, and a simulator of its own (the main one's
# journal has grown by then with every suite's requests, and the tests
# parse the whole journal at each mark: under valgrind that alone took
# minutes).  pg_regress runs the sql/ tests against it (their output must
# still match), then F26 and F19 of the fault matrix (ci, long), then a
# fast shutdown lets every process exit normally and write its leak report;
# src/test/valgrind_report.py reads the reports: an invalid read or write,
# a use of an uninitialised value, an invalid free or a definite leak with a
# frame in pgapi_fdw fails the suite, and is printed in full.  Known noise
# from PostgreSQL itself is suppressed by src/test/valgrind.supp, which
# never names a frame of pgapi_fdw.
#
# Debian's PostgreSQL is not built with USE_VALGRIND: memcheck sees palloc
# chunks only as parts of large malloc'd blocks.  It still sees invalid
# reads and writes of malloc'd memory (libcurl's, json-c's, our response
# buffers and cache entries, memory-context blocks already freed), uses of
# uninitialised values, and leaks of malloc'd memory.
#
# Tests: quick "setup read"; ci every test in the Makefile's REGRESS but
# cron, which spends a minute waiting for pg_cron's next run and drives the
# code the joins test already covers; long all of REGRESS.
# PGAPI_VALGRIND_TESTS="setup ..." overrides the list (setup first);
# pg_regress gets PGAPI_VALGRIND_TIMEOUT seconds (quick and ci 1200, long
# 3600); PGAPI_VALGRIND_KEEP=DIR copies the logs there before they are
# removed.
# The last line is `N passed, N failed`.
#
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/common.sh"

passed=0
failed=0
start=$SECONDS

ok()
{
	echo "ok - $*"
	passed=$((passed + 1))
}

not_ok()
{
	echo "not ok - $*"
	failed=$((failed + 1))
}

finish()
{
	echo "$passed passed, $failed failed"
	if [ "$failed" -eq 0 ]; then
		exit 0
	fi
	exit 1
}

# regress_tests: the Makefile's REGRESS list, one line
regress_tests()
{
	sed -n 's/^REGRESS[[:space:]]*=[[:space:]]*//p' "$PGAPI_REPO/Makefile"
}

choose_tests()
{
	local t all

	if [ -n "${PGAPI_VALGRIND_TESTS:-}" ]; then
		echo "$PGAPI_VALGRIND_TESTS"
		return
	fi
	all=$(regress_tests)
	case "${PGAPI_TEST_MODE:-ci}" in
		quick) echo "setup read" ;;
		long) echo "$all" ;;
		*)
			for t in $all; do
				[ "$t" = cron ] || printf '%s ' "$t"
			done
			echo
			;;
	esac
}

# write_wrapper FILE: the program pg_ctl starts instead of postgres.
# Programs the server execs from /bin and /usr/bin (the shell, curl and
# base64 of the tests' COPY ... FROM PROGRAM) run without valgrind: they
# are not ours, and tracing each would cost seconds.
write_wrapper()
{
	local file=$1

	cat >"$file" <<EOF
#!/bin/sh
exec "$VALGRIND" --tool=memcheck --trace-children=yes \\
	--trace-children-skip='/bin/*,/usr/bin/*' \\
	--track-origins=no --read-var-info=no --num-callers=30 \\
	--leak-check=full --show-leak-kinds=definite \\
	--errors-for-leak-kinds=definite --fullpath-after= \\
	--log-file='$VG_LOGS/%p.log' --suppressions='$PGAPI_TMP/valgrind.supp' \\
	"$PG_BINDIR/postgres" "\$@"
EOF
	chmod 755 "$file"
}

# stop_and_wait: fast shutdown, then wait for the postmaster's valgrind to
# finish its own leak report (pg_ctl returns once postmaster.pid is gone,
# which is before that).
stop_and_wait()
{
	local pid i

	pid=$(head -n 1 "$PGAPI_PGDATA/postmaster.pid")
	if ! as_pg_user "$PG_BINDIR/pg_ctl" -D "$PGAPI_PGDATA" -m fast -w \
		-t "$PGAPI_PG_TIMEOUT" stop >/dev/null; then
		not_ok "the cluster did not stop within $PGAPI_PG_TIMEOUT s"
		return 1
	fi
	for ((i = 0; i < PGAPI_PG_TIMEOUT * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		not_ok "the postmaster (pid $pid) did not exit within $PGAPI_PG_TIMEOUT s"
		return 1
	fi
	PGAPI_PGDATA=""
}

# sim_fault ACTION: inject one fault on the services list.  ACTION is a
# Python expression: a body of megabytes does not fit a command line.
sim_fault()
{
	/usr/bin/python3 - "$PGAPI_SIM_URL" "$1" <<'EOF'
import json, sys, urllib.request
action = eval(sys.argv[2], {})
body = {"match": {"path": "/postgres$"}, "action": action, "times": 1}
req = urllib.request.Request(sys.argv[1] + "/__mock/fault", data=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
urllib.request.urlopen(req, timeout=30).read()
EOF
}

# extra_cases: faults of RELIABILITY's matrix that the regression tests do
# not make and whose requirement names valgrind: F26 (B13: a 64 KiB header,
# 10,000 headers) and F19 (10^6 nesting levels, which json-c parses and
# frees recursively).  Each must end in rows or a clean ERROR with the
# session alive; the memcheck report judges the rest.
extra_cases()
{
	local label want action out

	while IFS=';' read -r label want action; do
		sim_fault "$action"
		out=$(psql -X -At -d contrib_regression -v VERBOSITY=sqlstate \
			-c 'SELECT count(*) FROM ch.postgres_services' -c 'SELECT 1' 2>&1 || true)
		out=$(printf '%s' "$out" | tr '\n' ' ')
		# the fault was served: none is left active
		if [ "$(curl -sS "$PGAPI_SIM_URL/__mock/faults")" != "[]" ]; then
			not_ok "under valgrind, $label: the simulator did not serve the fault"
			curl -sS -X POST "$PGAPI_SIM_URL/__mock/faults/clear" >/dev/null
		elif [[ "$out" =~ ^([0-9]+|ERROR:\ +($want))\ 1$ ]]; then
			ok "under valgrind, $label: ${BASH_REMATCH[1]}, session alive"
		else
			not_ok "under valgrind, $label: unexpected outcome: $out"
		fi
	done <<'EOF'
F26 a 64 KiB header;HV00N|HV00M|54000;{"huge_header": {"bytes": 65536, "count": 1}}
F26 10,000 headers;HV00N|HV00M|54000;{"huge_header": {"bytes": 8, "count": 10000}}
F19 10^6 nesting levels;HV00M|54001;{"status": 200, "body": '{"status":200,"result":[{"id":"x","name":"n","tags":' + "[" * 10**6 + "]" * 10**6 + "}]}"}
EOF
}

main()
{
	local tests pgxs regress_out status=0 t_regress t_stop report rc p f line
	local limit sessions

	VALGRIND=$(command -v valgrind || true)
	if [ -z "$VALGRIND" ]; then
		not_ok "valgrind is not installed (scripts/test.sh installs it)"
		finish
	fi
	setup_cleanup_trap
	make_tmp
	VG_LOGS="$PGAPI_TMP/valgrind"
	mkdir -p "$VG_LOGS"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$PGAPI_OS_USER:" "$VG_LOGS"
	fi
	cp "$PGAPI_REPO/src/test/valgrind.supp" "$PGAPI_TMP/valgrind.supp"
	chmod 644 "$PGAPI_TMP/valgrind.supp"
	write_wrapper "$PGAPI_TMP/postgres-valgrind"

	tests=$(choose_tests)
	echo "# tests under valgrind (${PGAPI_TEST_MODE:-ci}): $tests"

	# start_simulator and start_cluster export PGAPI_SIM_*, PGHOST, PGPORT
	# etc.: from here on they name ours, not the main ones.
	start_simulator
	export PGAPI_POSTGRES="$PGAPI_TMP/postgres-valgrind"
	export PGAPI_PG_TIMEOUT=${PGAPI_PG_TIMEOUT:-300}
	start_cluster
	ok "a cluster started under valgrind in $((SECONDS - start)) s"

	pgxs=$(cd "$(dirname "$("$PG_CONFIG" --pgxs)")/../.." && pwd)
	regress_out="$PGAPI_TMP/regress"
	mkdir -p "$regress_out"
	case "${PGAPI_TEST_MODE:-ci}" in
		long) limit=${PGAPI_VALGRIND_TIMEOUT:-3600} ;;
		*) limit=${PGAPI_VALGRIND_TIMEOUT:-1200} ;;
	esac
	t_regress=$SECONDS
	# shellcheck disable=SC2086 # the test names are words
	timeout --kill-after=30 "$limit" \
		"$pgxs/src/test/regress/pg_regress" --inputdir="$PGAPI_REPO" \
		--outputdir="$regress_out" --load-extension=plpgsql \
		--dbname=contrib_regression $tests >"$regress_out/pg_regress.out" 2>&1 ||
		status=$?
	t_regress=$((SECONDS - t_regress))
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		not_ok "pg_regress did not finish within $limit s"
	fi
	while IFS= read -r line; do
		if [[ "$line" =~ ^test\ ([a-z_0-9]+)\ +\.\.\.\ +ok\ +([0-9]+\ ms)? ]]; then
			ok "pg_regress under valgrind: ${BASH_REMATCH[1]} (${BASH_REMATCH[2]:-})"
		elif [[ "$line" =~ ^test\ ([a-z_0-9]+)\ +\.\.\.\ +FAILED ]]; then
			not_ok "pg_regress under valgrind: ${BASH_REMATCH[1]}"
		fi
	done <"$regress_out/pg_regress.out"
	if [ "$status" -ne 0 ]; then
		not_ok "pg_regress exited with status $status"
		tail -n 20 "$regress_out/pg_regress.out"
		echo
		if [ -s "$regress_out/regression.diffs" ]; then
			echo "---- regression.diffs (first 200 lines) ----"
			head -n 200 "$regress_out/regression.diffs"
		fi
	fi

	if [ "${PGAPI_TEST_MODE:-ci}" != quick ] && [[ " $tests " == *" setup "* ]]; then
		extra_cases
	fi

	# backends killed by a signal write no report; PostgreSQL logs them
	if grep -E 'terminated by signal|was terminated by exception' "$PGAPI_SERVER_LOG"; then
		not_ok "a server process was killed by a signal (see above)"
	else
		ok "no server process was killed by a signal"
	fi

	# client sessions the server saw (pg_regress's psql, dblink, pg_cron)
	sessions=$(psql -X -At -d postgres \
		-c 'SELECT sum(sessions) FROM pg_stat_database' 2>/dev/null || echo '?')

	t_stop=$SECONDS
	stop_and_wait || finish
	t_stop=$((SECONDS - t_stop))

	if [ -n "${PGAPI_VALGRIND_KEEP:-}" ]; then
		mkdir -p "$PGAPI_VALGRIND_KEEP"
		cp -r "$VG_LOGS" "$regress_out" "$PGAPI_SERVER_LOG" "$PGAPI_VALGRIND_KEEP/"
		echo "# logs kept in $PGAPI_VALGRIND_KEEP"
	fi

	report="$PGAPI_TMP/report.out"
	rc=0
	/usr/bin/python3 "$PGAPI_REPO/src/test/valgrind_report.py" "$VG_LOGS" \
		"$PGAPI_REPO" >"$report" 2>&1 || rc=$?
	sed '$d' "$report"
	line=$(tail -n 1 "$report")
	if [[ "$line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		p=${BASH_REMATCH[1]}
		f=${BASH_REMATCH[2]}
		passed=$((passed + p))
		failed=$((failed + f))
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			not_ok "valgrind_report.py exited with status $rc"
		fi
	else
		echo "$line"
		not_ok "valgrind_report.py did not end with a summary (status $rc)"
	fi
	echo "figures: client sessions $sessions; pg_regress $t_regress s, shutdown and reports $t_stop s, suite $((SECONDS - start)) s"
	finish
}

main "$@"
