#!/usr/bin/env bash
#
# secrets.sh -- the no-secret-anywhere sweep (RELIABILITY C3, C4, C14)
#
# Runs after pg_regress, whose tests use the canary secret CANARY-KEY-7f3a
# in user mappings, make it travel in requests, print plans with
# debug_print_plan, and provoke errors in which the API echoes it.  Then:
#
# 1. debug5: every REGRESS test but cron runs again, in a database of its
#    own, with log_min_messages and client_min_messages at debug5 and psql's
#    VERBOSITY verbose (so DETAIL, HINT, CONTEXT and every DEBUG message
#    reach psql's output), followed by statements of our own: EXPLAIN
#    (ANALYZE, VERBOSE) of a scan, a join and a write, a CREATE USER MAPPING
#    carrying the canary that the validator rejects (C14), the canary on a
#    server (C1).  psql's output is kept.
# 2. pg_stat_activity: a scan held in flight by the simulator; its row and
#    its process title are kept.
# 3. pg_stat_statements (preloaded by scripts/common.sh): the only
#    statements whose text holds the canary are CREATE/ALTER USER MAPPING,
#    which PostgreSQL records as they are typed (DESIGN.md, README), and
#    not the one made the README's way (track = none, with
#    log_min_error_statement = panic keeping a failing one out of the log).
# 4. The server log, psql's output, the pg_stat_activity capture and the
#    simulator's journal must not contain the canary, neither in clear nor
#    in base64 (as in a Basic authorization header).
#
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."

canary='CANARY-KEY-7f3a'
b64_full=$(printf '%s' "test-key:$canary" | base64)
b64_secret=$(printf '%s' "$canary" | base64)
db=pgapi_secrets_$$
work=$(mktemp -d)
passed=0
failed=0
trap 'rm -rf "$work"; dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT

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

# check WHAT FILE: none of the three forms of the canary in FILE
check()
{
	local what=$1 file=$2 form pattern hit=0

	if [ -z "$file" ] || [ ! -f "$file" ]; then
		not_ok "$what: file not found"
		return
	fi
	for form in plain base64-key:secret base64-secret; do
		case $form in
			plain) pattern=$canary ;;
			base64-key:secret) pattern=$b64_full ;;
			*) pattern=$b64_secret ;;
		esac
		if grep -qF -- "$pattern" "$file"; then
			not_ok "$what: the canary ($form) is in $(basename "$file")"
			grep -nF -- "$pattern" "$file" | head -3 | cut -c1-300
			hit=1
		fi
	done
	if [ "$hit" -eq 0 ]; then
		ok "$what: no canary, plain or base64 ($(wc -l <"$file") lines searched)"
	fi
}

q()
{
	psql -X -At -v ON_ERROR_STOP=1 -d "$db" "$@"
}

sim_post()
{
	curl -sS -X POST -H 'Content-Type: application/json' \
		--data-binary "$2" "$PGAPI_SIM_URL/__mock/$1" >/dev/null
}

# ---- 1. the regression tests again, at debug5

replay()
{
	local out="$work/psql-debug5.out" t tests status=0 mark seen ran=0

	tests=$(sed -n 's/^REGRESS[[:space:]]*=[[:space:]]*//p' Makefile)
	createdb "$db"
	mark=$(curl -sS "$PGAPI_SIM_URL/__mock/seq" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["seq"])')
	: >"$out"
	for t in $tests; do
		# cron waits a minute for pg_cron, in pg_cron's own database
		[ "$t" = cron ] && continue
		ran=$((ran + 1))
		echo "=== $t" >>"$out"
		PGOPTIONS="-c client_min_messages=debug5 -c log_min_messages=debug5" \
			psql -X -d "$db" -v VERBOSITY=verbose -v SHOW_CONTEXT=always \
			-f "sql/$t.sql" >>"$out" 2>&1 || status=$?
	done
	cat >"$work/own.sql" <<EOF
\\set VERBOSITY verbose
\\set SHOW_CONTEXT always
\\set canary '$canary'
SET debug_print_plan = on;
EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM ch.postgres_services;
EXPLAIN (ANALYZE, VERBOSE)
  SELECT s.name, p.query_id FROM ch.postgres_services s
  JOIN ch.slow_query_patterns p ON p.service_id = s.id
  WHERE p.from_date = now() - interval '1 day' LIMIT 5;
EXPLAIN (ANALYZE, VERBOSE)
  UPDATE ch.services_rw SET tags = '[]' WHERE id = 'no-such-service';
-- C14: rejected by the validator, so the statement text is not logged
CREATE SERVER ch_c14 FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url '$PGAPI_SIM_URL');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch_c14
  OPTIONS (key_id 'test-key', key_secret :'canary', no_such_option 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch_c14
  OPTIONS (key_id 'test-key', key_secret :'canary', url 'http://127.0.0.1:1');
-- C1: a secret is refused anywhere but on a user mapping
CREATE SERVER ch_c1 FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', key_secret :'canary');
ALTER SERVER ch_c14 OPTIONS (ADD api_key :'canary');
DROP SERVER ch_c14;
-- the README's recipe keeps a key out of the log and pg_stat_statements,
-- even when PostgreSQL's own error (the mapping exists) would log the text
CREATE SERVER ch_recipe FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url '$PGAPI_SIM_URL');
SET log_min_error_statement = panic;
SET pg_stat_statements.track = none;
CREATE USER MAPPING FOR CURRENT_USER SERVER ch_recipe
  OPTIONS (key_id 'test-key', key_secret :'canary');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch_recipe
  OPTIONS (key_id 'test-key', key_secret :'canary');
