#!/usr/bin/env bash
#
# run.sh -- the pgapi_fdw benchmark (issue 9); not a test
#
# Usage: bash bench/run.sh
#
# Installs missing packages, builds and installs pgapi_fdw and the `http`
# extension (pramsey/pgsql-http, from ../shared/vendor/ beside the checkout),
# builds the C floor (bench/floor.c), starts the API simulator with
# pre-rendered datasets and a throwaway cluster, then measures side by side
# in the same run and prints one table of figures, ratios and the targets of
# issue 9 with PASS/FAIL.
#
# Environment knobs:
#   PGAPI_BENCH_DESTDIR  install pgapi_fdw and http with DESTDIR=<dir> and run
#                        the cluster from <dir>/usr/lib/postgresql/15/bin (a
#                        private relocatable copy of the PostgreSQL tree)
#                        instead of the system install
#   PGAPI_BENCH_RUNS     repetitions of each timed query; the best counts (3)
#   PGAPI_BENCH_VENDOR   directory holding pgsql-http-ee52345.tar.gz
#                        (default: ../shared/vendor beside the checkout)

set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

BENCH_DIR="$PGAPI_REPO/bench"
RUNS=${PGAPI_BENCH_RUNS:-3}
VENDOR=${PGAPI_BENCH_VENDOR:-$PGAPI_REPO/../shared/vendor}
HTTP_TARBALL="$VENDOR/pgsql-http-ee52345.tar.gz"
DESTDIR_OPT=${PGAPI_BENCH_DESTDIR:-}

if [ -n "$DESTDIR_OPT" ]; then
	PG_BINDIR="$DESTDIR_OPT/usr/lib/postgresql/$PG_MAJOR/bin"
	export PATH="$PG_BINDIR:$PATH"
fi

# --- set-up -----------------------------------------------------------------

# install_into: make install of the tree in $1, into the system PostgreSQL
# or into PGAPI_BENCH_DESTDIR.
install_into()
{
	if [ -n "$DESTDIR_OPT" ]; then
		make -C "$1" install PG_CONFIG="$PG_CONFIG" DESTDIR="$DESTDIR_OPT" >/dev/null
	else
		"${SUDO[@]}" make -C "$1" install PG_CONFIG="$PG_CONFIG" >/dev/null
	fi
}

build_pgapi()
{
	local jobs=${PGAPI_JOBS:-$(nproc 2>/dev/null || echo 2)}

	if [ -z "$DESTDIR_OPT" ]; then
		build_and_install
		return
	fi
	log "building pgapi_fdw (install into $DESTDIR_OPT)"
	(cd "$PGAPI_REPO" &&
		PG_CFLAGS="-Werror ${PG_CFLAGS:-}" make -j"$jobs" PG_CONFIG="$PG_CONFIG" >/dev/null)
	install_into "$PGAPI_REPO"
}

# build_http: the `http` extension from the vendored tarball, built in the
# temp dir (its code is never copied into the checkout).
build_http()
{
	[ -f "$HTTP_TARBALL" ] || die "not found: $HTTP_TARBALL (set PGAPI_BENCH_VENDOR)"
	log "building the http extension (pgsql-http ee52345)"
	mkdir -p "$PGAPI_TMP/build"
	tar xzf "$HTTP_TARBALL" -C "$PGAPI_TMP/build"
	make -C "$PGAPI_TMP/build/pgsql-http" PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1 ||
		die "building pgsql-http failed"
	install_into "$PGAPI_TMP/build/pgsql-http"
}

build_floor()
{
	log "building the C floor (bench/floor.c)"
	# shellcheck disable=SC2046
	gcc -O2 -Wall -Werror -o "$PGAPI_TMP/floor" "$BENCH_DIR/floor.c" \
		$(pkg-config --cflags --libs json-c) $(curl-config --libs)
}

# --- simulator --------------------------------------------------------------

sim_config()
{
	curl -sS -f -X POST -H 'Content-Type: application/json' \
		--data-binary "$1" "$PGAPI_SIM_URL/__mock/config" >/dev/null
}

