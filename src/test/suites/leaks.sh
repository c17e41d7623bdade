#!/usr/bin/env bash
#
# leaks.sh -- RELIABILITY R3: VmRSS and fds flat across thousands of failed
# requests in one backend; see src/test/leaks.py.
#
set -euo pipefail
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../leaks.py" "$@"
