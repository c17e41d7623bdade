#!/usr/bin/env python3
"""leaks.py - RELIABILITY R3: no memory or fd leak on any error path.

In one backend, runs a failing query N times per failure kind (connection
refused, 503, malformed JSON, body over max_response_bytes) and a succeeding
one, each in a subtransaction of a DO loop, and checks that VmRSS grows by
less than 10 MB and the number of open fds stays within +-2 across the loop
(measured by the backend itself from /proc/self).  Faults are bound to each
kind's key id, so they never touch other requests.
N: quick 200, ci 2000, long 5000 (PGAPI_LEAK_ITERATIONS overrides).
The last line is `N passed, N failed`.
"""

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request

SIM = os.environ["PGAPI_SIM_URL"]
MODE = os.environ.get("PGAPI_TEST_MODE", "ci")
N = int(os.environ.get("PGAPI_LEAK_ITERATIONS") or {"quick": 200, "ci": 2000, "long": 5000}.get(MODE, 2000))
WARM = 50
DB = "pgapi_leaks"


def sim_post(path, body):
    req = urllib.request.Request(SIM + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def psql(script, db=DB):
    p = subprocess.run(["psql", "-X", "-q", "-At", "-d", db, "-v", "ON_ERROR_STOP=1"], input=script,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=3600)
    return p.returncode, p.stdout


def main():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()
    rc, out = psql("DROP DATABASE IF EXISTS %s WITH (FORCE);\nCREATE DATABASE %s;\n" % (DB, DB), db="postgres")
    kinds = [  # name, url, extra server options, fault action (None: no fault), expect failure
        ("refused", "http://127.0.0.1:%d" % dead, {}, None, True),
        ("status503", SIM, {}, {"status": 503}, True),
        ("malformed", SIM, {}, {"status": 200, "body": '{"status":200,"result":[{"id":'}, True),
        ("oversize", SIM, {"max_response_bytes": "65536"}, {"oversize": {"bytes": 400000, "chunked": True}},
         True),
        ("success", SIM, {}, None, False),
    ]
    ddl = ["CREATE EXTENSION pgapi_fdw;"]
    for name, url, opts, act, _ in kinds:
        o = {"api": "clickhouse_cloud", "url": url, "requests_per_window": "100000", "max_retries": "0",
             "organization_id": "5c6a4f0e-2b1d-4c9e-9a63-7d2f1e8b4a10"}
        o.update(opts)
        ddl.append("CREATE SERVER s_%s FOREIGN DATA WRAPPER pgapi_fdw OPTIONS (%s);" % (
            name, ", ".join("%s '%s'" % kv for kv in o.items())))
        ddl.append("CREATE USER MAPPING FOR CURRENT_USER SERVER s_%s OPTIONS (key_id 'leak-%s', "
                   "key_secret 'CANARY-KEY-7f3a');" % (name, name))
        ddl.append("CREATE FOREIGN TABLE t_%s (id text, name text, tags jsonb) SERVER s_%s "
                   "OPTIONS (resource 'postgres_services');" % (name, name))
        if act:
            sim_post("/__mock/fault", {"match": {"auth_user": "leak-" + name}, "action": act, "times": -1})
    ddl.append("""CREATE FUNCTION loop(tbl text, n int) RETURNS int LANGUAGE plpgsql AS $f$
DECLARE errors int := 0;
BEGIN
    FOR i IN 1..n LOOP
        BEGIN
            EXECUTE format('SELECT count(t.*) FROM %I t', tbl);
        EXCEPTION WHEN others THEN errors := errors + 1;
        END;
    END LOOP;
    RETURN errors;
END $f$;
CREATE FUNCTION mem() RETURNS text LANGUAGE sql AS $f$
    SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmRSS:\\s+(\\d+)'))[1] || ' ' ||
           (SELECT count(*) - 1 FROM pg_ls_dir('/proc/self/fd'))
$f$;""")
    rc, out = psql("\n".join(ddl) + "\n")
    if rc != 0:
        print(out)
        print("0 passed, 1 failed")
        return 1
    script = []
    for name, *_ in kinds:
        script.append("SELECT 'WARM %s ' || loop('t_%s', %d);" % (name, name, WARM))
        script.append("SELECT 'BEFORE %s ' || mem();" % name)
        script.append("SELECT 'ERRORS %s ' || loop('t_%s', %d);" % (name, name, N))
        script.append("SELECT 'AFTER %s ' || mem();" % name)
    rc, out = psql("\n".join(script) + "\n")
    passed = failed = 0
    for name, url, opts, act, fails in kinds:
        probs = []
        b = re.search(r"^BEFORE %s (\d+) (\d+)$" % name, out, re.M)
        a = re.search(r"^AFTER %s (\d+) (\d+)$" % name, out, re.M)
        e = re.search(r"^ERRORS %s (\d+)$" % name, out, re.M)
        if not (a and b and e):
            probs.append("no figures: " + out[-300:])
            note = ""
        else:
            grow = int(a.group(1)) - int(b.group(1))
            dfd = int(a.group(2)) - int(b.group(2))
            errs = int(e.group(1))
            note = "%d runs, %d errors, VmRSS %+d kB, fds %s -> %s" % (N, errs, grow, b.group(2), a.group(2))
            if grow >= 10 * 1024:
                probs.append("VmRSS grew %d kB" % grow)
            if abs(dfd) > 2:
                probs.append("fds changed by %d" % dfd)
            if errs != (N if fails else 0):
                probs.append("%d errors in %d runs" % (errs, N))
        if probs:
            failed += 1
            print("not ok - R3 %s: %s (%s)" % (name, "; ".join(probs), note))
        else:
            passed += 1
            print("ok - R3 %s: %s" % (name, note))
    sim_post("/__mock/faults/clear", {})
    psql("DROP DATABASE IF EXISTS %s WITH (FORCE);\n" % DB, db="postgres")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
