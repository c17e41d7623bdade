#!/usr/bin/env python3
"""journal.py - what the simulator saw during the load run (suites/load.sh).

Usage: journal.py SIM_URL SINCE_SEQ LIMIT WINDOW_MS FAULTS_FILE

Reads GET /__mock/journal?since=SINCE_SEQ and prints, for the three keys of
src/test/load/setup.sql:
  * requests, and the largest number of requests (by arrival time at the
    simulator) in any sliding window of WINDOW_MS; a check that it is at
    most LIMIT, the client-side limit of every key;
  * the simulator's own 429s (its rate limit, not an injected fault):
    a check that there are none;
  * the injected faults, by name (FAULTS_FILE: lines "id name").
Check lines are `ok - ...` / `not ok - ...`; figures are `# ...`.
"""

import base64
import collections
import hashlib
import json
import sys
import urllib.request

SECRET = "CANARY-KEY-7f3a"
KEYS = {
    "load-key": "Basic " + base64.b64encode(("load-key:" + SECRET).encode()).decode(),
    "load-slow": "Basic " + base64.b64encode(("load-slow:" + SECRET).encode()).decode(),
    "load-pga": "Token load-pga-" + SECRET,
}


def max_in_window(times, window):
    """Largest number of times t[i..j] with t[j] - t[i] < window, and t[i]."""
    best, at, i = 0, None, 0
    for j, t in enumerate(times):
        while t - times[i] >= window:
            i += 1
        if j - i + 1 > best:
            best, at = j - i + 1, times[i]
    return best, at


def main():
    url, since, limit, window_ms, faults_file = sys.argv[1:6]
    since, limit, window = int(since), int(limit), int(window_ms) / 1000.0
    with open(faults_file) as f:
        names = {int(i): name.strip() for i, name in (l.split(" ", 1) for l in f if l.strip())}
    with urllib.request.urlopen("%s/__mock/journal?since=%d" % (url, since), timeout=60) as r:
        journal = json.loads(r.read().decode())
    by_hash = {hashlib.sha256(v.encode()).hexdigest(): k for k, v in KEYS.items()}
    times = collections.defaultdict(list)
    other = 0
    injected = collections.Counter()
    refused = collections.Counter()
    statuses = collections.Counter()
    t0 = min((e["t"] for e in journal), default=0)
    for e in journal:
        key = by_hash.get(e.get("auth_sha256"))
        if key is None:
            other += 1
            continue
        times[key].append(e["t"])
        statuses[e.get("status")] += 1
        if "fault" in e:
            injected[names.get(e["fault"], "fault %d" % e["fault"])] += 1
        elif e.get("status") == 429:
            refused[key] += 1

    print("# simulator journal: %d requests since seq %d, statuses %s" % (
        len(journal), since, dict(sorted(statuses.items(), key=lambda kv: str(kv[0])))))
    for name in sorted(injected):
        print("# injected: %-28s %d" % (name, injected[name]))
    for key in KEYS:
        ts = sorted(times[key])
        most, at = max_in_window(ts, window)
        span = ts[-1] - ts[0] if len(ts) > 1 else 0
        line = "%s: %d requests in %.1f s, at most %d in any %d ms (limit %d, at +%.3f s)" % (
            key, len(ts), span, most, int(window_ms), limit, (at or t0) - t0)
        print(("ok - " if 0 < most <= limit else "not ok - ") + "rate limit " + line)
    n = sum(refused.values())
    print(("ok - " if n == 0 else "not ok - ") +
          "the simulator's own rate limit refused %d requests %s" % (n, dict(refused) if n else ""))
    if other:
        print("not ok - %d requests with an unknown Authorization" % other)
    return 0


if __name__ == "__main__":
    sys.exit(main())
