#!/usr/bin/env bash
#
# secrets.sh -- the no-secret-anywhere sweep (RELIABILITY C3, C4, C14)
#
# Runs after pg_regress, whose tests use the canary secret CANARY-KEY-7f3a
# in user mappings, make it travel in requests, print plans with
# debug_print_plan, and provoke errors in which the API echoes it.  The
# server log and the simulator's journal must not contain it, neither in
# clear nor in base64 (as in a Basic authorization header).
#
set -euo pipefail

canary='CANARY-KEY-7f3a'
b64_full=$(printf '%s' "test-key:$canary" | base64)
b64_secret=$(printf '%s' "$canary" | base64)
passed=0
failed=0

check()
{
	local what=$1 file=$2 pattern=$3

	if [ -z "$file" ] || [ ! -f "$file" ]; then
		echo "not ok - $what: file not found"
		failed=$((failed + 1))
	elif grep -qF -- "$pattern" "$file"; then
		echo "not ok - $what: found in $(basename "$file")"
		grep -nF -- "$pattern" "$file" | head -3 | cut -c1-200
		failed=$((failed + 1))
	else
		echo "ok - $what"
		passed=$((passed + 1))
	fi
}

# the tests must really have used the canary, or the sweep proves nothing
if [ -n "${PGAPI_SIM_JOURNAL:-}" ] && grep -q '"auth_sha256"' "$PGAPI_SIM_JOURNAL"; then
	echo "ok - the simulator saw authenticated requests"
	passed=$((passed + 1))
else
	echo "not ok - the simulator saw no authenticated request"
	failed=$((failed + 1))
fi

check "canary in the server log" "${PGAPI_SERVER_LOG:-}" "$canary"
check "base64 key:secret in the server log" "${PGAPI_SERVER_LOG:-}" "$b64_full"
check "base64 secret in the server log" "${PGAPI_SERVER_LOG:-}" "$b64_secret"
check "canary in the simulator journal" "${PGAPI_SIM_JOURNAL:-}" "$canary"
check "base64 key:secret in the simulator journal" "${PGAPI_SIM_JOURNAL:-}" "$b64_full"
if [ -n "${PGAPI_SERVER_LOG:-}" ] && grep -q 'PLANNEDSTMT\|:planTree' "$PGAPI_SERVER_LOG"; then
	echo "ok - plans were printed to the log (debug_print_plan) and searched"
	passed=$((passed + 1))
else
	echo "not ok - no plan was printed to the log; the plan check did not run"
	failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
