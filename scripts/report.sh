#!/usr/bin/env bash
#
# report.sh -- build pgapi_fdw, start a throwaway cluster and print a report
#
# Usage: bash scripts/report.sh
#
# With no keys exported it runs against the bundled API simulator.  With real
# keys it talks to the real API instead, per API:
#   ClickHouse Cloud: CLICKHOUSE_KEY_ID + CLICKHOUSE_KEY_SECRET
#                     [+ CLICKHOUSE_ORGANIZATION_ID] [+ CLICKHOUSE_URL]
#   pganalyze:        PGANALYZE_API_KEY [+ PGANALYZE_URL]
# An API whose keys are not exported is served by the simulator.
#
# Secrets never go on a command line (other users can read argv in ps):
# scripts/report.sql reads them from the environment with \getenv unless the
# caller passes them with -v.

set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CH_DEFAULT_URL=https://api.clickhouse.cloud
PGA_DEFAULT_URL=https://app.pganalyze.com/graphql

main()
{
	local real_ch=0 real_pga=0
	local -a vars

	if [ -n "${CLICKHOUSE_KEY_ID:-}" ] && [ -n "${CLICKHOUSE_KEY_SECRET:-}" ]; then
		real_ch=1
	fi
	if [ -n "${PGANALYZE_API_KEY:-}" ]; then
		real_pga=1
	fi

	setup_cleanup_trap
	# shellcheck disable=SC2119 # no extra packages for the report
	ensure_packages
	build_and_install
	if [ "$real_ch" -eq 0 ] || [ "$real_pga" -eq 0 ]; then
		start_simulator
	fi
	start_cluster

	vars=(-v use_ch=on -v use_pga=on)
	if [ "$real_ch" -eq 1 ]; then
		log "ClickHouse Cloud: ${CLICKHOUSE_URL:-$CH_DEFAULT_URL}"
		vars+=(-v ch_url="${CLICKHOUSE_URL:-$CH_DEFAULT_URL}")
		if [ -n "${CLICKHOUSE_ORGANIZATION_ID:-}" ]; then
			vars+=(-v ch_org_id="$CLICKHOUSE_ORGANIZATION_ID")
		fi
	else
		log "ClickHouse Cloud: simulator"
		vars+=(-v ch_url="$PGAPI_SIM_URL"
			-v ch_key_id=demo-key -v ch_key_secret=demo-secret)
	fi
	if [ "$real_pga" -eq 1 ]; then
		log "pganalyze: ${PGANALYZE_URL:-$PGA_DEFAULT_URL}"
		vars+=(-v pga_url="${PGANALYZE_URL:-$PGA_DEFAULT_URL}")
	else
		log "pganalyze: simulator"
		vars+=(-v pga_url="$PGAPI_SIM_GRAPHQL_URL" -v pga_key=demo-api-key)
	fi

	(cd "$PGAPI_REPO" &&
		psql -X -q -v ON_ERROR_STOP=1 "${vars[@]}" -f scripts/report.sql)
}

main "$@"
