#!/usr/bin/env bash
#
# fuzz.sh -- libFuzzer harnesses (src/test/fuzz/) for a bounded time:
# quick 5 s, ci 30 s, long 600 s per harness (PGAPI_FUZZ_SECONDS overrides).
#
set -euo pipefail
case "${PGAPI_TEST_MODE:-ci}" in
	quick) secs=5 ;;
	long) secs=600 ;;
	*) secs=30 ;;
esac
exec "$(dirname "${BASH_SOURCE[0]}")/../fuzz/run.sh" "${PGAPI_FUZZ_SECONDS:-$secs}"