# sim_dataset SERVICES PATTERNS: load a generated dataset and wait until the
# simulator has pre-rendered its pages.
sim_dataset()
{
	local i

	log "simulator dataset: $1 services x $2 patterns"
	sim_config "{\"latency_ms\": 0, \"dataset\": {\"services\": $1, \"patterns_per_service\": $2}}"
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
	PATH_Q="/v1/organizations/$ORG/postgres/$SVC/slowQueryPatterns?from_date=$FROM_Q&to_date=$TO_Q"
	# First request of a window sorts the candidate list; do it outside
	# every measurement.
	curl -sS -u bench-key:bench-secret "$PGAPI_SIM_URL$PATH_Q&limit=1" >/dev/null
}

journal_count()
{
	wc -l <"$PGAPI_SIM_JOURNAL"
}

# --- measurement helpers ----------------------------------------------------

# psql_run SQL: run SQL (psql variables svc, from, to, base, path set) in one
# session; prints psql's output.
psql_run()
{
	psql -X -q -At -v ON_ERROR_STOP=1 -v svc="$SVC" -v from="$FROM_SQL" \
		-v to="$TO_SQL" -v base="$PGAPI_SIM_URL" -v path="$PATH_Q" -f - <<<"$1"
}

# time_ms SQL: best of RUNS executions of SQL, in ms (psql's \timing of the
# statement alone, each run in a new session after a warm-up statement).
time_ms()
{
	local best="" r t

	for ((r = 0; r < RUNS; r++)); do
		t=$(psql_run "$WARMUP
\\timing on
$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
		[ -n "$t" ] || die "no timing for: $1"
		if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then
			best=$t
		fi
	done
	echo "$best"
}

# requests SQL: number of API requests SQL makes (journal lines).
requests()
{
	local before after

	before=$(journal_count)
	psql_run "$1" >/dev/null
	after=$(journal_count)
	echo $((after - before))
}

temp_bytes()
{
	psql -X -At -c "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()"
}

# mem SQL: "peak_growth_kB temp_bytes" of SQL in a fresh backend; growth is
# VmHWM after SQL minus VmHWM after a warm-up that loaded the libraries.
mem()
{
	local out t0 t1

	t0=$(temp_bytes)
	out=$(psql_run "$WARMUP
SELECT bench_hwm() AS hwm0 \\gset
$1
\\o
SELECT bench_hwm() - :hwm0;")
	sleep 1.2	# cumulative stats are flushed at most once a second
	psql -X -q -c "SELECT pg_stat_force_next_flush()" >/dev/null
	t1=$(temp_bytes)
	echo "$(echo "$out" | tail -n 1) $((t1 - t0))"
}

rate()
{
	awk "BEGIN{printf \"%.0f\", $1 / ($2 / 1000.0)}"
}

ratio()
{
	awk "BEGIN{printf \"%.2f\", $1 / $2}"
}

verdict()
{
	if awk "BEGIN{exit !($1)}"; then echo PASS; else echo FAIL; fi
}

ROWS_OUT=()
row()
{
	ROWS_OUT+=("$(printf '%-46s %14s %14s %10s  %-28s %s' "$@")")
}

# --- main -------------------------------------------------------------------

setup_cleanup_trap
ensure_packages
make_tmp
build_pgapi
build_http
build_floor
start_simulator
start_cluster

# One fixed window that holds every generated pattern (they are all seen in
# the 24 hours before the dataset is built): the same request for every
# run, so the simulator's sorted list is computed once.
FROM_SQL=$(date -u -d '-2 days' '+%Y-%m-%dT%H:00:00Z')
TO_SQL=$(date -u -d '+1 day' '+%Y-%m-%dT%H:00:00Z')
FROM_Q=$(date -u -d "$FROM_SQL" '+%Y-%m-%dT%H:%M:%S.000Z')
TO_Q=$(date -u -d "$TO_SQL" '+%Y-%m-%dT%H:%M:%S.000Z')
FDW_WHERE="service_id = :'svc' AND from_date = :'from' AND to_date = :'to'"

sim_dataset 1 100000
psql -X -q -v sim_url="$PGAPI_SIM_URL" -v org="$ORG" -f "$BENCH_DIR/setup.sql" >/dev/null
psql -X -q -c "ALTER SYSTEM SET work_mem = '4MB'" -c "SELECT pg_reload_conf()" >/dev/null

WARMUP="SELECT count(*) FROM ch.slow_query_patterns WHERE $FDW_WHERE AND db_name = 'none';
SELECT status FROM http_get(:'base' || '/__mock/status');
\\o /dev/null"

FDW_COUNT="SELECT count(*) FROM ch.slow_query_patterns WHERE $FDW_WHERE;"
FDW_ALL="SELECT sum(length(t::text)) FROM ch.slow_query_patterns t WHERE $FDW_WHERE;"
LOOP_COUNT="SELECT count(*) FROM http_patterns(:'base', :'path');"
LOOP_ALL="SELECT sum(length(t::text)) FROM http_patterns(:'base', :'path') t;"

# 1. bulk scan, 100,000 rows
log "bulk scan: 100,000 rows"
n=$(psql_run "$FDW_COUNT")
[ "$n" = 100000 ] || die "pgapi_fdw counted $n rows, not 100000"
n=$(psql_run "$LOOP_COUNT")
[ "$n" = 100000 ] || die "the http loop counted $n rows, not 100000"
t_fdw_count=$(time_ms "$FDW_COUNT")
t_fdw_all=$(time_ms "$FDW_ALL")
t_loop_count=$(time_ms "$LOOP_COUNT")
t_loop_all=$(time_ms "$LOOP_ALL")
t_floor=""
for ((r = 0; r < RUNS; r++)); do
	out=$("$PGAPI_TMP/floor" "$PGAPI_SIM_URL" "$PATH_Q" bench-key:bench-secret)
	[ "$(echo "$out" | cut -d' ' -f1)" = 100000 ] || die "floor: $out"
	t=$(echo "$out" | awk '{printf "%.3f", $2 * 1000}')
	if [ -z "$t_floor" ] || awk "BEGIN{exit !($t < $t_floor)}"; then
		t_floor=$t
	fi
done
req_fdw_bulk=$(requests "$FDW_COUNT")

# 2. memory, 10k and 100k rows (500k below, on a bigger dataset)
log "memory: 10k / 100k rows"
FDW_10K="SELECT sum(length(t::text)) FROM (SELECT t FROM ch.slow_query_patterns t WHERE $FDW_WHERE ORDER BY total_duration_us DESC LIMIT 10000) s;"
LOOP_10K="SELECT sum(length(t::text)) FROM http_patterns(:'base', :'path', 10000) t;"
read -r m_fdw_10k tb_fdw_10k <<<"$(mem "$FDW_10K")"
read -r m_loop_10k tb_loop_10k <<<"$(mem "$LOOP_10K")"
read -r m_fdw_100k tb_fdw_100k <<<"$(mem "$FDW_ALL")"
read -r m_loop_100k tb_loop_100k <<<"$(mem "$LOOP_ALL")"

# 4. the canonical report
log "canonical report"
FDW_TOP="SELECT query_id, total_duration_us FROM ch.slow_query_patterns WHERE $FDW_WHERE ORDER BY total_duration_us DESC LIMIT 10;"
LOOP_TOP="SELECT query_id, total_duration_us FROM http_patterns(:'base', :'path') ORDER BY total_duration_us DESC, query_id LIMIT 10;"
top_fdw=$(psql_run "$FDW_TOP")
top_loop=$(psql_run "$LOOP_TOP")
[ "$top_fdw" = "$top_loop" ] || die "the canonical report differs between pgapi_fdw and the loop"
t_top_fdw=$(time_ms "$FDW_TOP")
t_top_loop=$(time_ms "$LOOP_TOP")
req_top_fdw=$(requests "$FDW_TOP")
req_top_loop=$(requests "$LOOP_TOP")

# 5. repeated query inside the cache TTL
log "repeated query"
psql -X -q -c "ALTER SERVER ch OPTIONS (ADD cache_ttl_ms '60000')" >/dev/null
req_rep=$(requests "$FDW_TOP
$FDW_TOP")
req_rep2=$((req_rep - req_top_fdw))
# the cache keeps response bodies: off again, so that it does not count in
# the memory figures that follow
psql -X -q -c "ALTER SERVER ch OPTIONS (DROP cache_ttl_ms)" >/dev/null

# 3. fan-out over 20 services, 100 ms per request
log "fan-out: 20 services, 100 ms latency"
sim_dataset 20 1000
sim_config '{"latency_ms": 100}'
FAN="SELECT count(*) FROM ch.slow_query_patterns WHERE from_date = :'from' AND to_date = :'to';"
n=$(psql_run "$FAN")
[ "$n" = 20000 ] || die "fan-out counted $n rows, not 20000"
psql -X -q -c "ALTER SERVER ch OPTIONS (SET max_concurrency '4')" >/dev/null
t_fan4=$(time_ms "$FAN")
req_fan=$(requests "$FAN")
psql -X -q -c "ALTER SERVER ch OPTIONS (SET max_concurrency '1')" >/dev/null
t_fan1=$(time_ms "$FAN")
psql -X -q -c "ALTER SERVER ch OPTIONS (SET max_concurrency '4')" >/dev/null
sim_config '{"latency_ms": 0}'

# 2b. memory at 500k rows
log "memory: 500k rows"
sim_dataset 1 500000
read -r m_fdw_500k tb_fdw_500k <<<"$(mem "$FDW_ALL")"
read -r m_loop_500k tb_loop_500k <<<"$(mem "$LOOP_ALL")"

# --- the table --------------------------------------------------------------

r_fdw_count=$(rate 100000 "$t_fdw_count")
r_fdw_all=$(rate 100000 "$t_fdw_all")
r_loop_count=$(rate 100000 "$t_loop_count")
r_loop_all=$(rate 100000 "$t_loop_all")
r_floor=$(rate 100000 "$t_floor")
vs_loop=$(ratio "$r_fdw_all" "$r_loop_all")
vs_floor=$(ratio "$r_fdw_all" "$r_floor")
fan=$(ratio "$t_fan4" "$t_fan1")
top_speedup=$(ratio "$t_top_loop" "$t_top_fdw")
mib()
{
	awk "BEGIN{printf \"%.1f MiB\", $1 / 1024}"
}

row "measure" "pgapi_fdw" "baseline" "ratio" "target" "verdict"
row "bulk 100k rows/s, count(*)" "$r_fdw_count" "$r_loop_count" "$(ratio "$r_fdw_count" "$r_loop_count")" "(vs http loop)" ""
row "bulk 100k rows/s, every column" "$r_fdw_all" "$r_loop_all" "$vs_loop" ">= 1.3x http loop" "$(verdict "$vs_loop >= 1.3")"
row "bulk 100k rows/s, every column vs C floor" "$r_fdw_all" "$r_floor" "$vs_floor" ">= 0.75x C floor" "$(verdict "$vs_floor >= 0.75")"
row "peak memory growth, 10k rows" "$(mib "$m_fdw_10k")" "$(mib "$m_loop_10k")" "" "" ""
row "peak memory growth, 100k rows" "$(mib "$m_fdw_100k")" "$(mib "$m_loop_100k")" "" "" ""
row "peak memory growth, 500k rows" "$(mib "$m_fdw_500k")" "$(mib "$m_loop_500k")" "" "<= 32 MiB" "$(verdict "$m_fdw_500k <= 32768")"
row "temp file bytes, 10k / 100k / 500k" "$tb_fdw_10k/$tb_fdw_100k/$tb_fdw_500k" "$tb_loop_10k/$tb_loop_100k/$tb_loop_500k" "" "0 (pgapi_fdw)" "$(verdict "$tb_fdw_10k + $tb_fdw_100k + $tb_fdw_500k == 0")"
row "fan-out 20 svc, 100 ms: wall ms" "${t_fan4} (c=4)" "${t_fan1} (c=1)" "$fan" "<= 0.3x sequential" "$(verdict "$fan <= 0.3")"
row "fan-out: requests" "$req_fan" "" "" "" ""
row "canonical report: requests" "$req_top_fdw" "$req_top_loop" "" "1 request" "$(verdict "$req_top_fdw == 1")"
row "canonical report: latency ms" "$t_top_fdw" "$t_top_loop" "${top_speedup}x" ">= 50x faster" "$(verdict "$top_speedup >= 50")"
row "repeated query in cache TTL: requests" "$req_rep2" "$req_top_fdw" "" "0 requests" "$(verdict "$req_rep2 == 0")"

echo
echo "pgapi_fdw benchmark ($(nproc) CPUs; best of $RUNS; baseline = http-extension loop unless noted)"
echo "C floor (curl + json-c, same pages): ${t_floor} ms for 100k rows = $r_floor rows/s"
printf '%s\n' "${ROWS_OUT[@]}"
