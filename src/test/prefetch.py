#!/usr/bin/env python3
"""prefetch.py - the next page is requested while this one is read.

Run by src/test/suites/prefetch.sh.  Standard library + psql only.

A paged scan asks for page k+1 as soon as page k arrives (scan.c
continue_paging, pgapi_queue_poll in http.c), so that the API prepares it
while page k becomes rows.  This check makes that observable without
depending on speed: three pages of two rows, each answered after DELAY
seconds, read by a query that spends SLEEP seconds on every row
(pg_sleep in the target list) and records when it got each row
(clock_timestamp()).  The executor asks for the first row of page k+1 at
  ask(k+1) = the time it got the last row of page k + SLEEP.
  * Requested ahead: the simulator's journal must show the request for
    page k+1 arriving before ask(k+1) - SLEEP/2.  Without prefetching
    the request cannot leave before ask(k+1): the margin is SLEEP/2 on
    that side, and on the other it is at least SLEEP/2 plus a row's sleep.
  * Finished ahead: the first row of page k+1 must come less than
    3/4 DELAY after ask(k+1) (it comes within milliseconds).  Without
    prefetching it cannot come before ask(k+1) + DELAY.
Both clocks are the machine's.  About 1.5 s.  The last line is
`N passed, N failed`.
"""

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request

SIM = os.environ["PGAPI_SIM_URL"]
DB = "pgapi_prefetch"
SID = "f71df78e-ddad-82d0-8dfa-abbec741b82e"
DELAY = 0.2         # seconds the simulator takes for each page
SLEEP = 0.2         # seconds the query spends on each row
ROWS = 2            # rows per page (page_size)
PAGES = 3

passed = failed = 0


def sim_get(path):
    with urllib.request.urlopen(SIM + path, timeout=10) as r:
        return json.loads(r.read().decode())


def psql(script, db=DB):
    p = subprocess.run(["psql", "-X", "-q", "-At", "-d", db, "-v", "ON_ERROR_STOP=1"],
                       input=script, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120)
    return p.returncode, p.stdout


def report(name, problems, note=""):
    global passed, failed
    if problems:
        failed += 1
        print("not ok - %s: %s" % (name, "; ".join(problems)))
    else:
        passed += 1
        print("ok - %s%s" % (name, (" (" + note + ")") if note else ""))
    sys.stdout.flush()


def page(k):
    """page k (0-based) of distinct rows, so that paging advances (B10)"""
    rows = [{"queryId": str(1000 + ROWS * k + i), "queryText": "SELECT %d" % (ROWS * k + i),
             "dbName": "d", "dbUser": "u", "dbOperation": "SELECT", "app": "a",
             "callCount": ROWS * k + i} for i in range(ROWS)]
    return json.dumps({"status": 200, "requestId": "p%d" % k, "result": rows})


def main():
    # the scenario travels in the key id: on first sight the simulator
    # registers these faults for this key only (see apisim.py); the nonce
    # makes the key new for every run
    spec = {"faults": [{"match": {"path": "slowQueryPatterns$"}, "times": 1,
                        "action": {"delay_ms": int(DELAY * 1000), "status": 200, "body": page(k)}}
                       for k in range(PAGES)],
            "nonce": "%d-%f" % (os.getpid(), time.time())}
    key_id = "mock-" + base64.urlsafe_b64encode(json.dumps(spec).encode()).decode().rstrip("=")
    with urllib.request.urlopen(urllib.request.Request(
            SIM + "/v1/organizations",
            headers={"Authorization": "Basic " + base64.b64encode(b"prefetch:x").decode()}),
            timeout=10) as r:
        org = json.loads(r.read().decode())["result"][0]["id"]
    rc, out = psql("DROP DATABASE IF EXISTS %s WITH (FORCE);\nCREATE DATABASE %s;\n" % (DB, DB), db="postgres")
    rc2, out2 = psql("""CREATE EXTENSION pgapi_fdw;
CREATE SERVER s FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url '%s', organization_id '%s', page_size '%d',
           requests_per_window '100000');
CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (key_id '%s', key_secret 'x');
CREATE FOREIGN TABLE p (service_id text, query_id bigint, call_count bigint)
  SERVER s OPTIONS (resource 'slow_query_patterns');
""" % (SIM, org, ROWS, key_id))
    if rc or rc2:
        print(out + out2)
        print("0 passed, 1 failed")
        return 1

    since = sim_get("/__mock/seq")["seq"]
    rc, out = psql("SELECT extract(epoch FROM clock_timestamp()), call_count, pg_sleep(%s) "
                   "FROM p WHERE service_id = '%s' LIMIT %d;\n" % (SLEEP, SID, ROWS * PAGES))
    journal = [e for e in sim_get("/__mock/journal?since=%d" % since)
               if e["path"].endswith("/slowQueryPatterns")]
    psql("DROP DATABASE IF EXISTS %s WITH (FORCE);\n" % DB, db="postgres")

    problems = []
    got = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 3:
            got.append((float(parts[0]), int(parts[1])))
    if rc or [c for _, c in got] != list(range(ROWS * PAGES)):
        problems.append("the query did not return rows 0..%d: %r" % (ROWS * PAGES - 1, out[-300:]))
    if len(journal) != PAGES:
        problems.append("%d requests, expected %d" % (len(journal), PAGES))
    if problems:
        report("%d pages read" % PAGES, problems)
        print("%d passed, %d failed" % (passed, failed))
        return 1
    report("%d pages read" % PAGES, [], "%d rows, %d requests" % (len(got), len(journal)))

    # offsets of the requests: 0, ROWS, 2 * ROWS, in arrival order
    offsets = [int((e.get("params") or {}).get("offset", ["0"])[0]) for e in journal]
    if offsets != [ROWS * k for k in range(PAGES)]:
        report("pages requested in order", ["offsets %r" % offsets])
    for k in range(1, PAGES):
        last = got[ROWS * k - 1][0]         # last row of page k-1 (0-based)
        ask = last + SLEEP                  # the executor asks for the next row
        sent = journal[k]["t"]              # the simulator got the request
        first = got[ROWS * k][0]            # first row of page k
        report("page %d requested before its rows were asked for" % (k + 1),
               [] if sent < ask - SLEEP / 2 else
               ["request arrived %.3f s after the ask, needed %.3f s before" % (sent - ask, SLEEP / 2)],
               "%.3f s ahead" % (ask - sent))
        report("page %d complete when its rows were asked for" % (k + 1),
               [] if first - ask < DELAY * 0.75 else
               ["first row %.3f s after the ask, allowed %.3f s" % (first - ask, DELAY * 0.75)],
               "first row %.3f s after the ask" % (first - ask))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
