#!/usr/bin/env python3
"""faults.py - the fault matrix of RELIABILITY.md section 4, case by case.

Run by src/test/suites/faults.sh (scripts/test.sh runs it after pg_regress).
Standard library + psql only.  Each case runs in its own psql session:

    <DDL for a private server/table>; T0; <the faulty statement>; T1; SELECT 1

and asserts: the SQLSTATE (or success), the elapsed time where the matrix
fixes one, that the message (ERROR, DETAIL, HINT, CONTEXT) carries no
canary secret (also base64) and no host:port, that the same session still
answers SELECT 1, and the number of requests in the simulator's journal.
Faults the simulator cannot make come from src/test/rawhttp.py, TLS
faults from src/test/tlsserver.py (certificates made with openssl).
The last line is `N passed, N failed`.
"""

import base64
import datetime
import email.utils
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rawhttp  # noqa: E402
import tlsserver  # noqa: E402

SIM = os.environ["PGAPI_SIM_URL"]
SIM_PORT = SIM.rsplit(":", 1)[1]
MODE = os.environ.get("PGAPI_TEST_MODE", "ci")
DB = "pgapi_faults"
CANARY = "CANARY-KEY-7f3a"
SECRETS = [CANARY, base64.b64encode(CANARY.encode()).decode(),
           base64.b64encode(("test-key:" + CANARY).encode()).decode()]
HOSTPORT = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d+|\blocalhost:\d+|"
                      r"\b[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+:\d{2,5}\b|\[[0-9a-f:]+\]:\d+")
ERR = re.compile(r"(ERROR|FATAL):  ([0-9A-Z]{5}): ")

passed = failed = 0
results = []
extra_ports = []


def sim_get(path):
    with urllib.request.urlopen(SIM + path, timeout=10) as r:
        return json.loads(r.read().decode())


