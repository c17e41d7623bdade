#!/usr/bin/env bash
#
# prefetch.sh -- a paged scan requests the next page while it reads the
# current one; see src/test/prefetch.py.
#
set -euo pipefail
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../prefetch.py" "$@"