RESET pg_stat_statements.track;
RESET log_min_error_statement;
DROP SERVER ch_recipe CASCADE;
EOF
	echo "=== own statements" >>"$out"
	PGOPTIONS="-c client_min_messages=debug5 -c log_min_messages=debug5" \
		psql -X -d "$db" -f "$work/own.sql" >>"$out" 2>&1 || status=$?
	if [ "$status" -eq 0 ]; then
		ok "debug5 replay: every file ran ($ran tests, and our own statements)"
	else
		not_ok "debug5 replay: psql exited with status $status"
	fi

	# the replay must really have run at debug5 and used the canary
	# psql -f prefixes messages with "psql:FILE:LINE: "
	if grep -q 'DEBUG:  ' "$out"; then
		ok "debug5 replay: psql received DEBUG messages ($(grep -c 'DEBUG:  ' "$out"))"
	else
		not_ok "debug5 replay: no DEBUG message reached psql"
	fi
	if grep -q 'API Request: ' "$out" && grep -q 'ERROR:  ' "$out" &&
		grep -q 'DETAIL:  ' "$out"; then
		ok "debug5 replay: psql's output has EXPLAIN output ($(grep -c 'API Request: ' "$out") API Request lines) and errors ($(grep -c 'ERROR:  ' "$out"))"
	else
		not_ok "debug5 replay: EXPLAIN output or error messages missing from psql's output"
	fi
	seen=$(curl -sS "$PGAPI_SIM_URL/__mock/journal?since=$mark" |
		python3 -c 'import json, sys; d = json.load(sys.stdin); e = d["entries"] if isinstance(d, dict) else d; print(sum(1 for x in e if x.get("auth_sha256")))')
	if [ "$seen" -gt 0 ]; then
		ok "debug5 replay: the simulator saw $seen authenticated requests"
	else
		not_ok "debug5 replay: the simulator saw no authenticated request"
	fi
}

# ---- 2. pg_stat_activity of a scan in flight

activity()
{
	local out="$work/activity.out" pid="" row="" i bg

	sim_post fault '{"match": {"path": "/postgres$", "auth_user": "test-key"},
		"action": {"delay_ms": 3000}, "times": 1}'
	PGAPPNAME=pgapi_secrets_scan psql -X -d "$db" \
		-c 'SELECT count(*) FROM ch.postgres_services' >"$work/scan.out" 2>&1 &
	bg=$!
	for ((i = 0; i < 50; i++)); do
		row=$(q -c "SELECT pid || ' ' || row_to_json(a)::text FROM pg_stat_activity a
			WHERE application_name = 'pgapi_secrets_scan' AND state = 'active'
			  AND wait_event_type = 'Extension'" || true)
		[ -n "$row" ] && break
		sleep 0.1
	done
	pid=${row%% *}
	{
		echo "$row"
		if [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ]; then
			tr '\0' ' ' <"/proc/$pid/cmdline"
			echo
		fi
	} >"$out"
	wait "$bg" || true
	sim_post faults/clear '{}'
	if [ -n "$row" ] && grep -q 'ch.postgres_services' "$out"; then
		ok "pg_stat_activity: caught the scan in flight (wait event Extension)"
		check "pg_stat_activity row and process title of a running scan" "$out"
	else
		not_ok "pg_stat_activity: the scan was not seen in flight"
		cat "$work/scan.out"
	fi
}

