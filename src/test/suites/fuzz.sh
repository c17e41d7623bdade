#!/usr/bin/env bash
#
# fuzz.sh -- libFuzzer harnesses (src/test/fuzz/run.sh lists them) for a
# bounded time each: quick 5 s, ci 25 s (four harnesses: about 2 minutes
# with the build), long 600 s (PGAPI_FUZZ_SECONDS overrides).
#
set -euo pipefail
case "${PGAPI_TEST_MODE:-ci}" in
	quick) secs=5 ;;
	long) secs=600 ;;
	*) secs=25 ;;
esac
exec "$(dirname "${BASH_SOURCE[0]}")/../fuzz/run.sh" "${PGAPI_FUZZ_SECONDS:-$secs}"
