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
import email.utils
import json
import os
import re
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


def psql(script, db=DB, timeout=120, app="faults"):
    env = dict(os.environ, PGAPPNAME=app)
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
              org=True):
    o = {"api": "clickhouse_cloud", "url": url or SIM, "requests_per_window": "100000"}
    if org:
        o["organization_id"] = ORG
    o.update(opts or {})
    olist = ", ".join("%s %s" % (k, sq(v)) for k, v in o.items())
    if resource == "postgres_services":
        cols = "id text, name text, provider text, region text, size text, tags jsonb, state text"
    else:
        cols = "service_id text, query_id bigint, query_text text, call_count bigint"
    topts = "resource %s%s" % (sq(resource), ", updatable 'true'" if updatable else "")
    return ("DROP SERVER IF EXISTS s_{t} CASCADE;\n"
            "CREATE SERVER s_{t} FOREIGN DATA WRAPPER pgapi_fdw OPTIONS ({o});\n"
            "CREATE USER MAPPING FOR CURRENT_USER SERVER s_{t} OPTIONS (key_id {k}, key_secret {c});\n"
            "CREATE FOREIGN TABLE t_{t} ({cols}) SERVER s_{t} OPTIONS ({topts});\n"
            ).format(t=tag, o=olist, k=sq(key_id), c=sq(CANARY), cols=cols, topts=topts)


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
    case("F1 refused write: HV00N, not retried", "INSERT INTO t_f1w (name, provider, region, size) "
         "VALUES ('f1w', 'aws', 'us-east-1', 'r8gd.large')", "HV00N",
         ddl=table_ddl("f1w", url="http://127.0.0.1:%d" % dead_port, updatable=True), max_s=1.0,
         post=lambda r, j, p: p.append("write retried") if "Gave up" in r["text"] else None)

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

    # --- F24 pagination that never advances ---------------------------------------------------------------
    pats = json.load(open(os.path.join(HERE, "fixtures/clickhouse/slow_query_patterns_list.200.json")))
    page = json.dumps({"status": 200, "requestId": "p", "result": pats["result"][:2]})
    clear()
    fault({"status": 200, "body": page}, path="slowQueryPatterns$", times=-1)
    sid = "f71df78e-ddad-82d0-8dfa-abbec741b82e"
    case("F24 the same page forever: ERROR within max_pages", "SELECT 'COUNT ' || count(*) FROM t_f24 "
         "WHERE service_id = '%s'" % sid, ("HV00M", "54000"),
         ddl=table_ddl("f24", opts={"page_size": "2", "max_pages": "5"}, resource="slow_query_patterns"),
         requests=(2, 6), path="slowQueryPatterns$")
    clear()

    # --- F25 oversize -------------------------------------------------------------------------------------------
    for label, o in (("Content-Length 2 GiB", {"bytes": 2 << 30, "chunked": False}),
                     ("endless chunked", {"bytes": 2 << 30, "chunked": True})):
        clear()
        fault({"oversize": o})
        case("F25 %s: 54000 at the cap, RSS growth < 2 x cap" % label, Q % "f25", "54000", requests=1,
             ddl=table_ddl("f25", opts=FAST), max_s=20,
             pre="SELECT 'RSS0 ' || (regexp_match(pg_read_file('/proc/self/status'), "
                 "'VmRSS:\\s+(\\d+)'))[1];\n",
             after_sql="SELECT 'HWM1 ' || (regexp_match(pg_read_file('/proc/self/status'), "
                       "'VmHWM:\\s+(\\d+)'))[1];\n", post=rss_check(16 * 1024))

    # --- F26 huge headers -------------------------------------------------------------------------------------------
    for label, hh in (("64 KiB header", {"bytes": 65536, "count": 1}),
                      ("10,000 headers", {"bytes": 8, "count": 10000})):
        clear()
        fault({"huge_header": hh})
        case("F26 %s: normal or clean ERROR" % label, Q % "f26", ("ok", "HV00N", "HV00M", "54000"),
             ddl=table_ddl("f26", opts=FAST), requests=1)

    f27_tls()

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
        return
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
        if os.path.exists(pf):
            return p, int(open(pf).read())
        time.sleep(0.1)
    raise SystemExit("second simulator did not start")


if __name__ == "__main__":
    sys.exit(main())