def sim_post(path, body=None, base=SIM):
    req = urllib.request.Request(base + path, data=json.dumps(body or {}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def seq():
    return sim_get("/__mock/seq")["seq"]


def journal(since, base=SIM):
    with urllib.request.urlopen(base + "/__mock/journal?since=%d" % since, timeout=10) as r:
        return json.loads(r.read().decode())


def fault(action, path="/postgres$", times=1, method=None, **match):
    m = dict(match)
    if path:
        m["path"] = path
    if method:
        m["method"] = method
    sim_post("/__mock/fault", {"match": m, "action": action, "times": times})


PSQL_ENV = {}  # connection overrides (F32 uses a second cluster)


def psql(script, db=DB, timeout=120, app="faults"):
    env = dict(os.environ, PGAPPNAME=app, **PSQL_ENV)
    p = subprocess.run(["psql", "-X", "-q", "-At", "-d", db, "-v", "ON_ERROR_STOP=0"],
                       input="\\set VERBOSITY verbose\n" + script, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout, env=env)
    return p.stdout


def sq(s):
    return "'" + s.replace("'", "''") + "'"


def report(name, problems, note=""):
    global passed, failed
    if problems:
        failed += 1
        print("not ok - %s: %s" % (name, "; ".join(problems)))
    else:
        passed += 1
        print("ok - %s%s" % (name, (" (" + note + ")") if note else ""))
    sys.stdout.flush()


def table_ddl(tag, url=None, opts=None, key_id="test-key", updatable=False, resource="postgres_services",
              org=True, cols=None):
    o = {"api": "clickhouse_cloud", "url": url or SIM, "requests_per_window": "100000"}
    if org:
        o["organization_id"] = ORG
    o.update(opts or {})
    olist = ", ".join("%s %s" % (k, sq(v)) for k, v in o.items())
    if cols:
        pass
    elif resource == "postgres_services":
        cols = "id text, name text, provider text, region text, size text, tags jsonb, state text"
    else:
        cols = "service_id text, query_id bigint, query_text text, call_count bigint"
    topts = "resource %s%s" % (sq(resource), ", updatable 'true'" if updatable else "")
    return ("DROP SERVER IF EXISTS s_{t} CASCADE;\n"
            "CREATE SERVER s_{t} FOREIGN DATA WRAPPER pgapi_fdw OPTIONS ({o});\n"
            "CREATE USER MAPPING FOR CURRENT_USER SERVER s_{t} OPTIONS (key_id {k}, key_secret {c});\n"
            "CREATE FOREIGN TABLE t_{t} ({cols}) SERVER s_{t} OPTIONS ({topts});\n"
            ).format(t=tag, o=olist, k=sq(key_id), c=sq(CANARY), cols=cols, topts=topts)


def gql_ddl(tag, resource="servers", cols="id text, name text, last_snapshot_at timestamptz", opts=None):
    """a pganalyze server (the simulator's GraphQL endpoint) and one table;
    the API key is the canary"""
    o = {"api": "pganalyze", "url": SIM + "/graphql", "max_retries": "0"}
    o.update(opts or {})
    olist = ", ".join("%s %s" % (k, sq(v)) for k, v in o.items())
    return ("DROP SERVER IF EXISTS s_{t} CASCADE;\n"
            "CREATE SERVER s_{t} FOREIGN DATA WRAPPER pgapi_fdw OPTIONS ({o});\n"
            "CREATE USER MAPPING FOR CURRENT_USER SERVER s_{t} OPTIONS (api_key {c});\n"
            "CREATE FOREIGN TABLE t_{t} ({cols}) SERVER s_{t} OPTIONS (resource {r});\n"
            ).format(t=tag, o=olist, c=sq(CANARY), cols=cols, r=sq(resource))


def parse(out):
    """-> dict: setup_error, state, t0, t1, alive, text (message lines after T0)"""
    r = {"setup_error": None, "state": None, "t0": None, "t1": None, "alive": False, "out": out}
    seen_t0 = False
    body = []
    for line in out.splitlines():
        if line.startswith("T0 "):
            r["t0"] = float(line[3:])
            seen_t0 = True
            continue
        if line.startswith("T1 "):
            r["t1"] = float(line[3:])
            continue
        if line == "ALIVE 1":
            r["alive"] = True
            continue
        m = ERR.search(line)
        if m and not seen_t0 and r["setup_error"] is None:
            r["setup_error"] = line
        elif m and seen_t0 and r["state"] is None:
            r["state"] = m.group(2)
        if seen_t0 and not line.startswith("LOCATION:"):
            body.append(line)
    r["text"] = "\n".join(body)
    return r


def check_text(r, problems):
    text = r["text"]
    for s in SECRETS:
        if s in text:
            problems.append("secret in the output")
    hp = HOSTPORT.search(text)
    if hp:
        problems.append("host:port in the message: %r" % hp.group(0))
    for p in [SIM_PORT] + [str(x) for x in extra_ports]:
        if re.search(r"(?<![0-9])%s(?![0-9])" % p, text):
            problems.append("port %s in the message" % p)
    if "XX000" in text:
        problems.append("internal error XX000")


def case(name, query, state, ddl="", requests=None, path=None, method=None, max_s=None, min_s=None,
         alive=True, post=None, db=DB, pre="", after_sql=""):
    """state: expected SQLSTATE, None for success, or a tuple of allowed ones
    ('ok' allowed as success).  requests: exact count or (lo, hi) of journal
    entries (filtered by path regex / method)."""
    problems = []
    m = seq()
    script = (ddl + pre + "SELECT 'T0 ' || extract(epoch from clock_timestamp());\n" + query.rstrip(";\n") +
              ";\nSELECT 'T1 ' || extract(epoch from clock_timestamp());\n" + after_sql +
              "SELECT 'ALIVE ' || 1;\n")
    r = parse(psql(script, db=db))
    if r["setup_error"]:
        problems.append("setup failed: " + r["setup_error"])
    got = r["state"] or "ok"
    allowed = state if isinstance(state, tuple) else (state or "ok",)
    if got not in allowed:
        problems.append("SQLSTATE %s, expected %s" % (got, "/".join(allowed)))
    check_text(r, problems)
    if alive and not r["alive"]:
        problems.append("SELECT 1 failed afterwards")
    el = None
    if r["t0"] is not None and r["t1"] is not None:
        el = r["t1"] - r["t0"]
        if max_s is not None and el > max_s:
            problems.append("took %.2f s > %.2f s" % (el, max_s))
        if min_s is not None and el < min_s:
            problems.append("took %.2f s < %.2f s" % (el, min_s))
    elif alive:
        problems.append("no timing")
    j = journal(m)
    if path:
        j = [e for e in j if re.search(path, e["path"])]
    if method:
        j = [e for e in j if e["method"] == method]
    n = len(j)
    if requests is not None:
        lo, hi = requests if isinstance(requests, tuple) else (requests, requests)
        if not lo <= n <= hi:
            problems.append("%d requests, expected %s" % (n, requests))
    if post:
        post(r, j, problems)
    report(name, problems, "%s, %d req%s" % (got, n, ", %.2f s" % el if el is not None else ""))
    if problems:
        print("   | " + "\n   | ".join(r["out"].splitlines()[-12:]))
    return r, j


def out_has(*lines):
    """the statement's output has each of these lines"""
    def post(r, j, problems):
        got = r["out"].splitlines()
        for want in lines:
            if want not in got:
                problems.append("no line %r in the output" % want)
    return post


def text_has(*parts):
    """the message (after T0) contains each of these"""
    def post(r, j, problems):
        for s in parts:
            if s not in r["text"]:
                problems.append("no %r in the message" % s)
    return post


def text_lacks(*parts):
    def post(r, j, problems):
        for s in parts:
            if s in r["text"] or s in r["out"]:
                problems.append("%r in the output" % s)
    return post


def all_of(*posts):
    def post(r, j, problems):
        for f in posts:
            f(r, j, problems)
    return post


def detail_max(n):
    """every DETAIL line at most n bytes, without raw control bytes"""
    def post(r, j, problems):
        ds = re.findall(r"^DETAIL:  (.*)$", r["text"], re.M)
        if not ds:
            problems.append("no DETAIL")
        for d in ds:
            if len(d.encode()) > n:
                problems.append("DETAIL of %d bytes > %d" % (len(d.encode()), n))
            if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", d):
                problems.append("raw control bytes in DETAIL")
    return post


def gap_at_least(g):
    def post(r, j, problems):
        if len(j) >= 2:
            d = j[1]["t"] - j[0]["t"]
            if d < g:
                problems.append("retry gap %.2f s < %.2f s" % (d, g))
    return post


def detail_has(s):
    def post(r, j, problems):
        if s not in r["text"]:
            problems.append("no %r in the message" % s)
    return post


def setup():
    global ORG
    ORG = None
    with urllib.request.urlopen(urllib.request.Request(
            SIM + "/v1/organizations",
            headers={"Authorization": "Basic " + base64.b64encode(b"faults:x").decode()}), timeout=10) as r:
        ORG = json.loads(r.read().decode())["result"][0]["id"]
    out = psql("DROP DATABASE IF EXISTS %s WITH (FORCE);\nCREATE DATABASE %s;\n" % (DB, DB), db="postgres")
    out += psql("CREATE EXTENSION pgapi_fdw;\n")
    if "ERROR" in out:
        print(out)
        raise SystemExit("setup failed")


def sim_list_len():
    r = urllib.request.Request(SIM + "/v1/organizations/%s/postgres" % ORG,
                               headers={"Authorization": "Basic " + base64.b64encode(b"faults:x").decode()})
    with urllib.request.urlopen(r, timeout=10) as f:
        return len(json.loads(f.read().decode())["result"])


def count_is(n=None):
    """the statement returned the simulator's full row count (n, or the
    current number of services when n is None)"""
    def post(r, j, problems):
        want = sim_list_len() if n is None else n
        if ("COUNT %d" % want) not in r["out"]:
            problems.append("row count is not %d" % want)
    return post


def main():
    setup()
    sim_post("/__mock/reset")
    sim_post("/__mock/faults/clear")
    # count(t.*) converts every column of every row
    Q = "SELECT 'COUNT ' || count(t.*) FROM t_%s t"
    FAST = {"max_retries": "0"}

    def clear():
        sim_post("/__mock/faults/clear")

    # --- F1 refused ---------------------------------------------------------
    dead = rawhttp.RawServer("silent")
    dead_port = dead.port
    dead.close()  # nothing listens there now
    extra_ports.append(dead_port)
    clear()
    case("F1 refused GET: retried, HV00N", Q % "f1", "HV00N",
         ddl=table_ddl("f1", url="http://127.0.0.1:%d" % dead_port), max_s=8,
         post=detail_has("Gave up after 4 attempts"))
    # an INSERT first reads the list (unique names, W9); that read is
    # answered, then the server stops listening, so the POST is refused
    one = rawhttp.RawServer("refuse_after_one")
    extra_ports.append(one.port)
    case("F1 refused write: HV00N, not retried", "INSERT INTO t_f1w (name, provider, region, size) "
         "VALUES ('f1w', 'aws', 'us-east-1', 'r8gd.large')", "HV00N",
         ddl=table_ddl("f1w", url="http://127.0.0.1:%d" % one.port, updatable=True), max_s=1.0,
         post=all_of(text_has("remote request: POST"),
                     lambda r, j, p: p.append("write retried") if "Gave up" in r["text"] else None,
                     lambda r, j, p: p.append("%d requests reached the server, expected 1 (the read)"
                                              % one.requests) if one.requests != 1 else None))
    one.close()

    # --- F2 listener never accepts -------------------------------------------
    na = rawhttp.RawServer("never_accept")
    extra_ports.append(na.port)
    case("F2 never accepts: HV00N at connect_timeout_ms 500 +-10%", Q % "f2", "HV00N",
         ddl=table_ddl("f2", url="http://127.0.0.1:%d" % na.port,
                       opts={"connect_timeout_ms": "500", "max_retries": "0"}), min_s=0.45, max_s=0.75)
    na.close()

    # --- F4 TLS handshake stall -----------------------------------------------
    si = rawhttp.RawServer("silent")
    extra_ports.append(si.port)
    case("F4 TLS handshake stall: HV00N at connect timeout", Q % "f4", "HV00N",
         ddl=table_ddl("f4", url="https://127.0.0.1:%d" % si.port,
                       opts={"connect_timeout_ms": "500", "max_retries": "0"}), min_s=0.45, max_s=0.75)
    case("F4 TLS handshake stall: statement_timeout 57014", Q % "f4", "57014",
         pre="SET statement_timeout = '150ms';\n", after_sql="RESET statement_timeout;\n", max_s=1.0)

    # --- F3 hang --------------------------------------------------------------
    clear()
    fault({"hang": True, "seconds": 30})
    case("F3 hang + statement_timeout 100ms: 57014 < 1 s", Q % "f3", "57014", requests=1,
         ddl=table_ddl("f3"), pre="SET statement_timeout = '100ms';\n",
         after_sql="RESET statement_timeout;\n", max_s=1.0)
    hang_cancel("F3 hang + pg_cancel_backend: 57014, wait event Extension", "cancel")
    hang_cancel("F3 hang + pg_terminate_backend: FATAL 57P01, new session works", "terminate")
    clear()
    fault({"hang": True, "seconds": 30})
    case("F3 hang: HV00N at timeout_ms 500 +-10%", Q % "f3t", "HV00N", requests=1,
         ddl=table_ddl("f3t", opts={"timeout_ms": "500", "max_retries": "0"}), min_s=0.45, max_s=0.75)

    # --- F5 body stall, F6 slow body ------------------------------------------
    clear()
    fault({"slow_body": {"chunk": 40, "interval_ms": 30000, "total_ms": 30000}})
    case("F5 headers then the body stalls: HV00N at timeout_ms, no rows", Q % "f5", "HV00N", requests=1,
         ddl=table_ddl("f5", opts={"timeout_ms": "800", "max_retries": "0"}), min_s=0.7, max_s=1.2)
    clear()
    fault({"slow_body": {"chunk": 1, "interval_ms": 2000, "total_ms": 30000}})
    case("F6 1 byte every 2 s: HV00N within LOW_SPEED_TIME (10 s)", Q % "f6", "HV00N", requests=1,
         ddl=table_ddl("f6", opts={"timeout_ms": "60000", "max_retries": "0"}), min_s=9, max_s=13)

    # --- F7 RST mid-body, short body -------------------------------------------
    rst = rawhttp.RawServer("rst_mid_body")
    extra_ports.append(rst.port)
    case("F7 RST mid-body: ERROR, no partial rows", Q % "f7", ("HV00N", "HV00M"),
         ddl=table_ddl("f7", url="http://127.0.0.1:%d" % rst.port, opts=FAST), max_s=3,
         post=lambda r, j, p: p.append("partial rows") if "COUNT" in r["out"] else None)
    rst.close()
    clear()
    fault({"truncate": True})
    case("F7 short body vs Content-Length: ERROR", Q % "f7b", ("HV00N", "HV00M"), requests=1,
         ddl=table_ddl("f7b", opts=FAST))

    # --- F8 / F9 writes after the request was sent --------------------------------
    ins = ("INSERT INTO t_{t} (name, provider, region, size) VALUES ('{t}-svc', 'aws', 'us-east-1', "
           "'r8gd.large')")
    clear()
    fault({"process_then_reset": True}, path="/postgres$", method="POST")
    case("F8 POST processed, then reset: 40003, sent once", ins.format(t="f8w"), "40003", requests=1,
         method="POST", ddl=table_ddl("f8w", updatable=True))
    clear()
    fault({"close_before_headers": True}, path="/postgres$", method="POST")
    case("F9 POST, closed right after the request: 40003, sent once", ins.format(t="f9w"), "40003",
         requests=1, method="POST", ddl=table_ddl("f9w", updatable=True))
    clear()
    fault({"close_before_headers": True}, path="/postgres$", method="GET", nth_on_conn=2)
    case("F8 GET, 2nd request on a kept-alive connection closed: retried", Q % "f8g", None,
         ddl=table_ddl("f8g", org=False), requests=3, post=count_is())
    clear()
    fault({"close_before_headers": True}, path="/postgres$", method="GET")
    case("F9 GET, closed right after the request: retried", Q % "f9g", None, requests=2,
         ddl=table_ddl("f9g"), post=count_is())
    clear()
    fault({"status": 503}, path="/postgres$", method="POST")
    case("F11 write answered 503: 40003, sent once", ins.format(t="f11w"), "40003", requests=1,
         method="POST", ddl=table_ddl("f11w", updatable=True))

    # --- F10 429 -------------------------------------------------------------------
    for label, hdrs, st, nreq, gap, mx in [
            ("Retry-After: 2", {"Retry-After": "2"}, None, 2, 1.95, 4),
            ("Retry-After: HTTP date +3 s", None, None, 2, 1.5, 5),
            ("Retry-After: 86400", {"Retry-After": "86400"}, "HV000", 1, None, 1),
            ("Retry-After: -5 (default backoff)", {"Retry-After": "-5"}, None, 2, None, 3),
            ("Retry-After: abc (default backoff)", {"Retry-After": "abc"}, None, 2, None, 3),
            ("X-RateLimit-Reset: 2.5", {"X-RateLimit-Reset": "2.5"}, None, 2, 2.45, 5)]:
        clear()
        if hdrs is None:
            hdrs = {"Retry-After": email.utils.formatdate(time.time() + 3, usegmt=True)}
        fault({"status": 429, "headers": hdrs})
        case("F10 429 " + label, Q % "f10", st, requests=nreq, ddl=table_ddl("f10"), max_s=mx,
             post=gap_at_least(gap) if gap else (count_is() if st is None else None))

    # --- F11 n x 5xx then 200 --------------------------------------------------------
    for s in (500, 502, 503, 504):
        clear()
        fault({"status": s})
        case("F11 1 x %d then 200: success" % s, Q % "f11", None, requests=2, ddl=table_ddl("f11"),
             post=count_is())
    for n in ((3, 4) if MODE != "quick" else (4,)):
        clear()
        fault({"status": 503}, times=n)
        case("F11 %d x 503 then 200: %s" % (n, "success" if n < 4 else "HV000"), Q % "f11",
             None if n < 4 else "HV000", requests=4, ddl=table_ddl("f11"), max_s=12)

    # --- F12 / F13 statuses ---------------------------------------------------------------
    for s, st in ((400, "HV000"), (422, "HV000"), (409, "55000"), (401, "28000"), (403, "28000")):
        clear()
        fault({"status": s, "body": json.dumps({"status": s, "error": "ERR: key %s echoed" % CANARY,
                                                "requestId": "rq-%d" % s})})
        case("F12/F13 %d: %s, not retried, requestId in DETAIL" % (s, st), Q % "f12", st, requests=1,
             ddl=table_ddl("f12"), post=detail_has("rq-%d" % s))
    clear()
    fault({"status": 404}, path="/postgres/[0-9a-f-]+$", method="DELETE")
    case("F12 DELETE answered 404: success", "DELETE FROM t_f12d WHERE id = "
         "'f71df78e-ddad-82d0-8dfa-abbec741b82e'", None, method="DELETE", requests=1,
         ddl=table_ddl("f12d", updatable=True))

    # --- F14 redirects to a second instance --------------------------------------------------
    second = start_second_sim()
    extra_ports.append(second[1])
    try:
        for s in (301, 302, 303, 307, 308):
            clear()
            fault({"redirect": {"status": s, "location": "http://127.0.0.1:%d/v1/organizations/%s/postgres"
                                % (second[1], ORG)}})
            m2 = len(journal(0, base="http://127.0.0.1:%d" % second[1]))
            case("F14 %d to a second instance: ERROR, it sees 0 requests" % s, Q % "f14",
                 ("HV000", "HV00M", "HV00N"), requests=1, ddl=table_ddl("f14"),
                 post=lambda r, j, p, m2=m2: p.append("the second instance was asked") if len(
                     journal(0, base="http://127.0.0.1:%d" % second[1])) != m2 else None)
    finally:
        second[0].terminate()
        second[0].wait()
        shutil.rmtree(second[2], ignore_errors=True)

    # --- F15 / F16 content types ------------------------------------------------------------
    html = "<html><body>" + "bad gateway \x01\x1b " * 500 + "</body></html>"
    for s, st in ((200, "HV00M"), (502, "HV000")):
        clear()
        fault({"status": s, "body": html, "content_type": "text/html"}, times=-1 if s == 502 else 1)
        case("F15 HTML page with %d: %s, excerpt <= 200 bytes" % (s, st), Q % "f15", st,
             ddl=table_ddl("f15", opts=FAST), requests=1, post=excerpt_short)
    for ct in ("application/jsonx", "text/plain", None):
        clear()
        fault({"status": 200, "body": '{"status":200,"result":[]}', "content_type": ct})
        case("F16 content type %s: HV00M" % ct, Q % "f16", "HV00M", ddl=table_ddl("f16", opts=FAST),
             requests=1)

    # --- F17 malformed JSON --------------------------------------------------------------------
    good = '{"status":200,"requestId":"r","result":[{"id":"x","name":"n"}]}'
    for label, body in [("truncated", good[:30]), ("empty", ""), ("trailing data", good + " xyz"),
                        ("2 documents", good + good), ("single quotes", good.replace('"n"', "'n'")),
                        ("comment", good.replace("[{", "[/* c */{")), ("trailing comma",
                                                                       good.replace('"n"}', '"n",}')),
                        ("NaN", good.replace('"n"}', '"n","storageSize":NaN}')),
                        ("Infinity", good.replace('"n"}', '"n","storageSize":-Infinity}')),
                        ("BOM", "\ufeff" + good)]:
        clear()
        fault({"status": 200, "body": body})
        case("F17 %s: HV00M" % label, Q % "f17", "HV00M", ddl=table_ddl("f17", opts=FAST), requests=1)

    # --- F18 encodings ----------------------------------------------------------------------------
    for label, raw, st in [("byte FF", b'{"status":200,"result":[{"id":"x","name":"a\xffb"}]}', "22021"),
                           ("overlong C0 AF", b'{"status":200,"result":[{"id":"x","name":"a\xc0\xafb"}]}',
                            "22021"),
                           ("\\u0000", b'{"status":200,"result":[{"id":"x","name":"a\\u0000b"}]}', "22P05"),
                           ("lone surrogate", b'{"status":200,"result":[{"id":"x","name":"a\\ud800b"}]}',
                            ("22021", "22P05", "HV00M"))]:
        clear()
        fault({"status": 200, "body_b64": base64.b64encode(raw).decode()})
        case("F18 %s" % label, Q % "f18", raw and st, ddl=table_ddl("f18", opts=FAST), requests=1)
    latin1_case()

    # --- F19 nesting ----------------------------------------------------------------------------------
    for n, st in ((17, ("ok", "HV00M", "54001")), (33, ("HV00M", "54001")), (10 ** 6, ("HV00M", "54001"))):
        clear()
        body = '{"status":200,"result":[{"id":"x","name":"n","tags":' + "[" * n + "]" * n + "}]}"
        fault({"status": 200, "body": body})
        case("F19 %d nesting levels: no crash" % n, Q % "f19", st, ddl=table_ddl("f19", opts=FAST),
             requests=1)

    # --- F20 / F21 values, F22 / F23 envelopes, F28 timestamps, F29 redaction -------------------------
    f20_f21_values()
    f22_graphql()
    f23_envelope()
    f28_timestamps()
    f29_redaction()
    gaps_c11_c12_b12()

    # --- F24 pagination that never advances ---------------------------------------------------------------
    f24_paging()

    # --- F25 oversize ------------------------------------------------------------------------------------------
    f25_oversize()

    # --- F26 huge headers -------------------------------------------------------------------------------------------
    for label, hh in (("64 KiB header", {"bytes": 65536, "count": 1}),
                      ("10,000 headers", {"bytes": 8, "count": 10000})):
        clear()
        fault({"huge_header": hh})
        case("F26 %s: normal or clean ERROR" % label, Q % "f26", ("ok", "HV00N", "HV00M", "54000"),
             ddl=table_ddl("f26", opts=FAST), requests=1)

    f27_tls()
    f30_rate_limit()

    # --- F31 HTTP/1.0 close-delimited ----------------------------------------------------------------------------------
    clear()
    fault({"http10": True})
    case("F31 HTTP/1.0 close-delimited body (simulator): parsed", Q % "f31", None, requests=1,
         ddl=table_ddl("f31"), post=count_is())
    h10 = rawhttp.RawServer("http10")
    extra_ports.append(h10.port)
    case("F31 HTTP/1.0 close-delimited body (raw, no Content-Length): parsed", Q % "f31r", None,
         ddl=table_ddl("f31r", url="http://127.0.0.1:%d" % h10.port), post=count_is(50))
    h10.close()

    # --- F32 .invalid host --------------------------------------------------------------------------------------------
    case("F32 .invalid host: fast HV00N", Q % "f32", "HV00N",
         ddl=table_ddl("f32", url="https://api.pgapi-fdw-test.invalid", opts=FAST), max_s=3)
    f32_resolver()
    clear()

    # --- the server survived all of it ------------------------------------------------------------------------------------------
    log = os.environ.get("PGAPI_SERVER_LOG")
    probs = []
    if log and os.path.exists(log):
        text = open(log, errors="replace").read()
        if "terminated by signal" in text:
            probs.append("a backend was terminated by a signal")
        if CANARY in text:
            probs.append("canary in the server log")
    else:
        probs.append("no server log")
    report("server log: no crash, no canary", probs)
    psql("", db="postgres")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def f27_tls():
    """F27 / C10 / R6: certificate faults against an HTTPS front of the
    simulator, certificates made at test time."""
    d = tempfile.mkdtemp(prefix="faults-tls.")
    os.chmod(d, 0o755)
    try:
        tlsserver.make_certs(d)
    except (RuntimeError, OSError) as e:
        report("F27 certificates made with openssl", [str(e)])
        shutil.rmtree(d, ignore_errors=True)
        return
    try:
        f27_cases(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def f27_cases(d):
    pem = lambda n: os.path.join(d, n + ".pem")  # noqa: E731
    sim_post("/__mock/faults/clear")

    def front(name, tls10=False):
        p = tlsserver.TlsProxy(pem(name), os.path.join(d, name + ".key"), SIM, tls10_only=tls10)
        extra_ports.append(p.port)
        return p

    def tls_counts(p, want_conns, want_handshakes=None):
        """connections the front accepted (1: no retry), and completed
        server-side handshakes where the outcome fixes them"""
        def post(r, j, problems):
            conns, hs, bad, reqs = p.counts()
            if conns != want_conns:
                problems.append("%d connections, expected %d" % (conns, want_conns))
            if want_handshakes is not None and hs != want_handshakes:
                problems.append("%d completed handshakes, expected %d (%s)" % (hs, want_handshakes,
                                                                              p.failed[-1:]))
        return post

    def both(*posts):
        def post(r, j, problems):
            for f in posts:
                f(r, j, problems)
        return post

    Q = "SELECT 'COUNT ' || count(t.*) FROM t_%s t"
    cases = [
        # name, certificate, ca_file, SQLSTATE, DETAIL text
        ("F27 self-signed, no ca_file: HV00N naming the certificate problem", "selfsigned", None, "HV00N",
         "self-signed certificate"),
        ("F27 self-signed, ca_file = that certificate: rows", "selfsigned", "selfsigned", None, None),
        ("F27 issued by a private CA, no ca_file: HV00N, issuer unknown", "good", None, "HV00N",
         "unable to get local issuer certificate"),
        ("F27 issued by a private CA, ca_file = the CA: rows", "good", "ca", None, None),
        ("F27 certificate for another host name: HV00N", "wronghost", "ca", "HV00N",
         "no alternative certificate subject name matches"),
        ("F27 expired certificate: HV00N", "expired", "ca", "HV00N", "certificate has expired"),
    ]
    for name, cert, ca, st, text in cases:
        p = front(cert)
        opts = dict(max_retries="0")
        if ca:
            opts["ca_file"] = pem(ca)
        # a host name mismatch is found by the client after the handshake
        post = tls_counts(p, 1, None if cert == "wronghost" else 0 if st else 1)
        case(name, Q % "f27", st, ddl=table_ddl("f27", url="https://127.0.0.1:%d" % p.port, opts=opts),
             requests=0 if st else 1, path="/postgres$",
             post=both(post, detail_has(text) if text else count_is()))
        p.close()

    # TLS 1.0 only: refused by our minimum (TLS 1.2); a TLS 1.0 client
    # shows that the server does speak TLS 1.0
    p = front("good", tls10=True)

    def control(r, j, problems):
        try:
            v = tlsserver.tls10_handshake_ok(p.port)
            if v != "TLSv1":
                problems.append("control handshake negotiated %s" % v)
        except (OSError, ValueError) as e:
            problems.append("the TLS 1.0 server refuses a TLS 1.0 client too: %s" % e)
    case("F27 server speaking TLS 1.0 only: HV00N naming the protocol", Q % "f27v", "HV00N",
         ddl=table_ddl("f27v", url="https://127.0.0.1:%d" % p.port, opts={"max_retries": "0",
                                                                         "ca_file": pem("ca")}),
         requests=0, path="/postgres$",
         post=both(tls_counts(p, 1, 0), detail_has("protocol version"), control))
    p.close()

    # a ca_file the server cannot read: HV00N naming the file problem
    p = front("good")
    missing = os.path.join(d, "no-such-ca.pem")
    case("F27 ca_file that does not exist: HV00N naming it", Q % "f27m", "HV00N",
         ddl=table_ddl("f27m", url="https://127.0.0.1:%d" % p.port, opts={"max_retries": "0",
                                                                         "ca_file": missing}),
         requests=0, path="/postgres$", post=both(tls_counts(p, 1, 0), detail_has(missing)))
    p.close()

    # R6: a kept-alive connection serves two statements; changing ca_file
    # rebuilds the handles, and the next statement verifies again (and fails
    # against a CA that did not issue the certificate)
    p = front("good")
    case("F27/R6 ca_file changed in the session: reconnects and verifies again", Q % "f27r", "HV00N",
         ddl=table_ddl("f27r", url="https://127.0.0.1:%d" % p.port, opts={"max_retries": "0",
                                                                         "ca_file": pem("ca")}),
         pre=(Q % "f27r") + ";\n" + (Q % "f27r") + ";\n" +
         "ALTER SERVER s_f27r OPTIONS (SET ca_file %s);\n" % sq(pem("other-ca")),
         requests=2, path="/postgres$",
         post=both(tls_counts(p, 2, 1), detail_has("unable to get local issuer certificate"),
                   lambda r, j, pr: pr.append("the first two statements did not both return rows")
                   if r["out"].count("COUNT ") != 2 else None))
    p.close()


def serve(body, path="/postgres$", times=1, status=200, **kw):
    """the next matching request gets this body (a str, or bytes)"""
    act = {"status": status}
    if isinstance(body, bytes):
        act["body_b64"] = base64.b64encode(body).decode()
    else:
        act["body"] = body
    act.update(kw)
    fault(act, path=path, times=times)


class BlackholeDns:
    """A UDP "name server" on 127.0.0.x:53 that reads queries and never
    answers (F32).  Port 53 needs root."""

    def __init__(self):
        self.queries = 0
        self.stop = False
        self.sock = None
        for last in range(77, 100):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind(("127.0.0.%d" % last, 53))
            except OSError:
                s.close()
                continue
            self.sock, self.addr = s, "127.0.0.%d" % last
            break
        if self.sock is None:
            raise OSError("no free 127.0.0.x:53")
        self.sock.settimeout(0.2)
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.stop:
            try:
                self.sock.recvfrom(4096)
                self.queries += 1
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self.stop = True
        self.sock.close()


def f32_resolver():
    """F32: a resolver that never answers.  The system's resolv.conf is not
    touched: a second throwaway cluster runs in a private mount namespace
    (unshare -m) in which /etc/resolv.conf is a bind mount of a file naming
    a local UDP server that reads queries and never answers.  The backend's
    code path is the normal one: libcurl's threaded resolver calling
    getaddrinfo.  Needs root (unshare, mount, port 53); otherwise skipped
    and said so."""
    global PSQL_ENV
    if os.geteuid() != 0:
        print("# skip F32 resolver that never answers: needs root for a mount namespace")
        return
    d = tempfile.mkdtemp(prefix="faults-dns.")
    os.chmod(d, 0o755)
    pg_user = os.environ.get("PGAPI_OS_USER", "postgres")
    data, log, port = os.path.join(d, "data"), os.path.join(d, "server.log"), 50000 + os.getpid() % 10000
    dns = None
    started = False
    try:
        dns = BlackholeDns()
        with open(os.path.join(d, "resolv.conf"), "w") as f:
            # 10 s per lookup: "never" for cases that expect 0.3-0.5 s,
            # and a regression costs seconds, not minutes
            f.write("nameserver %s\noptions timeout:10 attempts:1\n" % dns.addr)
        os.chmod(os.path.join(d, "resolv.conf"), 0o644)
        subprocess.run(["chown", pg_user + ":", d], check=True)
        env = {"PATH": os.environ["PATH"], "LC_ALL": "C", "HOME": d}
        p = subprocess.run(["runuser", "-u", pg_user, "--", "initdb", "-D", data, "-U", "postgres", "--auth=trust",
                            "--encoding=UTF8", "--locale=C", "--no-sync"], cwd=d, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError("initdb: " + p.stdout[-300:])
        opts = "-c listen_addresses= -c unix_socket_directories=%s -p %d -c fsync=off" % (d, port)
        p = subprocess.run(["unshare", "-m", "--", "sh", "-c",
                            'mount --bind "$1" /etc/resolv.conf && exec runuser -u "$2" -- '
                            'pg_ctl -w -t 60 -D "$3" -l "$4" -o "$5" start',
                            "sh", os.path.join(d, "resolv.conf"), pg_user, data, log, opts],
                           cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        if p.returncode != 0:
            raise RuntimeError("start: " + p.stdout[-300:] + (open(log).read()[-300:] if os.path.exists(log) else ""))
        started = True
        PSQL_ENV = {"PGHOST": d, "PGPORT": str(port)}
        out = psql("CREATE DATABASE %s;\n" % DB, db="postgres") + psql("CREATE EXTENSION pgapi_fdw;\n")
        if "ERROR" in out:
            raise RuntimeError("setup: " + out[-300:])
        url = "https://api.pgapi-fdw-dns-hang.invalid"
        q0 = dns.queries
        case("F32 resolver never answers: HV00N at connect_timeout_ms 500", "SELECT count(*) FROM t_f32d",
             "HV00N", ddl=table_ddl("f32d", url=url, opts={"connect_timeout_ms": "500", "max_retries": "0"}),
             min_s=0.45, max_s=1.0, post=all_of(text_has("Resolving timed out"),
                                                lambda r, j, pr: pr.append("no DNS query reached the server")
                                                if dns.queries == q0 else None))
        case("F32 resolver never answers: statement_timeout 300ms -> 57014 < 1 s", "SELECT count(*) FROM t_f32s",
             "57014", ddl=table_ddl("f32s", url=url, opts={"max_retries": "0"}),
             pre="SET statement_timeout = '300ms';\n", after_sql="RESET statement_timeout;\n", max_s=1.0)
        # pg_cancel_backend while the backend waits for the resolver
        res = {}
        th = threading.Thread(target=lambda: res.update(out=psql(
            "SELECT 'T0 ' || extract(epoch from clock_timestamp());\nSELECT count(*) FROM t_f32s;\n"
            "SELECT 'T1 ' || extract(epoch from clock_timestamp());\nSELECT 'ALIVE ' || 1;\n",
            app="faults-f32", timeout=60)))
        th.start()
        pid, problems = None, []
        for _ in range(100):
            pid = psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'faults-f32' AND state = 'active' "
                       "AND query LIKE 'SELECT count(*)%';\n", db="postgres").strip()
            if pid:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        t = time.time()
        if pid:
            psql("SELECT pg_cancel_backend(%s);\n" % pid, db="postgres")
        else:
            problems.append("the lookup never showed in pg_stat_activity")
        th.join(60)
        took = time.time() - t
        r = parse(res.get("out", ""))
        if r["state"] != "57014":
            problems.append("SQLSTATE %s, expected 57014" % r["state"])
        if took > 1.0:
            problems.append("took %.2f s after the cancel" % took)
        if not r["alive"]:
            problems.append("SELECT 1 failed afterwards")
        check_text(r, problems)
        report("F32 resolver never answers: pg_cancel_backend -> 57014 < 1 s", problems,
               "%.2f s after the cancel" % took)
        # the session goes on after abandoned lookups (their threads detached)
        case("F32 resolver never answers: the session works after abandoned lookups",
             "SELECT count(*) FROM t_f32s;\nSELECT count(*) FROM t_f32s;\nSELECT count(*) FROM t_f32s", "57014",
             pre="SET statement_timeout = '250ms';\n",
             after_sql="RESET statement_timeout;\nSELECT 'STILL ' || 1;\n",
             max_s=1.2, post=all_of(out_has("STILL 1"), lambda r, j, pr: pr.append(
                 "%d DNS queries" % (dns.queries - q0)) if dns.queries - q0 < 4 else None))
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        report("F32 resolver that never answers (second cluster in a mount namespace)", [str(e)[:400]])
    finally:
        PSQL_ENV = {}
        if started:
            subprocess.run(["runuser", "-u", pg_user, "--", "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
                           cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        if dns:
            dns.close()
        subprocess.run(["rm", "-rf", d])


def f30_rate_limit():
    """F30 / K2: 20 sessions share one key; the simulator allows N requests
    per sliding window per key (429 with Retry-After and X-RateLimit-Reset
    beyond).  The client-side limit is shared by all backends (the cluster
    preloads the library) and lets no window hold more than N requests
    (ratelimit.c), so: every session succeeds (or fails with HV000, never
    XX000), the simulator never answers 429, and no window of W in the
    journal holds more than N requests.  Limits per backend instead would
    let all 20 sessions send at once."""
    # a retry that waits for its Retry-After and then for the rate limit
    # past its timeout_ms: a clear HV000 when the time is up, not an attempt
    # that "timed out after 1 milliseconds" once the limit allows it (20 s)
    sim_post("/__mock/faults/clear")
    fault({"status": 429, "headers": {"Retry-After": "1"}})
    case("F30 429, the retry waits for the rate limit past timeout_ms: HV000 when the time is up",
         "SELECT count(*) FROM t_f30b", "HV000",
         ddl=table_ddl("f30b", key_id="f30b-key-%d" % int(time.time()),
                       opts={"requests_per_window": "1", "rate_window_ms": "20000", "timeout_ms": "1500"}),
         requests=1, path="/postgres$", min_s=1.3, max_s=1.7,
         post=text_has("could not be retried within timeout_ms", "status 429"))
    sim_post("/__mock/faults/clear")

    n_req, win_ms = (10, 10000) if MODE == "long" else (10, 2000)
    sessions, per_session = 20, (2 if MODE == "long" else 1)
    key = "f30-key-%d" % int(time.time())
    out = psql("SELECT 'PRELOAD ' || current_setting('shared_preload_libraries');\n")
    if "pgapi_fdw" not in out:
        report("F30 20 sessions on one key", ["pgapi_fdw is not preloaded: the bucket is not shared"])
        return
    setup_out = psql(table_ddl("f30", key_id=key, opts={"requests_per_window": str(n_req),
                                                        "rate_window_ms": str(win_ms)}))
    if "ERROR" in setup_out:
        report("F30 20 sessions on one key", ["setup: " + setup_out.strip()[-200:]])
        return
    sim_post("/__mock/faults/clear")
    sim_post("/__mock/config", {"rate_limit": {"requests": n_req, "window_ms": win_ms, "scope": "key"}})
    m = seq()
    results = [None] * sessions
    stmt = "SELECT 'COUNT ' || count(t.*) FROM t_f30 t;\n" * per_session

    def run(i):
        results[i] = psql(stmt + "SELECT 'ALIVE ' || 1;\n", timeout=180, app="faults-f30")
    t0 = time.time()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(200)
    took = time.time() - t0
    sim_post("/__mock/config", {"rate_limit": None})
    problems = []
    ok = errs = 0
    want = "COUNT %d" % sim_list_len()
    for i, o in enumerate(results):
        if o is None:
            problems.append("session %d did not finish" % i)
            continue
        states = ERR.findall(o)
        for kind, st in states:
            if st not in ("HV000",):
                problems.append("session %d: %s %s" % (i, kind, st))
        ok += o.count(want)
        errs += len(states)
        if "ALIVE 1" not in o:
            problems.append("session %d: SELECT 1 failed afterwards" % i)
        r = {"text": "\n".join(x for x in o.splitlines() if not x.startswith("LOCATION:"))}
        check_text(r, problems)
        if states and MODE == "long":
            print("   | session %d: %s" % (i, " | ".join(x for x in o.splitlines() if x.startswith(("ERROR", "DETAIL")))))
    if ok + errs != sessions * per_session:
        problems.append("%d results and %d errors for %d statements" % (ok, errs, sessions * per_session))
    auth = hashlib.sha256(("Basic " + base64.b64encode(("%s:%s" % (key, CANARY)).encode()).decode())
                          .encode()).hexdigest()
    j = [e for e in journal(m) if e["path"].endswith("/postgres") and e.get("auth_sha256") == auth]
    ts = sorted(e["t"] for e in j)
    n429 = sum(1 for e in j if e["status"] == 429)
    peak = max((sum(1 for u in ts if t <= u < t + win_ms / 1000.0) for t in ts), default=0)
    if n429:
        problems.append("the simulator answered 429 %d times: the client let more than %d requests into "
                        "a window" % (n429, n_req))
    if peak > n_req:
        problems.append("%d requests in one window of %d ms, limit %d: %s" % (
            peak, win_ms, n_req, " ".join("%.3f" % (t - ts[0]) for t in ts)))
    if len(ts) < sessions * per_session:
        problems.append("only %d requests for %d statements" % (len(ts), sessions * per_session))
    report("F30 %d sessions x %d on one key, API limit %d per %d ms: all succeed, no 429, <= %d per window"
           % (sessions, per_session, n_req, win_ms, n_req), problems,
           "%d ok, %d errors, %d requests, %d answered 429, at most %d in a window, %.1f s"
           % (ok, errs, len(ts), n429, peak, took))


def f25_oversize():
    """F25 / R1: bodies over max_response_bytes, announced, endless or
    compressed: 54000 at the cap, memory bounded, backend usable."""
    Q = "SELECT 'COUNT ' || count(t.*) FROM t_%s t"
    FAST = {"max_retries": "0"}

    def clear():
        sim_post("/__mock/faults/clear")

    # the gzip bomb is 1 MiB on the wire: 54000 shows that curl inflated it
    # and that the cap counts inflated bytes (R1); undecoded it would be an
    # HV00M for a body under the cap
    for label, act in (("Content-Length 2 GiB", {"oversize": {"bytes": 2 << 30, "chunked": False}}),
                       ("endless chunked", {"oversize": {"bytes": 2 << 30, "chunked": True}}),
                       ("gzip bomb, 1 MiB inflating to 1 GiB", {"gzip_bomb": {"bytes": 1 << 30}})):
        clear()
        fault(act)
        case("F25 %s: 54000 at the cap, RSS growth < 2 x cap" % label, Q % "f25", "54000", requests=1,
             ddl=table_ddl("f25", opts=FAST), max_s=20,
             pre="SELECT 'RSS0 ' || (regexp_match(pg_read_file('/proc/self/status'), "
                 "'VmRSS:\\s+(\\d+)'))[1];\n",
             after_sql="SELECT 'HWM1 ' || (regexp_match(pg_read_file('/proc/self/status'), "
                       "'VmHWM:\\s+(\\d+)'))[1];\n", post=rss_check(16 * 1024))


def f24_paging():
    """F24 / B10: limit/offset paging (the only kind our APIs use) that does
    not advance is an ERROR within the page cap; LIMIT is pushed."""
    pats = json.load(open(os.path.join(HERE, "fixtures/clickhouse/slow_query_patterns_list.200.json")))["result"]
    rows = [dict(p) for p in pats]
    extra = dict(rows[0], queryId="1234567890123456789", queryText="SELECT 4")
    rows.append(extra)

    def page(rs, rid):
        return json.dumps({"status": 200, "requestId": rid, "result": rs})
    cols = "service_id text, query_id bigint, query_text text, call_count bigint"
    q = "SELECT 'COUNT ' || count(*) FROM t_f24 WHERE service_id = '%s'" % SVC
    ddl = table_ddl("f24", resource="slow_query_patterns", cols=cols,
                    opts={"page_size": "2", "max_pages": "5", "max_retries": "0"})
    P = "slowQueryPatterns$"

    def offsets(want):
        def post(r, j, problems):
            got = [int((e["params"].get("offset") or ["0"])[0]) for e in j]
            if got != want:
                problems.append("offsets sent %s, expected %s" % (got, want))
        return post

    not_adv = "pagination did not advance"
    sim_post("/__mock/faults/clear")
    fault({"status": 200, "body": page(rows[:2], "same")}, path=P, times=-1)
    case("F24 the same page forever: HV00M at page 2", q, "HV00M", ddl=ddl, requests=2, path=P,
         post=all_of(text_has(not_adv, "Page 2 has the same rows as page 1"), offsets([0, 2])))
    # the simulator's real answers (a fresh requestId each) with offset ignored
    sim_post("/__mock/faults/clear")
    fault({"drop_params": ["offset"]}, path=P, times=-1)
    case("F24 offset ignored (page 1 for every offset, fresh requestIds): HV00M at page 2", q, "HV00M",
         requests=2, path=P, post=all_of(text_has(not_adv, "Page 2 has the same rows as page 1"),
                                         offsets([0, 2])))
    sim_post("/__mock/faults/clear")
    for rs, rid in ((rows[:2], "a1"), (rows[2:4], "b1"), (rows[:2], "a2"), (rows[2:4], "b2")):
        fault({"status": 200, "body": page(rs, rid)}, path=P)
    case("F24 pages cycle A, B, A: HV00M at page 3", q, "HV00M", requests=3, path=P,
         post=all_of(text_has(not_adv, "Page 3 has the same rows as page 1"), offsets([0, 2, 4])))
    # every page new, never a short one: max_pages (5) is the cap
    sim_post("/__mock/faults/clear")
    for k in range(8):
        rs = [dict(rows[0], queryId=str(1000 + 2 * k)), dict(rows[0], queryId=str(1001 + 2 * k))]
        fault({"status": 200, "body": page(rs, "n%d" % k)}, path=P)
    case("F24 endless new pages: 54000 at max_pages, requests <= cap", q, "54000", requests=5, path=P,
         post=all_of(text_has("max_pages (5)"), offsets([0, 2, 4, 6, 8])))
    # a full page, then an empty one: the end, every row
    sim_post("/__mock/faults/clear")
    fault({"status": 200, "body": page(rows[:2], "f1")}, path=P)
    fault({"status": 200, "body": page([], "f2")}, path=P)
    case("F24 a full page then an empty page: the end, all rows", q, None, requests=2, path=P,
         post=out_has("COUNT 2"))
    sim_post("/__mock/faults/clear")

    # LIMIT 5 over a 10-page result: one request with limit=5
    sim_post("/__mock/config", {"dataset": {"services": 1, "patterns_per_service": 100}})
    for _ in range(100):
        if sim_get("/__mock/status")["warm"]:
            break
        time.sleep(0.1)
    with urllib.request.urlopen(urllib.request.Request(
            SIM + "/v1/organizations/%s/postgres" % ORG,
            headers={"Authorization": "Basic " + base64.b64encode(b"faults:x").decode()}), timeout=10) as f:
        gen_sid = json.loads(f.read().decode())["result"][0]["id"]
    lddl = table_ddl("f24l", resource="slow_query_patterns", cols=cols, opts={"page_size": "10"})
    lq = "SELECT 'COUNT ' || count(*) FROM (SELECT * FROM t_f24l WHERE service_id = '%s' LIMIT 5) s" % gen_sid

    def limit_sent(r, j, problems):
        if j and j[0]["params"].get("limit") != ["5"]:
            problems.append("limit sent: %s" % j[0]["params"].get("limit"))
    case("F24 the 10-page result without LIMIT: 11 requests (control)",
         "SELECT 'COUNT ' || count(*) FROM t_f24l WHERE service_id = '%s'" % gen_sid, None, ddl=lddl,
         requests=11, path=P, post=out_has("COUNT 100"))
    case("F24 LIMIT 5 over the 10-page result: 1 request, limit=5", lq, None, requests=1, path=P,
         post=all_of(out_has("COUNT 5"), limit_sent))
    sim_post("/__mock/reset")


def f20_f21_values():
    """F20 wrong JSON types, F21 64-bit edges: never a coerced or clamped
    number; errors name column, table and JSON field (B5, B6)."""
    cols = ("id text, n bigint OPTIONS (field 'n'), nn bigint OPTIONS (field 'nn') NOT NULL, "
            "deep bigint OPTIONS (field '/d/0/v')")
    ddl = table_ddl("f20", cols=cols, opts={"max_retries": "0"})
    ctx = 'column "n" of foreign table "t_f20", JSON field "n"'
    body = '{"status":200,"requestId":"f20","result":[{"id":"a","nn":1,"n":%s}]}'
    q = "SELECT 'VAL ' || coalesce(n::text, '<null>') FROM t_f20"
    first = True
    for label, v, st in [('"12abc"', '"12abc"', "22P02"), ("true", "true", "22P02"), ("{}", "{}", "22P02"),
                         ("12.9", "12.9", "22P02"), ("1e400", "1e400", "22P02"), ("[1]", "[1]", "22P02")]:
        sim_post("/__mock/faults/clear")
        serve(body % v)
        case("F20 %s for bigint: %s naming column and JSON field" % (label, st), q, st,
             ddl=ddl if first else "", requests=1, path="/postgres$", post=text_has(ctx))
        first = False
    # a nullable column: null is NULL (never 0); a NOT NULL one: an error
    sim_post("/__mock/faults/clear")
    serve(body % "null")
    case("F20 null for a nullable bigint: NULL, not 0", q, None, requests=1, path="/postgres$",
         post=out_has("VAL <null>"))
    sim_post("/__mock/faults/clear")
    serve('{"status":200,"requestId":"f20","result":[{"id":"a","n":1,"nn":null}]}')
    q2 = "SELECT 'VAL ' || n || ' ' || nn FROM t_f20"
    case("F20 null for a NOT NULL column: 23502 naming column and field", q2, "23502", requests=1,
         path="/postgres$", post=text_has('JSON field "nn"', 'column "nn" of foreign table "t_f20"'))
    sim_post("/__mock/faults/clear")
    serve('{"status":200,"requestId":"f20","result":[{"id":"a","n":1}]}')
    case("F20 missing field for a NOT NULL column: 23502 naming column and field", q2, "23502", requests=1,
         path="/postgres$", post=text_has('JSON field "nn"'))
    sim_post("/__mock/faults/clear")
    serve('{"status":200,"requestId":"f20","result":[{"id":"a","nn":1,"d":[{"v":"12abc"}]}]}')
    case("F20 nested field \"12abc\": 22P02 naming the JSON path", "SELECT deep FROM t_f20", "22P02",
         requests=1, path="/postgres$", post=text_has('JSON field "/d/0/v"'))

    # F21: exact or 22003, as strings and as numbers
    for label, v, want in [
            ("2^63-1 as a string", '"9223372036854775807"', "9223372036854775807"),
            ("-2^63 as a string", '"-9223372036854775808"', "-9223372036854775808"),
            ("2^63-1 as a number", "9223372036854775807", "9223372036854775807"),
            ("-2^63+1 as a number", "-9223372036854775807", "-9223372036854775807"),
            ("-4748036479882663975 (a queryId) as a string", '"-4748036479882663975"', "-4748036479882663975"),
            ("2^63 as a string", '"9223372036854775808"', "22003"),
            ("-2^63-1 as a string", '"-9223372036854775809"', "22003"),
            ("2^63 as a number", "9223372036854775808", "22003"),
            ("-2^63 as a number (json-c clamps below it to it)", "-9223372036854775808", "22003"),
            ("-2^63-1 as a number", "-9223372036854775809", "22003"),
            ("2^64-1 as a number", "18446744073709551615", "22003"),
            ("2^64 as a number", "18446744073709551616", "22003"),
            ("2^64 as a string", '"18446744073709551616"', "22003")]:
        sim_post("/__mock/faults/clear")
        serve(body % v)
        exact = want != "22003"
        case("F21 %s: %s" % (label, "exact" if exact else "22003"), q, None if exact else "22003",
             requests=1, path="/postgres$", post=out_has("VAL " + want) if exact else text_has(ctx))
    sim_post("/__mock/faults/clear")


def f22_graphql():
    """F22: GraphQL errors under HTTP 200 are errors, never partial rows (B8)."""
    ddl = gql_ddl("f22")
    q = "SELECT 'COUNT ' || count(t.*) FROM t_f22 t"
    row = '{"id":"s1","name":"one","humanId":"h1"}'
    first = True
    for label, body, st, text in [
            ("errors without data", '{"errors":[{"message":"boom f22a","path":["d0"]}]}', "HV000", "boom f22a"),
            ("errors and null data", '{"data":null,"errors":[{"message":"boom f22b"}]}', "HV000", "boom f22b"),
            ("partial data and errors",
             '{"data":{"d0":[%s]},"errors":[{"message":"boom f22c","path":["d0",1,"name"]}]}' % row,
             "HV000", "boom f22c"),
            ("errors and data, errors last",
             '{"data":{"d0":[%s,%s]},"errors":[{"message":"boom f22d"}]}' % (row, row), "HV000", "boom f22d"),
            ("null data, no errors (not a GraphQL response)", '{"data":null}', "HV00M", None),
            ("no data, no errors", '{}', "HV00M", None),
            ("errors not an array", '{"data":{"d0":[]},"errors":{"message":"boom f22e"}}', "HV000", None)]:
        sim_post("/__mock/faults/clear")
        serve(body, path="/graphql$")
        case("F22 GraphQL 200, %s: %s" % (label, st), q, st, ddl=ddl if first else "", requests=1,
             path="/graphql$", post=all_of(text_lacks("COUNT "), text_has(text) if text else lambda *a: None))
        first = False
    # control: an empty "errors" array beside data is no error
    sim_post("/__mock/faults/clear")
    serve('{"data":{"d0":[%s]},"errors":[]}' % row, path="/graphql$")
    case("F22 GraphQL 200, data and an empty errors array: rows", q, None, requests=1, path="/graphql$",
         post=out_has("COUNT 1"))
    # the spec's sample: a resolver error beside "getQueryStats": null
    sim_post("/__mock/faults/clear")
    sample = open(os.path.join(HERE, "fixtures/pganalyze/error.resolver.200.json")).read()
    serve(sample, path="/graphql$")
    case("F22 spec sample error.resolver.200.json: HV000 with the API's message",
         "SELECT count(*) FROM t_f22q WHERE database_id = '12345'", "HV000",
         ddl=gql_ddl("f22q", resource="query_stats", cols="database_id text, id text, total_calls bigint"),
         requests=1, path="/graphql$", post=text_has("Database not found"))
    sim_post("/__mock/faults/clear")


SVC = "f71df78e-ddad-82d0-8dfa-abbec741b82e"


def f23_envelope():
    """F23: ClickHouse 200 with an error envelope or without "result" (B8),
    for reads and writes; writes are never retried."""
    q = "SELECT 'COUNT ' || count(t.*) FROM t_f23 t"
    ddl = table_ddl("f23", opts={"max_retries": "3"})
    first = True
    for label, body, st, text in [
            ("status 500 in the body", '{"status":500,"error":"INTERNAL: f23 boom","requestId":"rq-f23a"}',
             "HV000", "rq-f23a"),
            ("status 400 in the body, no error text", '{"status":400,"requestId":"rq-f23b"}', "HV000", "rq-f23b"),
            ("an error member, no status", '{"error":"f23 no status","requestId":"rq-f23c","result":[]}',
             "HV000", "f23 no status"),
            ("no result", '{"status":200,"requestId":"rq-f23d"}', "HV00M", 'no "result"'),
            ("null result", '{"status":200,"requestId":"rq-f23e","result":null}', "HV00M", 'no "result"'),
            ("an array, not an object", '[{"id":"x"}]', "HV00M", "not a JSON object")]:
        sim_post("/__mock/faults/clear")
        serve(body)
        case("F23 read, 200 with %s: %s, not retried" % (label, st), q, st, ddl=ddl if first else "",
             requests=1, path="/postgres$", post=all_of(text_lacks("COUNT "), text_has(text)))
        first = False

    # writes: the same check; 5xx or no status in the body -> 40003
    ins = ("INSERT INTO t_f23w (name, provider, region, size) VALUES ('f23-svc', 'aws', 'us-east-1', "
           "'r8gd.large') RETURNING id")
    wddl = table_ddl("f23w", updatable=True)
    first = True
    for label, stmt, method, path, body, st, text in [
            ("INSERT, 200 with status 500 in the body", ins, "POST", "/postgres$",
             '{"status":500,"error":"INTERNAL: f23 create","requestId":"rq-f23w1"}', "40003", "rq-f23w1"),
            ("INSERT, 200 with status 500 and a result object", ins, "POST", "/postgres$",
             '{"status":500,"error":"INTERNAL: f23 half","requestId":"rq-f23w0","result":{"id":"%s"}}' % SVC,
             "40003", "rq-f23w0"),
            ("INSERT, 200 with an error and no status", ins, "POST", "/postgres$",
             '{"error":"f23 create no status","requestId":"rq-f23w2"}', "40003", "f23 create no status"),
            ("INSERT, 200 with status 400 in the body", ins, "POST", "/postgres$",
             '{"status":400,"error":"BAD_REQUEST: f23 refused","requestId":"rq-f23w3"}', "HV000", "rq-f23w3"),
            ("INSERT, 200 with status 409 in the body", ins, "POST", "/postgres$",
             '{"status":409,"error":"CONFLICT: f23","requestId":"rq-f23w4"}', "55000", "rq-f23w4"),
            ("INSERT, 200 without result", ins, "POST", "/postgres$", '{"status":200,"requestId":"rq-f23w5"}',
             "HV00M", "probably applied"),
            ("UPDATE, 200 with status 500 in the body",
             "UPDATE t_f23w SET name = 'f23-renamed' WHERE id = '%s'" % SVC, "PATCH", "/postgres/[0-9a-f-]+$",
             '{"status":500,"error":"INTERNAL: f23 patch","requestId":"rq-f23w6"}', "40003", "rq-f23w6"),
            ("DELETE, 200 with status 503 in the body", "DELETE FROM t_f23w WHERE id = '%s'" % SVC, "DELETE",
             "/postgres/[0-9a-f-]+$", '{"status":503,"error":"UNAVAILABLE: f23 delete","requestId":"rq-f23w7"}',
             "40003", "rq-f23w7")]:
        sim_post("/__mock/faults/clear")
        fault({"status": 200, "body": body}, path=path, method=method)
        case("F23 %s: %s, sent once" % (label, st), stmt, st, ddl=wddl if first else "", requests=1,
             method=method, path=path, post=text_has(text))
        first = False
    # the read that checks the new name (W9) gets the same check: no POST
    sim_post("/__mock/faults/clear")
    fault({"status": 200, "body": '{"status":500,"error":"INTERNAL: f23 list","requestId":"rq-f23w8"}'},
          path="/postgres$", method="GET")
    case("F23 INSERT whose name check is answered 200 with status 500: HV000, nothing created", ins, "HV000",
         requests=0, method="POST", path="/postgres$", post=text_has("rq-f23w8"))
    sim_post("/__mock/faults/clear")


def f28_timestamps():
    """F28 / B11: incoming RFC 3339 needs an offset; Unix seconds are UTC;
    outgoing windows are YYYY-MM-DDTHH:MM:SS.mmmZ whatever TimeZone and
    DateStyle say."""
    odd = "SET TimeZone = 'Pacific/Chatham';\nSET DateStyle = 'SQL, DMY';\n"
    ddl = table_ddl("f28", cols="id text, ts timestamptz OPTIONS (field 'ts')", opts={"max_retries": "0"})
    q = "SELECT 'VAL ' || extract(epoch FROM ts)::text FROM t_f28"
    first = True
    for label, v, st, want in [
            ("no offset", '"2026-05-25T16:42:09"', "22007", None),
            ("no offset, space separator", '"2026-05-25 16:42:09"', "22007", None),
            ("+05:45", '"2026-05-25T16:42:09+05:45"', None, "1779706629.000000"),
            ("-03:30", '"2026-05-25T16:42:09-03:30"', None, "1779739929.000000"),
            ("9 fractional digits", '"2026-05-25T16:42:09.123456789Z"', None, "1779727329.123457"),
            ("23:59:60Z (a leap second: the next second)", '"2016-12-31T23:59:60Z"', None, "1483228800.000000"),
            ("Unix seconds", "1779727329", None, "1779727329.000000"),
            ("negative Unix seconds", "-1", None, "-1.000000"),
            ("negative fractional Unix seconds", "-1.5", None, "-1.500000")]:
        sim_post("/__mock/faults/clear")
        serve('{"status":200,"requestId":"f28","result":[{"id":"a","ts":%s}]}' % v)
        case("F28 incoming %s under Pacific/Chatham, SQL DMY: %s" % (label, st or want), q, st,
             ddl=ddl if first else "", pre=odd, requests=1, path="/postgres$",
             post=out_has("VAL " + want) if want else text_has('JSON field "ts"'))
        first = False
    # where the API sends epochs: pganalyze lastSnapshotAt
    sim_post("/__mock/faults/clear")
    serve('{"data":{"d0":[{"id":"s1","name":"one","lastSnapshotAt":-1}]}}', path="/graphql$")
    case("F28 incoming negative epoch (pganalyze lastSnapshotAt -1): 1969-12-31 23:59:59 UTC",
         "SELECT 'VAL ' || extract(epoch FROM last_snapshot_at)::text FROM t_f28g", None,
         ddl=gql_ddl("f28g"), pre=odd, requests=1, path="/graphql$", post=out_has("VAL -1.000000"))
    sim_post("/__mock/faults/clear")

    # outgoing: the same window parameters under every TimeZone x DateStyle
    oddl = table_ddl("f28o", resource="slow_query_patterns",
                     cols="service_id text, from_date timestamptz, to_date timestamptz, query_id bigint")
    first = True
    for tz in ("UTC", "America/New_York", "Pacific/Chatham"):
        for ds in ("ISO", "SQL, DMY"):
            pre = "SET TimeZone = %s;\nSET DateStyle = %s;\n" % (sq(tz), sq(ds))
            stmt = ("SELECT count(*) FROM t_f28o WHERE service_id = '%s' AND from_date = "
                    "'2026-05-25 10:00:00.123456+00' AND to_date = '2026-05-26 00:00:00+00';\n"
                    "SELECT count(*) FROM t_f28o WHERE service_id = '%s' AND from_date = now() - interval '1 hour'"
                    % (SVC, SVC))

            def post(r, j, problems):
                if len(j) != 2:
                    return
                p0, p1 = j[0]["params"], j[1]["params"]
                if p0.get("from_date") != ["2026-05-25T10:00:00.123Z"] or \
                        p0.get("to_date") != ["2026-05-26T00:00:00.000Z"]:
                    problems.append("explicit window sent as %s .. %s" % (p0.get("from_date"), p0.get("to_date")))
                fmt = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
                for k in ("from_date", "to_date"):
                    v = (p1.get(k) or [""])[0]
                    if not fmt.match(v):
                        problems.append("default window %s sent as %r" % (k, v))
                        return
                now = time.time()
                to = datetime.datetime.strptime(p1["to_date"][0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                fr = datetime.datetime.strptime(p1["from_date"][0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                if abs(to - now) > 60 or abs((to - fr) - 3600) > 1:
                    problems.append("default window %s .. %s is not the last hour in UTC"
                                    % (p1["from_date"][0], p1["to_date"][0]))
            case("F28 outgoing window under TimeZone %s, DateStyle %s: .mmmZ" % (tz, ds), stmt, None,
                 ddl=oddl if first else "", pre=pre, requests=2, path="slowQueryPatterns$", post=post)
            first = False
    # pganalyze gets Unix seconds
    stmt = ("SELECT count(*) FROM t_f28p WHERE database_id = '12345' AND start_ts = "
            "'2026-05-25 10:00:00.999+00' AND end_ts = '2026-05-26 00:00:00+00'")

    def gpost(r, j, problems):
        if len(j) != 1:
            return
        v = (j[0].get("graphql") or {}).get("variables") or {}
        got = sorted((k, x) for k, x in v.items() if k.endswith(("startTs", "endTs")))
        want = [("d0_endTs", 1779753600), ("d0_startTs", 1779703200)]
        if got != want:
            problems.append("variables %s, expected %s" % (got, want))
    case("F28 outgoing pganalyze window under Pacific/Chatham: Unix seconds", stmt, None,
         ddl=gql_ddl("f28p", resource="query_stats",
                     cols="database_id text, start_ts timestamptz, end_ts timestamptz, id text"),
         pre=odd, requests=1, path="/graphql$", post=gpost)


def f29_redaction():
    """F29 / C3 / C16: the key or a password echoed by the API is redacted
    wherever API text reaches a message."""
    pw = "hunter2-F29-pw"
    b64 = base64.b64encode(("test-key:" + CANARY).encode()).decode()
    echo = 'key %s basic %s, "password": "%s"' % (CANARY, b64, pw)
    red = all_of(text_has("[redacted]"), text_lacks(pw))
    q = "SELECT 'COUNT ' || count(t.*) FROM t_f29 t"
    ddl = table_ddl("f29", opts={"max_retries": "0"})
    first = True
    for label, act, st in [
            ("400 error echoing key, basic auth and a password",
             {"status": 400, "body": json.dumps({"status": 400, "error": "BAD_REQUEST: " + echo,
                                                 "requestId": "rq-f29a"})}, "HV000"),
            ("200 error envelope echoing them",
             {"status": 200, "body": json.dumps({"status": 500, "error": "INTERNAL: " + echo,
                                                 "requestId": "rq-f29b"})}, "HV000"),
            ("502 text/plain body echoing them",
             {"status": 502, "content_type": "text/plain", "body": "upstream said: {%s}" % echo}, "HV000"),
            ("200 HTML page echoing them",
             {"status": 200, "content_type": "text/html", "body": "<p>{%s}</p>" % echo}, "HV00M")]:
        sim_post("/__mock/faults/clear")
        fault(act)
        case("F29 %s: %s, redacted" % (label, st), q, st, ddl=ddl if first else "", requests=1,
             path="/postgres$", post=red)
        first = False
    # a create that fails after the API made a password: not in the message
    sim_post("/__mock/faults/clear")
    fault({"status": 409, "body": json.dumps({"status": 409, "error": 'CONFLICT: {"password": "%s"}' % pw,
                                              "requestId": "rq-f29c", "result": {"password": pw}})},
          method="POST")
    case("F29 INSERT answered 409 with the new password in the body: redacted",
         "INSERT INTO t_f29w (name, provider, region, size) VALUES ('f29', 'aws', 'us-east-1', 'r8gd.large')",
         "55000", ddl=table_ddl("f29w", updatable=True), requests=1, method="POST", path="/postgres$",
         post=red)
    # GraphQL error messages echoing the API key
    sim_post("/__mock/faults/clear")
    fault({"status": 200, "body": json.dumps({"errors": [{"message": 'token %s is not valid, "password": "%s"'
                                                          % (CANARY, pw)}]})}, path="/graphql$")
    case("F29 GraphQL error echoing the API key: redacted", "SELECT count(*) FROM t_f29g", "HV000",
         ddl=gql_ddl("f29g"), requests=1, path="/graphql$", post=red)
    sim_post("/__mock/faults/clear")


def gaps_c11_c12_b12():
    """Cheap checks of RELIABILITY section 3 that pg_regress does not make:
    C11 at request time (a mapping that bypassed the validator), C12 on the
    single-object path and in GraphQL variables, B12 a 64 KiB error."""
    # C11: the validator refuses CR/LF (sql/option.sql); a catalog edited
    # behind its back is refused again before any request
    ddl = gql_ddl("c11") + (
        "UPDATE pg_user_mapping SET umoptions = ARRAY[E'api_key=abc\\r\\nX-Injected: 1'] "
        "WHERE umserver = (SELECT oid FROM pg_foreign_server WHERE srvname = 's_c11');\n")
    case("C11 api_key with CR LF (validator bypassed): ERROR, 0 requests", "SELECT count(*) FROM t_c11",
         "22023", ddl=ddl, requests=0, path="/graphql$",
         post=all_of(text_has("contains invalid characters"), text_lacks("X-Injected")))
    # C12: an id that could change the request's path: refused before any
    # request (pg_regress covers slow_query_patterns' service_id only)
    first = True
    for label, stmt in [
            ("SELECT by id", "SELECT count(*) FROM t_c12 WHERE id = '../../x?y=1#'"),
            ("DELETE by id", "DELETE FROM t_c12 WHERE id = '../../x?y=1#'"),
            ("UPDATE by id, percent-encoded dots", "UPDATE t_c12 SET name = 'x' WHERE id = '%2e%2e/x'")]:
        case("C12 %s: 22023, 0 requests" % label, stmt, "22023",
             ddl=table_ddl("c12", updatable=True) if first else "", requests=0,
             post=text_has('invalid identifier for column "id"'))
        first = False
    # C12: GraphQL values travel as variables, never in the document
    evil = '"){__schema{types{name}}}#'
    def in_variables(r, j, problems):
        for e in j:
            g = e.get("graphql") or {}
            if "__schema" in (g.get("query") or ""):
                problems.append("the value reached the GraphQL document")
            if evil not in json.dumps(g.get("variables"), ensure_ascii=False) and \
                    evil not in (g.get("variables") or {}).values():
                problems.append("the value is not among the variables")
    # the simulator knows no such database: HV000 from its answer, after the
    # value travelled as a variable
    case("C12 GraphQL value with a closing quote and a selection: stays in variables",
         "SELECT count(*) FROM t_c12g WHERE database_id = %s" % sq(evil), ("ok", "HV000"),
         ddl=gql_ddl("c12g", resource="query_stats", cols="database_id text, id text"), requests=1,
         path="/graphql$", post=in_variables)
    # B12: a 64 KiB error with control bytes and the key: DETAIL <= 1 KiB, clean
    big = ("\x01\x1b[31m " + CANARY + " " + "x" * 200 + "\x07") * 300
    for label, act in [
            ("JSON error member", {"status": 400, "body": json.dumps({"status": 400, "error": big,
                                                                       "requestId": "rq-b12"})}),
            ("text/plain body", {"status": 400, "content_type": "text/plain", "body": big}),
            ("200 envelope", {"status": 200, "body": json.dumps({"status": 500, "error": big,
                                                                  "requestId": "rq-b12e"})})]:
        sim_post("/__mock/faults/clear")
        fault(act)
        case("B12 64 KiB error with control bytes and the key (%s): DETAIL <= 1 KiB, clean" % label,
             "SELECT count(*) FROM t_b12", "HV000", ddl=table_ddl("b12", opts={"max_retries": "0"}),
             requests=1, path="/postgres$", post=detail_max(1024))
    sim_post("/__mock/faults/clear")


def excerpt_short(r, j, problems):
    m = re.search(r'the body begins: "(.*)"', r["text"])
    if not m:
        m2 = re.search(r"DETAIL:  (.*)", r["text"])
        if m2 and len(m2.group(1).encode()) > 1024:
            problems.append("DETAIL longer than 1 KiB")
        return
    if len(m.group(1).encode()) > 260:  # 200 bytes of body, escaped
        problems.append("excerpt of %d bytes" % len(m.group(1).encode()))
    if "\x1b" in r["text"] or "\x01" in r["text"]:
        problems.append("control bytes unescaped")


def rss_check(cap_kb):
    def post(r, j, problems):
        a = re.search(r"^RSS0 (\d+)", r["out"], re.M)
        b = re.search(r"^HWM1 (\d+)", r["out"], re.M)
        if not a or not b:
            problems.append("no RSS figures")
            return
        grow = int(b.group(1)) - int(a.group(1))
        print("   # RSS %s kB, peak after %s kB (growth %d kB, cap %d kB)" % (a.group(1), b.group(1), grow,
                                                                            cap_kb))
        if grow > 2 * cap_kb:
            problems.append("RSS grew %d kB > 2 x cap" % grow)
    return post


def hang_cancel(name, how):
    sim_post("/__mock/faults/clear")
    fault({"hang": True, "seconds": 30})
    problems = []
    m = seq()
    app = "faults-" + how
    tag = "f3" + how[0]
    script = (table_ddl(tag) + "SELECT 'T0 ' || extract(epoch from clock_timestamp());\n"
              "SELECT count(*) FROM t_%s;\nSELECT 'T1 ' || extract(epoch from clock_timestamp());\n"
              "SELECT 'ALIVE ' || 1;\n" % tag)
    res = {}

    def run():
        res["out"] = psql(script, app=app, timeout=60)
    th = threading.Thread(target=run)
    th.start()
    wait_ev = None
    pid = None
    deadline = time.time() + 10
    while time.time() < deadline:
        out = psql("SELECT pid || ' ' || coalesce(wait_event_type, '-') || ' ' || coalesce(wait_event, '-') "
                   "FROM pg_stat_activity WHERE application_name = %s AND state = 'active' "
                   "AND query LIKE 'SELECT count(*)%%';\n" % sq(app), db="postgres").strip()
        if out:
            pid, wtype, wev = out.split()[:3]
            if wtype == "Extension":
                wait_ev = wtype + "/" + wev
                time.sleep(0.2)
                break
        time.sleep(0.1)
    if not pid:
        problems.append("the hung query never showed in pg_stat_activity")
    if not wait_ev:
        problems.append("no Extension wait event during the hang")
    t = time.time()
    if pid:
        fn = "pg_cancel_backend" if how == "cancel" else "pg_terminate_backend"
        psql("SELECT %s(%s);\n" % (fn, pid), db="postgres")
    th.join(30)
    took = time.time() - t
    r = parse(res.get("out", ""))
    if took > 1.5:
        problems.append("took %.2f s after the signal" % took)
    if how == "cancel":
        if r["state"] != "57014":
            problems.append("SQLSTATE %s, expected 57014" % r["state"])
        if not r["alive"]:
            problems.append("SELECT 1 failed afterwards")
    else:
        if not re.search(r"FATAL:  57P01", r["out"]):
            problems.append("no FATAL 57P01")
        if "ALIVE 1" not in psql("SELECT 'ALIVE ' || 1;\n"):
            problems.append("a new session does not work")
    check_text(r, problems)
    n = len(journal(m))
    if n != 1:
        problems.append("%d requests, expected 1" % n)
    report(name, problems, "wait event %s, %.2f s after the signal" % (wait_ev, took))
    if problems:
        print("   | " + "\n   | ".join(r["out"].splitlines()[-12:]))


def latin1_case():
    db = DB + "_latin1"
    out = psql("DROP DATABASE IF EXISTS %s WITH (FORCE);\nCREATE DATABASE %s ENCODING 'LATIN1' LOCALE 'C' "
               "TEMPLATE template0;\n" % (db, db), db="postgres")
    out += psql("CREATE EXTENSION pgapi_fdw;\n", db=db)
    if "ERROR" in out:
        report("F18 emoji into a LATIN1 database", ["setup: " + out.strip()[:200]])
        return
    sim_post("/__mock/faults/clear")
    fault({"status": 200, "body": '{"status":200,"result":[{"id":"x","name":"snow \u2603 \U0001F600"}]}'})
    case("F18 emoji into a LATIN1 database: 22P05", "SELECT 'COUNT ' || count(name) FROM t_lat", "22P05",
         ddl=table_ddl("lat", opts={"max_retries": "0"}), requests=1, db=db)
    psql("DROP DATABASE IF EXISTS %s WITH (FORCE);\n" % db, db="postgres")


def start_second_sim():
    d = tempfile.mkdtemp(prefix="faults-sim2.")
    pf = os.path.join(d, "port")
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "apisim.py"), "--port", "0", "--port-file", pf,
                          "--journal", os.path.join(d, "journal.jsonl")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(pf) and open(pf).read().strip():
            return p, int(open(pf).read()), d
        time.sleep(0.1)
    raise SystemExit("second simulator did not start")


if __name__ == "__main__":
    sys.exit(main())
