#!/usr/bin/env bash
#
# readme.sh -- the README's quick start runs verbatim (issue 7)
#
# Extracts the first ```sql block after "## Quick start" from README.md and
# runs it, unchanged, in a fresh database against the simulator, with the
# psql variables the README tells the user to set.  Each query must return
# rows.  Prints "N passed, N failed" last.
#
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."

passed=0
failed=0
db=pgapi_readme_$$
block=$(mktemp)
out=$(mktemp)
trap 'rm -f "$block" "$out"; dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT

awk '/^## Quick start/ { q = 1 } q && /^```sql$/ { s = 1; next } s && /^```$/ { exit } s { print }' \
	README.md >"$block"
if [ ! -s "$block" ]; then
	echo "not ok - no sql block found under \"## Quick start\" in README.md"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "ok - the quick start block has $(wc -l <"$block") lines"
passed=$((passed + 1))

# the simulator's default data set (other suites may have created services)
curl -sS -X POST "$PGAPI_SIM_URL/__mock/reset" >/dev/null
createdb "$db"
if psql -X -d "$db" -v ON_ERROR_STOP=1 -P pager=off \
	-v ch_url="$PGAPI_SIM_URL" -v ch_key_id=readme-key -v ch_key_secret=readme-secret \
	-v pga_url="$PGAPI_SIM_GRAPHQL_URL" -v pga_key=readme-key \
	-f "$block" >"$out" 2>&1; then
	echo "ok - the quick start runs verbatim"
	passed=$((passed + 1))
else
	echo "not ok - the quick start failed:"
	cat "$out"
	failed=$((failed + 1))
fi

# both reports returned rows: psql prints "(N rows)" with N > 0
reports=$(grep -cE '^\(([1-9][0-9]*) rows?\)$' "$out" || true)
if [ "$reports" -eq 2 ]; then
	echo "ok - both reports returned rows"
	passed=$((passed + 1))
else
	echo "not ok - expected 2 reports with rows, got $reports"
	cat "$out"
	failed=$((failed + 1))
fi

# every resource was imported, from the descriptors
tables=$(psql -X -At -d "$db" -c "SELECT count(*) FROM information_schema.foreign_tables WHERE foreign_table_schema IN ('ch', 'pga')")
resources=$(psql -X -At -d "$db" -c "SELECT count(DISTINCT (api, resource)) FROM pgapi_fdw_resources()")
if [ "$tables" = "$resources" ] && [ "$tables" -gt 0 ]; then
	echo "ok - IMPORT FOREIGN SCHEMA gave all $tables tables"
	passed=$((passed + 1))
else
	echo "not ok - imported $tables tables for $resources resources"
	failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