# ---- 3. pg_stat_statements

statements()
{
	local total dealloc out="$work/pgss.out" mapping

	if ! q -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null 2>&1 ||
		! total=$(q -c 'SELECT count(*) FROM pg_stat_statements' 2>/dev/null); then
		not_ok "pg_stat_statements is not loaded (shared_preload_libraries: $(q -c 'SHOW shared_preload_libraries'))"
		return
	fi
	dealloc=$(q -c 'SELECT dealloc FROM pg_stat_statements_info')
	if [ "$dealloc" -eq 0 ]; then
		ok "pg_stat_statements kept every statement ($total entries, none evicted)"
	else
		not_ok "pg_stat_statements evicted entries $dealloc times: the sweep may miss some"
	fi
	# Every text with the canary, -- comments removed, white space folded,
	# classified by how it starts.  A SELECT's constants are recorded as
	# $n, so this query does not record the canary itself.
	q -F $'\t' -c "SELECT CASE WHEN t ~* '^ ?(CREATE|ALTER) USER MAPPING ' THEN 'mapping'
			ELSE 'other' END, left(t, 300)
		FROM (SELECT regexp_replace(regexp_replace(query, '--[^\n]*', '', 'g'),
		                            '\s+', ' ', 'g') AS t
		      FROM pg_stat_statements
		      WHERE strpos(query, '$canary') > 0 OR strpos(query, '$b64_full') > 0
		         OR strpos(query, '$b64_secret') > 0) AS s" >"$out"
	mapping=$(grep -c '^mapping' "$out" || true)
	if [ "$mapping" -gt 0 ]; then
		ok "pg_stat_statements: $mapping CREATE/ALTER USER MAPPING texts hold the canary (recorded as typed, by design)"
	else
		not_ok "pg_stat_statements: no CREATE/ALTER USER MAPPING text holds the canary; the sweep saw nothing"
	fi
	if grep -q '^mapping.*SERVER ch_recipe ' "$out"; then
		not_ok "pg_stat_statements: the mapping made the README's way was recorded"
	elif grep -q 'CREATE USER MAPPING .*ch_recipe' "$work/psql-debug5.out" ||
		! grep -q 'already exists for server "ch_recipe"' "$work/psql-debug5.out"; then
		not_ok "pg_stat_statements: the README's recipe did not run as written"
	else
		ok "pg_stat_statements: the mapping made the README's way is not recorded"
	fi
	if ! grep -q '^other' "$out"; then
		ok "pg_stat_statements: no other statement text holds the canary"
	else
		not_ok "pg_stat_statements: other statement texts hold the canary:"
		grep '^other' "$out" | cut -f2 | sed 's/^/    /'
	fi
}

# ---- 4. nothing anywhere

if [ -n "${PGAPI_SIM_JOURNAL:-}" ] && grep -q '"auth_sha256"' "$PGAPI_SIM_JOURNAL"; then
	ok "the simulator saw authenticated requests"
else
	not_ok "the simulator saw no authenticated request"
fi

replay
activity
statements

check "server log (at debug5 for the replay)" "${PGAPI_SERVER_LOG:-}"
check "psql output at debug5: results, EXPLAIN, errors with DETAIL/HINT/CONTEXT" "$work/psql-debug5.out"
check "simulator journal" "${PGAPI_SIM_JOURNAL:-}"
if [ -n "${PGAPI_SERVER_LOG:-}" ] && grep -q 'PLANNEDSTMT\|:planTree' "$PGAPI_SERVER_LOG"; then
	ok "plans were printed to the log (debug_print_plan) and searched"
else
	not_ok "no plan was printed to the log; the plan check did not run"
fi
if [ -n "${PGAPI_SERVER_LOG:-}" ] && grep -q 'DEBUG:  ' "$PGAPI_SERVER_LOG"; then
	ok "the server log has the replay's DEBUG messages ($(grep -c 'DEBUG:  ' "$PGAPI_SERVER_LOG")) and was searched"
else
	not_ok "no DEBUG message in the server log; the debug5 check did not run"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
