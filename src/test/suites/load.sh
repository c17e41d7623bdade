#!/usr/bin/env bash
#
# load.sh -- issue #8: a pgbench load against the simulator
#
# Six pgbench clients run for a bounded time (quick 10 s, ci 30 s, long
# 300 s; PGAPI_LOAD_SECONDS overrides) a weighted mix of the scripts in
# src/test/load/: point lookups, IN lists, fan-out over services,
# ORDER BY ... LIMIT, a local JOIN foreign JOIN foreign, a foreign JOIN
# foreign, pganalyze query stats and issues, and statements that
# statement_timeout cancels while the simulator delays or trickles the
# answer.  The simulator answers a random few percent of the requests with
# 429 (Retry-After, X-RateLimit-Reset) or 500/502/503/504, and refuses with
# its own 429 above a limit half as high again as the client's.
#
# Every statement goes through load_run() (src/test/load/setup.sql), which
# records it with its outcome; an expected error (57014 for the cancels,
# HV000, HV00N) is counted, anything else aborts the pgbench client and
# fails the suite.  Checks:
#   - pgbench ran every kind and no client aborted;
#   - the cancels happened, and promptly;
#   - the injected 429s and 5xx were sent;
#   - at the simulator, no key saw more requests in any window of
#     rate_window_ms than its requests_per_window (the cluster preloads the
#     library, so the bucket is shared), and the simulator's own limit never
#     refused a request;
#   - memory flat: neither VmRSS nor RssAnon (the private part of it) of
#     any pgbench backend grew by PGAPI_LOAD_RSS_BOUND_KB (10 MB) between
#     the warm-up (quick 4 s, ci 10 s, long 60 s) and the end;
#   - no crash in the server log, no backend left 5 s after pgbench ends,
#     SELECT 1 works, no secret in any error.
# Knobs for proving the checks (defaults in brackets): PGAPI_LOAD_RATE
# [20] requests per PGAPI_LOAD_WINDOW_MS [1000] for every key,
# PGAPI_LOAD_CLIENT_RATE (the servers' requests_per_window; default the
# same), PGAPI_LOAD_CLIENTS [6].  The last line is `N passed, N failed`.
#
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../load" && pwd)
mode=${PGAPI_TEST_MODE:-ci}
case "$mode" in
	quick) duration=10 warmup=4 ;;
	long) duration=300 warmup=60 ;;
	*) duration=30 warmup=10 ;;
esac
duration=${PGAPI_LOAD_SECONDS:-$duration}
if [ -n "${PGAPI_LOAD_SECONDS:-}" ]; then
	warmup=$((duration / 3))
fi
clients=${PGAPI_LOAD_CLIENTS:-6}
rate_n=${PGAPI_LOAD_RATE:-20}
rate_ms=${PGAPI_LOAD_WINDOW_MS:-1000}
client_rate=${PGAPI_LOAD_CLIENT_RATE:-$rate_n}
sim_rate=$((rate_n * 3 / 2))
timeout_ms=100
cancel_slack_ms=1000
rss_bound_kb=${PGAPI_LOAD_RSS_BOUND_KB:-10240}
db=pgapi_load

