#!/usr/bin/env bash
#
# tape.sh -- rows read from a tape equal rows read from a json-c tree, values
# and errors alike; see src/test/tape_diff.py.
#
set -euo pipefail
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../tape_diff.py" "$@"
