#!/usr/bin/env bash
#
# instructions.sh -- instruction counts of the bulk scan (issue 9); not a test
#
# Usage: bash bench/instructions.sh
#
# Wall times on a shared machine move by 2x between runs; instruction counts
# do not.  This builds and installs pgapi_fdw, starts the simulator with the
# 100,000-pattern dataset of bench/run.sh and a throwaway cluster, creates
# the same foreign table, stops the cluster and runs each query once in a
# single-user backend under valgrind's callgrind, counting the instructions
# executed inside ExecutorRun:
#   every column   SELECT sum(length(t::text)) FROM ch.slow_query_patterns t ...
#   count(*)       SELECT count(*) FROM ch.slow_query_patterns ...
# each with pgapi_fdw.tape_parser on and off when the build has that
# setting.  Printed per query: all instructions, and those spent in
# pgapi_fdw's IterateForeignScan (fetching, parsing, converting; the rest
# is PostgreSQL's own work on the rows, e.g. record_out).  About 4 minutes.
#
# Environment knobs:
#   PGAPI_BENCH_DESTDIR  as in bench/run.sh: install into a private copy of
#                        the PostgreSQL tree under this directory
#   PGAPI_BENCH_KEEP     directory to keep the callgrind output files in

set -euo pipefail

if [ -n "${PGAPI_BENCH_DESTDIR:-}" ]; then
	export PGAPI_PG_PREFIX=$PGAPI_BENCH_DESTDIR
fi
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
KEEP=${PGAPI_BENCH_KEEP:-}

command -v valgrind >/dev/null || die "valgrind is not installed"
command -v callgrind_annotate >/dev/null || die "callgrind_annotate is not installed"

setup_cleanup_trap
make_tmp
build_and_install >/dev/null
start_simulator
start_cluster

FROM_SQL=$(date -u -d '-2 days' '+%Y-%m-%dT%H:00:00Z')
TO_SQL=$(date -u -d '+1 day' '+%Y-%m-%dT%H:00:00Z')

log "simulator dataset: 1 service x 100000 patterns"
curl -sS -f -X POST -H 'Content-Type: application/json' \
	--data-binary '{"latency_ms": 0, "dataset": {"services": 1, "patterns_per_service": 100000}}' \
	"$PGAPI_SIM_URL/__mock/config" >/dev/null
for ((i = 0; i < 3000; i++)); do
	if curl -sS "$PGAPI_SIM_URL/__mock/status" | grep -q '"warm": *true'; then
		break
	fi
	sleep 0.2
done
ORG=$(curl -sS -u bench-key:bench-secret "$PGAPI_SIM_URL/v1/organizations" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["result"][0]["id"])')
SVC=$(curl -sS -u bench-key:bench-secret "$PGAPI_SIM_URL/v1/organizations/$ORG/postgres" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["result"][0]["id"])')

psql -X -q -v ON_ERROR_STOP=1 -v url="$PGAPI_SIM_URL" -v org="$ORG" <<'SQL' >/dev/null
CREATE EXTENSION pgapi_fdw;
CREATE SERVER ch FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url :'url', organization_id :'org',
           requests_per_window '1000000', max_pages '100000', max_concurrency '4');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch
  OPTIONS (key_id 'bench-key', key_secret 'bench-secret');
CREATE SCHEMA ch;
IMPORT FOREIGN SCHEMA clickhouse_cloud LIMIT TO (slow_query_patterns)
  FROM SERVER ch INTO ch;
SQL
WHERE="service_id = '$SVC' AND from_date = '$FROM_SQL' AND to_date = '$TO_SQL'"
n=$(psql -X -At -c "SELECT count(*) FROM ch.slow_query_patterns WHERE $WHERE")
[ "$n" = 100000 ] || die "counted $n rows, not 100000"
settings=(default)
if [ "$(psql -X -At -c "SELECT count(*) FROM pg_settings WHERE name = 'pgapi_fdw.tape_parser'")" = 1 ]; then
	settings=(on off)
fi

# single-user mode needs the data directory to itself
data=$PGAPI_PGDATA
as_pg_user "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w stop >/dev/null
mkdir -p "$PGAPI_TMP/cg"
chmod 777 "$PGAPI_TMP/cg"

# count SETTING NAME SQL: callgrind totals of SQL in a single-user backend
count()
{
	local out="$PGAPI_TMP/cg/$2.$1" set="" all fdw

	if [ "$1" != default ]; then
		set="SET pgapi_fdw.tape_parser = $1;"
	fi
	printf '%s\n%s\n' "$set" "$3" |
		as_pg_user valgrind --tool=callgrind --callgrind-out-file="$out" \
			--collect-atstart=no --toggle-collect=standard_ExecutorRun \
			"$PG_BINDIR/postgres" --single -D "$data" \
			-c shared_preload_libraries=pgapi_fdw -c log_min_messages=warning \
			postgres >"$out.log" 2>&1 ||
		{
			tail -n 20 "$out.log" >&2
			die "the single-user backend failed"
		}
	all=$(callgrind_annotate "$out" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
	fdw=$(callgrind_annotate --inclusive=yes "$out" |
		awk '/pgapiIterateForeignScan/ && !done { gsub(",", "", $1); print $1; done = 1 }')
	printf '%-14s %-8s %14s %14s %10s\n' "$2" "$1" "$all" "${fdw:-0}" \
		"$(awk "BEGIN{printf \"%.0f\", ${fdw:-0} / 100000}")"
	if [ -n "$KEEP" ]; then
		cp "$out" "$KEEP/callgrind.$2.$1"
	fi
}

log "callgrind: 100,000 rows per query, one single-user backend each"
echo
printf '%-14s %-8s %14s %14s %10s\n' query tape_parser all "in the FDW" "FDW/row"
for s in "${settings[@]}"; do
	count "$s" every-column "SELECT sum(length(t::text)) FROM ch.slow_query_patterns t WHERE $WHERE;"
	count "$s" "count(*)" "SELECT count(*) FROM ch.slow_query_patterns WHERE $WHERE;"
done