passed=0
failed=0
work=$(mktemp -d)
sampler_pid=""
pgbench_pid=""

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup_load()
{
	if [ -n "$sampler_pid" ]; then
		kill "$sampler_pid" 2>/dev/null || true
		wait "$sampler_pid" 2>/dev/null || true
	fi
	if [ -n "$pgbench_pid" ]; then
		kill "$pgbench_pid" 2>/dev/null || true
		wait "$pgbench_pid" 2>/dev/null || true
	fi
	sim_post faults/clear '{}' >/dev/null 2>&1 || true
	sim_post config '{"rate_limit": null}' >/dev/null 2>&1 || true
	dropdb --if-exists --force "$db" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup_load EXIT

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

sim_post()
{
	curl -sS -f -X POST -H 'Content-Type: application/json' \
		--data-binary "$2" "$PGAPI_SIM_URL/__mock/$1"
}

sql()
{
	psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"
}

# sqlval QUERY: one value, or "?" when the query fails (after a crash, say)
sqlval()
{
	local v

	v=$(sql -F ' ' -c "$1" 2>/dev/null) || v="?"
	echo "${v:-?}"
}

# is_int VALUE...: all whole numbers
is_int()
{
	local v

	for v in "$@"; do
		[[ "$v" =~ ^-?[0-9]+$ ]] || return 1
	done
}

# fault NAME JSON: register a fault; $work/faults maps its id to NAME
fault()
{
	local id

	id=$(sim_post fault "$2" | sed -n 's/.*"id": *\([0-9]*\).*/\1/p')
	if [ -z "$id" ]; then
		not_ok "register the fault $1"
		finish
	fi
	echo "$id $1" >>"$work/faults"
}

finish()
{
	echo "$passed passed, $failed failed"
	if [ "$failed" -gt 0 ]; then
		exit 1
	fi
	exit 0
}

# ---- the simulator: its default data ----

sim_post reset '{}' >/dev/null

# ---- the database ----

dropdb --if-exists --force "$db" >/dev/null 2>&1 || true
createdb "$db"
if ! psql -X -q -d "$db" -v ON_ERROR_STOP=1 -v sim_url="$PGAPI_SIM_URL" \
	-v pga_url="$PGAPI_SIM_GRAPHQL_URL" -v rate_n="$client_rate" \
	-v rate_ms="$rate_ms" -f "$here/setup.sql" >"$work/setup.out" 2>&1; then
	cat "$work/setup.out"
	not_ok "set up the load database"
	finish
fi

# Each statement's rows without faults or load, before either starts.
if ! sql >"$work/expected.out" 2>&1 <<'SQL'; then
INSERT INTO load_expected
SELECT q.kind, i.id, load_run(q.kind, i.id)
FROM load_queries q LEFT JOIN load_ids i ON q.kind IN ('point', 'top_n')
WHERE (q.kind NOT IN ('point', 'top_n') OR i.id IS NOT NULL);
TRUNCATE load_log;
SQL
	cat "$work/expected.out"
	not_ok "run each statement once before the load"
	finish
fi

# ---- the simulator: its own limit, the injected faults ----

sim_post config "{\"rate_limit\": {\"requests\": $sim_rate, \"window_ms\": $rate_ms, \"scope\": \"key\"}}" >/dev/null

# Reads of load-key and load-pga: 429 with both wait headers, and the 5xx
# that N5 retries.  Each fault fires with probability p on the requests
# that reach it, so about 9% of the requests are refused.
inject()
{
	local who=$1 match=$2

	fault "$who 429" "{\"match\": $match, \"times\": -1, \"p\": 0.03, \"action\": {\"status\": 429, \"headers\": {\"Retry-After\": \"1\", \"X-RateLimit-Reset\": \"0.5\"}}}"
	fault "$who 500" "{\"match\": $match, \"times\": -1, \"p\": 0.015, \"action\": {\"status\": 500}}"
	fault "$who 502" "{\"match\": $match, \"times\": -1, \"p\": 0.015, \"action\": {\"status\": 502}}"
	fault "$who 503" "{\"match\": $match, \"times\": -1, \"p\": 0.015, \"action\": {\"status\": 503, \"headers\": {\"Retry-After\": \"0\"}}}"
	fault "$who 504" "{\"match\": $match, \"times\": -1, \"p\": 0.015, \"action\": {\"status\": 504}}"
}
# The second service's configuration fails half the time: a fan-out whose
# four attempts all fail ends in HV000 while its other requests are in
# flight (about one fan-out in sixteen).
fault "load-key 503 config" '{"match": {"auth_user": "load-key", "path": "/0c330583-6396-86d0-82cd-ed0f23b0d38c/config$"}, "times": -1, "p": 0.5, "action": {"status": 503}}'
inject load-key '{"auth_user": "load-key"}'
inject load-pga '{"api": "pganalyze"}'
# load-slow: 40% of the answers trickle (16 bytes per 20 ms), half the rest
# come after 400 ms; statement_timeout (100 ms) cancels those mid-transfer
fault "load-slow slow_body" '{"match": {"auth_user": "load-slow"}, "times": -1, "p": 0.4, "action": {"slow_body": {"chunk": 16, "interval_ms": 20, "total_ms": 3000}}}'
fault "load-slow delay" '{"match": {"auth_user": "load-slow"}, "times": -1, "p": 0.5, "action": {"delay_ms": 400}}'

# ---- the run ----

log_offset=$(stat -c %s "$PGAPI_SERVER_LOG")
seq0=$(curl -sS -f "$PGAPI_SIM_URL/__mock/seq" | sed -n 's/.*"seq": *\([0-9]*\).*/\1/p')
scripts=(
	-f "$here/point.sql@4" -f "$here/in_list.sql@2" -f "$here/fanout.sql@2"
	-f "$here/top_n.sql@2" -f "$here/local_join.sql@2"
	-f "$here/foreign_join.sql@2" -f "$here/pganalyze.sql@3"
	-f "$here/cancel.sql@3"
)
echo "# pgbench: $clients clients, 2 threads, $duration s; requests_per_window" \
	"$client_rate per $rate_ms ms, checked against $rate_n; the simulator refuses above $sim_rate"
pgbench -n -r -c "$clients" -j 2 -T "$duration" -D timeout_ms="$timeout_ms" \
	"${scripts[@]}" "$db" >"$work/pgbench.out" 2>&1 &
pgbench_pid=$!

# Sample every pgbench backend's memory once a second while pgbench runs:
# lines "seconds pid VmRSS VmHWM RssAnon RssShmem" (kB).
sample_memory()
{
	local start=$SECONDS pid f

	while kill -0 "$pgbench_pid" 2>/dev/null; do
		for pid in $(psql -X -At -d postgres -c "SELECT pid FROM pg_stat_activity WHERE datname = '$db' AND application_name = 'pgbench'" 2>/dev/null); do
			f=/proc/$pid/status
			[ -r "$f" ] || continue
			awk -v t=$((SECONDS - start)) -v pid="$pid" '
				/^VmRSS:/ { rss = $2 } /^VmHWM:/ { hwm = $2 }
				/^RssAnon:/ { anon = $2 } /^RssShmem:/ { shm = $2 }
				END { if (rss != "") print t, pid, rss, hwm, anon, shm }' "$f" 2>/dev/null || true
		done
		sleep 1
	done
}
sample_memory >"$work/memory" &
sampler_pid=$!

pgbench_status=0
wait "$pgbench_pid" || pgbench_status=$?
pgbench_pid=""
wait "$sampler_pid" || true
sampler_pid=""

# ---- after the run: no backend left, the server answers, the log is clean ----

left=""
for ((i = 0; i < 50; i++)); do
	left=$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'" || echo error)
	[ "$left" = 0 ] && break
	sleep 0.1
done
if [ "$left" = 0 ]; then
	ok "no backend of $db left $((i / 10)).$((i % 10)) s after pgbench ended"
else
	not_ok "backends of $db still there 5 s after pgbench ended: $left"
	psql -X -d postgres -c "SELECT pid, state, wait_event_type, wait_event, now() - query_start AS running, left(query, 60) AS query FROM pg_stat_activity WHERE datname = '$db'" || true
fi

if [ "$(sql -c 'SELECT 1' 2>&1)" = 1 ]; then
	ok "SELECT 1 works after the load"
else
	not_ok "SELECT 1 fails after the load"
fi

tail -c +$((log_offset + 1)) "$PGAPI_SERVER_LOG" >"$work/server.log"
crashes=$(grep -E 'terminated by signal|server process .* was terminated|PANIC|TRAP:|was terminated by exception' "$work/server.log" || true)
if [ -z "$crashes" ]; then
	ok "no crash in the server log ($(wc -l <"$work/server.log") lines during the run)"
else
	not_ok "the server log shows a crash:"
	echo "$crashes" | head -n 20
fi

# ---- pgbench's own figures ----

echo "# ---- pgbench ----"
awk '/^SQL script/ { name = $NF; sub(/.*\//, "", name); next }
	name == "" && /^(number of|latency|tps|initial)/ { print "# " $0 }
	name != "" && /^ - [0-9]+ transactions/ {
		sub(/^ - /, ""); printf "# %-17s %s\n", name ":", $0 }' "$work/pgbench.out"
xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.out")
xfailed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/pgbench.out")
tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$work/pgbench.out")
aborts=$(grep -E 'aborted|fatal|FATAL|server closed the connection' "$work/pgbench.out" || true)
if [ "$pgbench_status" -eq 0 ] && [ -z "$aborts" ] && [ "${xfailed:-x}" = 0 ] &&
	[ "${xacts:-0}" -gt 0 ]; then
	ok "pgbench: $xacts transactions, $tps tps, no client aborted, no failed transaction"
else
	not_ok "pgbench exited $pgbench_status, ${xacts:-?} transactions, ${xfailed:-?} failed, aborts:"
	echo "${aborts:-(none)}" | head -n 20
	if [ -z "$aborts" ]; then
		head -n 40 "$work/pgbench.out"
	fi
fi

# ---- the statements, as load_run() recorded them ----

echo "# ---- statements by kind: kind | statements | ok | errors | ms mean / max ----"
sql -F ' | ' <<'SQL' 2>&1 | sed 's/^/# /' || true
SELECT rpad(kind, 12), count(*) AS statements,
       count(*) FILTER (WHERE outcome = 'ok') AS ok,
       coalesce(string_agg(DISTINCT outcome, ',') FILTER (WHERE outcome <> 'ok'), '-') AS errors,
       round(avg(ms)::numeric, 1) || ' / ' || round(max(ms)::numeric, 1) AS ms
FROM load_log GROUP BY kind ORDER BY kind;
SQL
echo "# ---- errors by SQLSTATE: SQLSTATE | statements | kinds | distinct messages | one of them (DETAIL) ----"
sql -F ' | ' <<'SQL' 2>&1 | sed 's/^/# /' || true
SELECT outcome, count(*), string_agg(DISTINCT kind, ','), count(DISTINCT message),
       left((array_agg(message || coalesce(' (' || nullif(detail, '') || ')', '') ORDER BY at))[1], 150)
FROM load_log WHERE outcome <> 'ok' GROUP BY outcome ORDER BY outcome;
SQL

# every kind ran, and all but the cancels succeeded at least once
n=$(sqlval 'SELECT count(*) FROM load_log')
missing=$(sqlval "SELECT coalesce(string_agg(kind, ', '), 'none') FROM load_queries q WHERE NOT EXISTS (SELECT FROM load_log l WHERE l.kind = q.kind AND (l.outcome = 'ok' OR l.kind = 'cancel'))")
if [ "$missing" = none ] && is_int "$n" "${xacts:-x}" && [ "$n" -ge "$xacts" ]; then
	ok "$n statements recorded ($xacts transactions), every kind ran and all but the cancels succeeded at least once"
else
	not_ok "$n statements recorded for ${xacts:-?} transactions; kinds that never ran or succeeded: $missing"
fi

wrong=$(sqlval "SELECT coalesce(string_agg(format('%s(%s): %s rows, not %s', l.kind, l.arg, l.nrows, e.nrows), '; '), 'none') FROM load_log l JOIN load_expected e ON e.kind = l.kind AND e.arg IS NOT DISTINCT FROM l.arg WHERE l.outcome = 'ok' AND l.nrows <> e.nrows")
if [ "$wrong" = none ]; then
	ok "every statement that succeeded returned all its rows (as many as without faults)"
else
	not_ok "statements that succeeded with other row counts: ${wrong:0:400}"
fi

read -r cancels cancel_max late <<<"$(sqlval "SELECT count(*) FILTER (WHERE outcome = '57014'), coalesce(round(max(ms) FILTER (WHERE outcome = '57014')), 0), count(*) FILTER (WHERE outcome = 'late_57014') FROM load_log WHERE kind = 'cancel'")"
if is_int "$cancels" "$cancel_max" && [ "$cancels" -gt 0 ] &&
	[ "$cancel_max" -le $((timeout_ms + cancel_slack_ms)) ]; then
	ok "$cancels statements cancelled by statement_timeout ($timeout_ms ms) mid-request, the slowest after $cancel_max ms (and $late after their rows)"
else
	not_ok "$cancels statements cancelled by statement_timeout ($timeout_ms ms), the slowest after ${cancel_max:-?} ms (bound $((timeout_ms + cancel_slack_ms)) ms)"
fi

canary=$(sqlval "SELECT count(*) FROM load_log WHERE message LIKE '%CANARY-KEY%' OR detail LIKE '%CANARY-KEY%'")
canary_log=$(grep -c 'CANARY-KEY' "$work/server.log" || true)
if [ "$canary" = 0 ] && [ "$canary_log" = 0 ]; then
	ok "no secret in any error or in the server log"
else
	not_ok "the secret appears in $canary errors and $canary_log server log lines"
fi

# ---- at the simulator: injected faults, requests per window ----

echo "# ---- simulator ----"
/usr/bin/python3 "$here/journal.py" "$PGAPI_SIM_URL" "$seq0" "$rate_n" "$rate_ms" \
	"$work/faults" >"$work/journal.out" 2>&1 || echo "not ok - journal.py failed" >>"$work/journal.out"
cat "$work/journal.out"
passed=$((passed + $(grep -c '^ok ' "$work/journal.out" || true)))
failed=$((failed + $(grep -c '^not ok ' "$work/journal.out" || true)))
injected_429=$(awk '/^# injected: .* 429 /{ n += $NF } END { print n + 0 }' "$work/journal.out")
injected_5xx=$(awk '/^# injected: .* 50[0-4] /{ n += $NF } END { print n + 0 }' "$work/journal.out")
if [ "$injected_429" -gt 0 ] && [ "$injected_5xx" -gt 0 ]; then
	ok "the simulator injected $injected_429 429s and $injected_5xx 5xx"
else
	not_ok "the simulator injected $injected_429 429s and $injected_5xx 5xx (expected some of both)"
fi

# ---- memory: each backend from the warm-up to its last sample ----

echo "# ---- pgbench backends (kB): VmRSS first sample / warm-up -> end, RssAnon and RssShmem warm-up -> end, VmHWM at the end ----"
awk -v warm="$warmup" -v bound="$rss_bound_kb" -v dur="$duration" '
	!($2 in f) { f[$2] = $3 }
	$1 >= warm && !($2 in w) { w[$2] = $0; n++ }
	$1 >= warm { e[$2] = $0 }
	END {
		bad = 0; near = 0; max_rss = -1e9; max_anon = -1e9
		for (pid in w) {
			split(w[pid], a, " "); split(e[pid], b, " ")
			rss = b[3] - a[3]; anon = b[5] - a[5]
			if (rss > max_rss) max_rss = rss
			if (anon > max_anon) max_anon = anon
			if (rss >= bound || anon >= bound) bad++
			if (b[1] >= dur - 3) near++
			printf "# pid %s, %s..%s s: VmRSS %s / %s -> %s (%+d), RssAnon %s -> %s (%+d), RssShmem %s -> %s, VmHWM %s\n",
				pid, a[1], b[1], f[pid], a[3], b[3], rss, a[5], b[5], anon, a[6], b[6], b[4]
		}
		if (n == 0 || near == 0)
			printf "not ok - memory: no samples of pgbench backends from the %d s warm-up to the end\n", warm
		else if (bad > 0)
			printf "not ok - memory: %d of %d backends grew by %d kB or more after the %d s warm-up (VmRSS up to %+d kB, RssAnon up to %+d kB)\n", bad, n, bound, warm, max_rss, max_anon
		else
			printf "ok - memory flat: %d backends after the %d s warm-up, VmRSS at most %+d kB, RssAnon at most %+d kB (bound %d kB)\n", n, warm, max_rss, max_anon, bound
	}' "$work/memory" >"$work/memory.out"
cat "$work/memory.out"
passed=$((passed + $(grep -c '^ok ' "$work/memory.out" || true)))
failed=$((failed + $(grep -c '^not ok ' "$work/memory.out" || true)))

finish
