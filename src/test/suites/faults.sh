#!/usr/bin/env bash
#
# faults.sh -- the fault matrix (RELIABILITY.md section 4) against the
# simulator and raw loopback servers; see src/test/faults.py.
#
set -euo pipefail
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../faults.py" "$@"
