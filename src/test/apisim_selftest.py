#!/usr/bin/env python3
"""Self-test for apisim.py: starts the simulator on an ephemeral port and exercises it.

Usage: python3 src/test/apisim_selftest.py [-v]
Last line of output: "N passed, N failed"; exit status 1 on any failure.
"""

import base64
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
ORG = "5c6a4f0e-2b1d-4c9e-9a63-7d2f1e8b4a10"
S1 = "f71df78e-ddad-82d0-8dfa-abbec741b82e"
S2 = "0c330583-6396-86d0-82cd-ed0f23b0d38c"
PG = "/v1/organizations/%s/postgres" % ORG
VERBOSE = "-v" in sys.argv
PORT = None
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        if VERBOSE:
            print("ok   %s" % name)
    else:
        failed += 1
        print("FAIL %s %s" % (name, str(detail)[:600]))
    return cond


def fx(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


def fxj(name):
    return json.loads(fx(name))


def basic(user="key1", secret="s3cret"):
    return "Basic " + base64.b64encode(("%s:%s" % (user, secret)).encode()).decode()


def req(method, path, body=None, headers=None, auth="default", timeout=10, conn=None):
    h = dict(headers or {})
    if auth == "default":
        auth = basic()
    if auth is not None:
        h["Authorization"] = auth
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    c = conn or http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r.status, r, data


def ch(method, path, body=None, **kw):
    st, r, data = req(method, path, body, **kw)
    try:
        j = json.loads(data)
    except ValueError:
        j = None
    return st, j


def gql(query, variables=None, token="tok", op=None):
    body = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if op:
        body["operationName"] = op
    st, r, data = req("POST", "/graphql", body, auth=("Token " + token) if token else None)
    return st, json.loads(data)


def mock(path, obj=None):
    if obj is None and path.endswith(("journal", "seq", "faults", "config", "status")) and not path.endswith("faults/clear"):
        st, r, data = req("GET", "/__mock/" + path, auth=None)
    else:
        st, r, data = req("POST", "/__mock/" + path, obj if obj is not None else {}, auth=None)
    return json.loads(data)


def fault(action, match=None, times=1):
    return mock("fault", {"match": match or {}, "times": times, "action": action})


def seq():
    return mock("seq")["seq"]


def journal(since):
    st, r, data = req("GET", "/__mock/journal?since=%d" % since, auth=None)
    return json.loads(data)


def raw(request_bytes, timeout=5.0, max_bytes=1 << 22):
    """Send raw bytes, read until EOF/RST/timeout. Returns (data, how)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    s.sendall(request_bytes)
    buf = b""
    how = "eof"
    try:
        while len(buf) < max_bytes:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        else:
            how = "max"
    except ConnectionResetError:
        how = "rst"
    except socket.timeout:
        how = "timeout"
    s.close()
    return buf, how


def raw_get(path, auth=None, extra=b""):
    a = auth or basic()
    return (b"GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n%s\r\n" % (path.encode(), a.encode(), extra))


def split_resp(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        hdrs[k.strip().lower().decode()] = v.strip().decode("latin-1")
    return lines[0].decode("latin-1"), hdrs, body


def iso(us):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us))


# ---------------------------------------------------------------------------

def t_clickhouse():
    st, j = ch("GET", "/v1/organizations", auth=None)
    check("401 without auth", st == 401 and set(j) == {"status", "error", "requestId"} and j["status"] == 401, j)
    st, j = ch("GET", "/v1/organizations", auth=basic("k", "wrong"))
    check("401 wrong secret", st == 401 and j["error"] == fxj("clickhouse/error.401.json")["error"], j)
    st, j = ch("GET", "/v1/organizations", auth=basic("k", ""))
    check("401 empty secret", st == 401, j)
    st, j = ch("GET", "/v1/organizations", auth="Bearer abc")
    check("401 not basic", st == 401, j)
    st, j = ch("GET", "/v1/organizations", auth=basic("k", "forbidden"))
    check("403 forbidden", st == 403 and j["error"].startswith("FORBIDDEN:") and j["status"] == 403, j)
    st, r, data = req("GET", "/v1/organizations")
    j = json.loads(data)
    check("orgs", st == 200 and r.getheader("Content-Type") == "application/json" and
          j["result"] == fxj("clickhouse/organizations_list.200.json")["result"] and j["status"] == 200
          and len(j["requestId"]) == 36, j)
    st, j = ch("GET", PG)
    exp = fxj("clickhouse/postgres_list.200.json")["result"]
    check("list == sample", st == 200 and j["result"] == exp, j)
    st, j = ch("GET", PG + "/" + S1)
    check("get == sample", st == 200 and j["result"] == fxj("clickhouse/postgres_get.200.json")["result"], j)
    st, j = ch("GET", PG + "/" + S2)
    check("get svc2 no secrets", st == 200 and "password" not in j["result"] and
          "connectionString" not in j["result"] and j["result"]["hostname"], j)
    st, j = ch("GET", "/v1/organizations/00000000-0000-4000-8000-000000000000/postgres")
    check("unknown org 404", st == 404 and j["error"] == "NOT_FOUND: Unknown Error", j)
    st, j = ch("GET", PG + "/nope")
    check("unknown svc 404", st == 404 and j["error"] == "NOT_FOUND: Unknown Error", j)
    st, j = ch("GET", "/v1/whatever")
    check("unknown route 404", st == 404, j)

    # create
    creq = fxj("clickhouse/postgres_create.request.json")
    st, j = ch("POST", PG, {k: v for k, v in creq.items() if k != "size"})
    check("create missing size 400", st == 400 and j["error"].startswith("BAD_REQUEST"), j)
    st, j = ch("POST", PG, dict(creq, size="huge"))
    check("create bad size 400", st == 400, j)
    st, j = ch("POST", PG, dict(creq, provider="gcp"))
    check("create bad provider 400", st == 400, j)
    st, j = ch("POST", PG, dict(creq, postgresVersion="16"))
    check("create bad version 400", st == 400, j)
    st, j = ch("POST", PG, dict(creq, haType="multi"))
    check("create bad haType 400", st == 400, j)
    st, j = ch("POST", PG, "{not json")
    check("create bad json 400", st == 400, j)
    st, j = ch("POST", PG, creq)
    check("create dup name 409", st == 409 and j["error"].startswith("CONFLICT:"), j)
    newreq = dict(creq, name="newsvc", storageSize=256, tags=[{"key": "team", "value": "db"}])
    st, j = ch("POST", PG, newreq)
    r = j and j.get("result") or {}
    check("create ok", st == 200 and r.get("state") == "creating" and r.get("password") and
          r["password"] in r.get("connectionString", "") and r["storageSize"] == 256 and
          r["tags"] == [{"key": "team", "value": "db"}] and r["name"] == "newsvc" and r["isPrimary"] is True, j)
    nid = r.get("id")
    st, j = ch("GET", PG + "/" + nid)
    check("first GET creating", st == 200 and j["result"]["state"] == "creating" and "password" not in j["result"], j)
    st, j = ch("GET", PG + "/" + nid)
    check("second GET running", j["result"]["state"] == "running", j)
    st, j = ch("GET", PG)
    check("list has new", [s["name"] for s in j["result"]] == ["oltp", "oltp-replica", "newsvc"], j)

    # patch
    st, j = ch("PATCH", PG + "/" + nid, fxj("clickhouse/postgres_patch.request.json"))
    check("patch tags", st == 200 and j["result"]["tags"] == [{"key": "Environment", "value": "production"}], j)
    st, j = ch("PATCH", PG + "/" + nid, {"name": "renamed", "size": "r8gd.xlarge", "haType": "async"})
    check("patch fields", st == 200 and j["result"]["name"] == "renamed" and j["result"]["size"] == "r8gd.xlarge"
          and j["result"]["haType"] == "async" and j["result"]["tags"] == [{"key": "Environment", "value": "production"}], j)
    st, j = ch("PATCH", PG + "/" + nid, {"tags": None})
    check("patch tags null", st == 200 and j["result"]["tags"] == [], j)
    st, j = ch("PATCH", PG + "/" + nid, {"region": "eu-west-1"})
    check("patch other key 400", st == 400, j)
    st, j = ch("PATCH", PG + "/" + nid, {"name": "oltp"})
    check("patch rename conflict 409", st == 409, j)
    st, j = ch("PATCH", PG + "/" + nid, {"size": "bogus"})
    check("patch bad size 400", st == 400, j)
    # state
    st, j = ch("PATCH", PG + "/" + S1 + "/state", {"command": "restart"})
    check("state restart", st == 200 and j["result"]["state"] == "restarting", j)
    st, j = ch("GET", PG + "/" + S1)
    st, j = ch("GET", PG + "/" + S1)
    check("state back to running", j["result"]["state"] == "running", j)
    st, j = ch("PATCH", PG + "/" + S1 + "/state", {"command": "stop"})
    check("state bad command 400", st == 400, j)
    # password
    st, j = ch("PATCH", PG + "/" + S1 + "/password", {})
    check("password generated", st == 200 and len(j["result"]["password"]) >= 12, j)
    st, j = ch("PATCH", PG + "/" + S1 + "/password", {"password": "short"})
    check("password weak 400", st == 400, j)
    st, j = ch("PATCH", PG + "/" + S1 + "/password", {"password": "GoodPassword123"})
    check("password given", st == 200 and j["result"] == {}, j)
    # config
    st, j = ch("GET", PG + "/" + S1 + "/config")
    check("config get", st == 200 and j["result"] == fxj("clickhouse/postgres_config_get.200.json")["result"], j)
    st, j = ch("POST", PG + "/" + S1 + "/config", fxj("clickhouse/postgres_config_post.request.json"))
    check("config post == sample", st == 200 and j["result"] == fxj("clickhouse/postgres_config_post.200.json")["result"], j)
    st, j = ch("PATCH", PG + "/" + S1 + "/config", {"pgConfig": {"work_mem": "8MB"}, "pgBouncerConfig": {"pool_mode": "transaction"}})
    check("config patch merges", st == 200 and j["result"]["pgConfig"] == {"max_connections": "42", "work_mem": "8MB"}
          and j["result"]["pgBouncerConfig"] == {"default_pool_size": "16", "pool_mode": "transaction"}
          and "message" not in j["result"], j)
    st, j = ch("PATCH", PG + "/" + S1 + "/config", {"pgConfig": {"work_mem": "8MB"}})
    check("config patch missing bouncer 400", st == 400, j)
    st, j = ch("PATCH", PG + "/" + S1 + "/config", {"pgConfig": {"shared_buffers": "1GB"}, "pgBouncerConfig": {"a": "b"}})
    check("config unknown key 400", st == 400, j)
    st, j = ch("POST", PG + "/" + S1 + "/config", {"pgConfig": {}, "pgBouncerConfig": {"a": "b"}})
    check("config empty pgConfig 400", st == 400, j)
    st, j = ch("PATCH", PG + "/" + S1 + "/config", {"pgConfig": {"max_connections": 100}, "pgBouncerConfig": {"a": "b"}})
    check("config int value, message", st == 200 and j["result"]["pgConfig"]["max_connections"] == "100"
          and "max_connections" in j["result"].get("message", ""), j)
    st, j = ch("GET", PG + "/" + S1 + "/config")
    check("config persisted", j["result"]["pgConfig"]["max_connections"] == "100", j)
    # other ops
    st, j = ch("POST", PG + "/" + S1 + "/readReplica", {"name": "rep1"})
    check("read replica", st == 200 and j["result"]["isPrimary"] is False and j["result"]["name"] == "rep1", j)
    st, j = ch("POST", PG + "/" + S1 + "/restoredService", {"name": "rest1", "restoreTarget": "2026-05-25T00:00:00Z"})
    check("restored service", st == 200 and j["result"]["state"] == "restoring_backup", j)
    st, j = ch("POST", PG + "/" + S1 + "/restoredService", {"name": "rest2"})
    check("restored service missing target 400", st == 400, j)
    st, r, data = req("GET", PG + "/" + S1 + "/caCertificates")
    check("ca certs", st == 200 and data.startswith(b"-----BEGIN CERTIFICATE-----") and
          r.getheader("Content-Type") == "application/x-pem-file", data[:80])
    # delete
    st, j = ch("DELETE", PG + "/" + nid)
    check("delete", st == 200 and set(j) == {"requestId", "status"} and j["status"] == 200, j)
    st, j = ch("GET", PG + "/" + nid)
    check("get after delete 404", st == 404, j)
    st, j = ch("DELETE", PG + "/" + nid)
    check("delete again 404", st == 404, j)
    st, j = ch("PUT", PG + "/" + S1)
    check("PUT 405", st == 405, j)

    # metrics
    now = int(time.time())
    base = PG + "/" + S1 + "/metrics?"
    st, j = ch("GET", base + urllib.parse.urlencode({"from_date": iso(now - 3600), "to_date": iso(now)}))
    ms = j["result"]["metrics"] if st == 200 else []
    check("metrics default bucket", st == 200 and [m["key"] for m in ms] == ["cpu_usage", "connection_count", "cache_hit_ratio"]
          and len(ms[0]["series"][0]["dataPoints"]) == 240 and [s["label"] for s in ms[0]["series"]] == ["user", "system"]
          and ms[0]["series"][0]["dataPoints"][1]["timestamp"] - ms[0]["series"][0]["dataPoints"][0]["timestamp"] == 15, j if st != 200 else "")
    st, j = ch("GET", base + urllib.parse.urlencode({"from_date": iso(now - 3600), "to_date": iso(now), "bucket_size_seconds": 300}))
    pts = j["result"]["metrics"][1]["series"][0]["dataPoints"]
    check("metrics bucket 300", st == 200 and len(pts) == 12 and pts[0]["timestamp"] == now - 3600 and
          all(isinstance(p["value"], int) for p in pts), pts[:3])
    st, j = ch("GET", base + urllib.parse.urlencode({"from_date": iso(now - 3600), "to_date": iso(now), "bucket_size_seconds": 1}))
    check("metrics too many points 400", st == 400, j)
    st, j = ch("GET", base + urllib.parse.urlencode({"from_date": iso(now - 3600), "to_date": iso(now), "bucket_size_seconds": 0}))
    check("metrics bucket 0 400", st == 400, j)
    st, j = ch("GET", base + urllib.parse.urlencode({"to_date": iso(now)}))
    check("metrics missing from 400", st == 400, j)
    # prometheus
    st, r, data = req("GET", PG + "/" + S1 + "/prometheus")
    check("prometheus instance == sample", st == 200 and data == fx("clickhouse/prometheus_instance.200.txt")
          and r.getheader("Content-Type") == "text/plain; version=0.0.4", data[:300])
    st, r, data = req("GET", PG + "/prometheus")
    txt = data.decode()
    check("prometheus org", st == 200 and txt.count("# TYPE PostgresServiceInfo gauge") == 1 and
          txt.count("PostgresServiceInfo{") == len(ch("GET", PG)[1]["result"]) and S2 in txt and
          all(line in txt for line in fx("clickhouse/prometheus_org.200.txt").decode().splitlines() if line), txt[:300])


def t_patterns():
    now = int(time.time())
    base = PG + "/" + S1 + "/slowQueryPatterns?"

    def lst(svc=S1, **p):
        p.setdefault("from_date", iso(now - 86400))
        p.setdefault("to_date", iso(now + 60))
        return ch("GET", PG + "/" + svc + "/slowQueryPatterns?" + urllib.parse.urlencode(p))

    sample = fxj("clickhouse/slow_query_patterns_list.200.json")["result"]
    st, j = lst()
    check("patterns 24h == sample", st == 200 and j["result"] == sample and j["status"] == 200, j)
    st, j = lst(from_date=iso(now - 4 * 86400))
    check("patterns 4d has old one", st == 200 and len(j["result"]) == 4, j)
    st, j = lst(from_date=iso(now - 4 * 86400), to_date=iso(now - 2 * 86400))
    check("patterns old window", st == 200 and [p["queryId"] for p in j["result"]] == ["7723401198234401022"], j)
    st, j = lst(sort_by="total_blks_read")
    a = [p["queryId"] for p in j["result"]]
    st, j = lst(sort_by="call_count", sort_order="asc")
    b = [p["callCount"] for p in j["result"]]
    check("sort total_blks_read differs from shared", a == ["3184726650127745021", "-4748036479882663975", "-912837465019283746"], a)
    check("sort call_count asc", b == sorted(b), b)
    st, j = lst(sort_by="total_wal_bytes")
    ids = [p["queryId"] for p in j["result"]]
    check("sort ties by queryId asc", ids == ["3184726650127745021", "-4748036479882663975", "-912837465019283746"], ids)
    st, j = lst(db_name="postgres")
    check("filter db_name", [p["dbName"] for p in j["result"]] == ["postgres"], j)
    st, j = lst(db_user="orders_service", db_operation="UPDATE", app="orders-api")
    check("filter combined", [p["queryId"] for p in j["result"]] == ["3184726650127745021"], j)
    st, j = lst(app="nope")
    check("filter no match", st == 200 and j["result"] == [], j)
    st, j = lst(limit=1, offset=1)
    check("limit/offset", [p["queryId"] for p in j["result"]] == ["3184726650127745021"], j)
    st, j = lst(offset=10)
    check("offset past end", st == 200 and j["result"] == [], j)
    for bad, name in [(dict(sort_by="bogus"), "sort_by"), (dict(sort_order="up"), "sort_order"),
                      (dict(limit=0), "limit 0"), (dict(limit=501), "limit 501"), (dict(limit="x"), "limit x"),
                      (dict(offset=-1), "offset -1"), (dict(from_date="yesterday"), "bad date"),
                      (dict(from_date=iso(now), to_date=iso(now)), "from==to"),
                      (dict(from_date="2026-05-25T00:00:00"), "no offset")]:
        st, j = lst(**bad)
        check("patterns 400 " + name, st == 400 and j["error"].startswith("BAD_REQUEST"), j)
    st, j = lst(from_date="garbage")
    check("bad date text", j["error"] == "BAD_REQUEST: 'garbage'", j)
    st, j = ch("GET", base + urllib.parse.urlencode({"from_date": iso(now - 86400)}))
    check("missing to_date 400", st == 400, j)
    st, j = lst(from_date=time.strftime("%Y-%m-%dT%H:%M:%S.123456789+05:45", time.gmtime(now - 86400 + 5 * 3600 + 45 * 60)),
                to_date=iso(now + 60).replace("Z", "+00:00"))
    check("offset and fraction accepted", st == 200 and len(j["result"]) == 3, j)
    st, j = lst(svc=S2)
    check("svc2 patterns", st == 200 and len(j["result"]) == 5 and
          not set(p["queryId"] for p in j["result"]) & set(p["queryId"] for p in sample), j)
    st, j = lst(svc=S2, sort_by="total_blks_read")
    a = [p["queryId"] for p in j["result"]]
    st, j = lst(svc=S2)
    check("svc2 tie in total_duration broken by queryId",
          [p["queryId"] for p in j["result"]][:2] == ["-1152921504606846976", "123456789012345678"], j)
    # detail
    d = PG + "/" + S1 + "/slowQueryPatterns/"
    st, j = ch("GET", d + "-4748036479882663975?db_name=sales&db_user=orders_service&db_operation=SELECT")
    check("detail == sample", st == 200 and j["result"] == fxj("clickhouse/slow_query_pattern_get.200.json")["result"], j)
    st, j = ch("GET", d + "-4748036479882663975?db_name=sales&db_user=orders_service")
    check("detail missing db_operation 400", st == 400, j)
    st, j = ch("GET", d + "-4748036479882663975?db_name=sales&db_user=x&db_operation=SELECT")
    check("detail db mismatch 404", st == 404, j)
    st, j = ch("GET", d + "-4748036479882663975?db_name=sales&db_user=orders_service&db_operation=SELECT&app=zzz")
    check("detail app mismatch 404", st == 404, j)
    st, j = ch("GET", d + "42?db_name=sales&db_user=orders_service&db_operation=SELECT")
    check("detail unknown 404", st == 404, j)
    st, j = ch("GET", d + "3184726650127745021?db_name=sales&db_user=orders_service&db_operation=UPDATE&timestamp=2026-05-25T00:00:00Z")
    ex = j["result"]["recentExecutions"] if st == 200 else []
    tmpl = fxj("clickhouse/slow_query_pattern_get.200.json")["result"]["recentExecutions"][0]
    check("detail generated executions", st == 200 and 1 <= len(ex) <= 3 and
          all(set(tmpl) - {"traceId", "spanId"} <= set(e) for e in ex) and len(j["result"]["aggregate"]) == 19, j)
    st, j = ch("GET", d + "3184726650127745021?db_name=sales&db_user=orders_service&db_operation=UPDATE&timestamp=bad")
    check("detail bad timestamp 400", st == 400, j)


def t_graphql():
    st, j = gql("{ getServers { id } }", token=None)
    check("gql 401 no token", st == 401 and j == {"errors": [{"message": "Unauthorized"}]}, j)
    st, j = gql("{ getServers { id } }", token="wrong")
    check("gql 401 wrong", st == 401, j)
    st, r, data = req("POST", "/graphql", fx("pganalyze/getQueryStats.request.json"),
                      headers={"Content-Type": "application/json"}, auth="Token abc")
    j = json.loads(data)
    rows = j["data"]["getQueryStats"]
    exp = fxj("pganalyze/getQueryStats.200.json")["data"]["getQueryStats"]
    want = [{k: v for k, v in e.items() if k != "tableNames"} for e in exp]
    check("gql sample request", st == 200 and rows[:2] == want and len(rows) == 5 and
          [x["pctOfTotal"] for x in rows] == sorted([x["pctOfTotal"] for x in rows], reverse=True), j)
    q = ("query Q($d0: ID!, $d1: ID!, $d2: ID!, $s: Int, $e: Int) { d0: getQueryStats(databaseId: $d0, startTs: $s, endTs: $e) "
         "{ id pctOfTotal } d1: getQueryStats(databaseId: $d1) { id } d2: getQueryStats(databaseId: $d2) { id } }")
    st, j = gql(q, {"d0": "12345", "d1": 22222, "d2": "999", "s": 1, "e": 2})
    check("gql aliases", st == 200 and list(j["data"]) == ["d0", "d1", "d2"] and len(j["data"]["d0"]) == 5 and
          [x["id"] for x in j["data"]["d1"]] == ["990001", "990002"] and j["data"]["d2"] is None and
          j["errors"][0]["message"] == "Database not found" and j["errors"][0]["path"] == ["d2"] and
          "locations" in j["errors"][0], j)
    st, j = gql("query { getQueryStats(databaseId: 12346, limit: 2) { id, totalCalls } }")
    check("gql literal + limit", [x["id"] for x in j["data"]["getQueryStats"]] == ["880001", "880002"] and
          list(j["data"]["getQueryStats"][0]) == ["id", "totalCalls"], j)
    st, j = gql("query { getQueryStats { id } }")
    e = j.get("errors", [{}])[0]
    check("gql missing arg", "data" not in j and e.get("extensions", {}).get("code") == "missingRequiredArguments" and
          e["message"] == fxj("pganalyze/error.missing_argument.200.json")["errors"][0]["message"] and
          e["path"] == ["query", "getQueryStats"], j)
    st, j = gql("query { getQueryStats(databaseId: 12345) { id, queryUrl, truncatedQuery, statementType, tableNames } }")
    e = j.get("errors", [{}])[0]
    exp = fxj("pganalyze/error.undefined_field.200.json")["errors"][0]
    check("gql undefined field", "data" not in j and e.get("message") == exp["message"] and e["extensions"] == exp["extensions"]
          and e["path"] == exp["path"], j)
    st, j = gql("query($d: ID!) { getQueryStats(databaseId: $d) { id } }", {})
    check("gql null for non-null variable", "data" not in j and "errors" in j, j)
    st, j = gql("query { getQueryStats(databaseId: $zz) { id } }")
    check("gql undeclared variable", "data" not in j and j["errors"][0]["extensions"]["code"] == "variableNotDefined", j)
    st, j = gql("query { getQueryStats(databaseId: 1, startTs: \"x\") { id } }")
    check("gql bad literal type", "data" not in j, j)
    st, j = gql("query { getQueryStats(databaseId: 1) { id } ")
    check("gql parse error", "data" not in j and "Parse error" in j["errors"][0]["message"], j)
    st, j = gql("{ getQueryStats(databaseId: 12345) }")
    check("gql object without selection", "data" not in j, j)
    st, j = gql("{ getQueryStats(databaseId: 12345) { id { x } } }")
    check("gql scalar with selection", "data" not in j, j)
    st, j = gql("# comment\n{\n  a: getQueryStats(databaseId: \"1234\\u0035\") { # c\n id, __typename }\n}")
    check("gql comments, escapes, anonymous", j.get("data", {}).get("a", [{}])[0].get("__typename") == "QueryStatsType", j)
    st, j = gql("query A { getServers { id } } query B { x: getServers { humanId } }", op="B")
    check("gql operationName", list(j["data"]) == ["x"], j)
    st, j = gql("fragment F on ServerType { name } query { getServers { ...F id } }")
    check("gql fragment", j.get("data", {}).get("getServers", [{}])[0] == {"name": "pgbench", "id": "9b1f2e4c-7a3d-4c8e-b2a1-0d9e8f7c6b5a"}, j)
    # legacy
    mock("config", {"pganalyze_legacy": True})
    st, j = gql("{ getQueryStats(databaseId: 12345) { statementType } }")
    check("gql legacy statementType", j.get("data", {}).get("getQueryStats", [{}])[0] == {"statementType": ["UPDATE"]}, j)
    st, j = gql("{ getQueryStats(databaseId: 12345) { statementTypes } }")
    check("gql legacy no statementTypes", "data" not in j and j["errors"][0]["extensions"]["code"] == "undefinedField", j)
    mock("config", {"pganalyze_legacy": False})
    # form bodies
    form = fx("pganalyze/getQueryStats.request.form.txt").decode().splitlines()[-1]
    qtext = form[len("query="):].replace("statementTypes", "statementTypes")
    st, r, data = req("POST", "/graphql", urllib.parse.urlencode({"query": qtext}),
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, auth="Token abc")
    j = json.loads(data)
    check("gql urlencoded", st == 200 and len(j["data"]["getQueryStats"]) == 5, j)
    bnd = "----apisimBoundary7"
    mp = ("--%s\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\n"
          "query($d: ID!) { getQueryStats(databaseId: $d) { id } }\r\n"
          "--%s\r\nContent-Disposition: form-data; name=\"variables\"\r\n\r\n{\"d\": \"12346\"}\r\n--%s--\r\n") % (bnd, bnd, bnd)
    st, r, data = req("POST", "/graphql", mp.encode(), headers={"Content-Type": "multipart/form-data; boundary=" + bnd},
                      auth="Token abc")
    j = json.loads(data)
    check("gql multipart", st == 200 and [x["id"] for x in j["data"]["getQueryStats"]] == ["880001", "880002", "880003"], j)
    # servers
    st, j = gql(json.loads(fx("pganalyze/getServers.request.json"))["query"])
    check("gql getServers sample (withRecentData)", j == fxj("pganalyze/getServers.200.json"), j)
    st, j = gql("{ getServers { humanId databases { id datname displayName } } }")
    s = j["data"]["getServers"]
    check("gql servers databases", len(s) == 2 and [d["id"] for d in s[0]["databases"]] == ["12345", "12346"] and
          s[0]["databases"][1]["datname"] == "app" and s[1]["databases"] == [{"id": "22222", "datname": "analytics",
                                                                             "displayName": "analytics"}], j)
    st, j = gql("{ getServers(systemType: \"self_hosted\") { name } }")
    check("gql servers filter", j["data"]["getServers"] == [{"name": "analytics"}], j)
    # issues
    st, j = gql(json.loads(fx("pganalyze/getIssues.request.json"))["query"])
    check("gql getIssues sample", j == fxj("pganalyze/getIssues.200.json"), j)
    st, j = gql("{ getIssues(databaseId: 22222) { id severity state databaseId checkGroupAndName createdAt updatedAt } }")
    check("gql issues by db", [i["id"] for i in j["data"]["getIssues"]] == ["45", "46"] and
          isinstance(j["data"]["getIssues"][0]["databaseId"], int), j)
    st, j = gql("query($s: String) { getIssues(serverId: \"bdp4m73ysjgefke7i2dgkenzi4\", state: $s) { id state } }", {"s": "resolved"})
    check("gql issues state resolved", j["data"]["getIssues"] == [{"id": "44", "state": "resolved"}], j)
    st, j = gql("{ getIssues(serverId: \"bdp4m73ysjgefke7i2dgkenzi4\", state: \"open\") { id } }")
    check("gql issues state open -> []", j["data"]["getIssues"] == [], j)
    st, j = gql("{ getIssues(serverId: \"bdp4m73ysjgefke7i2dgkenzi4\") { id } }")
    check("gql issues all states", len(j["data"]["getIssues"]) == 3, j)
    st, j = gql("{ getIssues(severity: [\"info\"]) { id } }")
    check("gql issues neither id -> error", j["data"]["getIssues"] is None and j["errors"], j)
    st, j = gql("{ getIssues(databaseId: 12345, severity: \"info\") { id severity } }")
    check("gql issues severity scalar coerced", j["data"]["getIssues"] == [{"id": "43", "severity": "info"}], j)


def t_journal():
    s0 = seq()
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
    req("GET", "/v1/organizations?x=1&x=2&y=", conn=c)
    req("GET", "/v1/organizations", conn=c)
    c.close()
    req("POST", "/graphql", {"query": "{ getServers { id } }", "variables": {"a": 1}}, auth="Token CANARY-KEY-7f3a")
    j = journal(s0)
    check("journal 3 entries", len(j) == 3 and [e["seq"] for e in j] == [s0 + 1, s0 + 2, s0 + 3], j)
    if len(j) == 3:
        e = j[0]
        check("journal fields", e["method"] == "GET" and e["path"] == "/v1/organizations" and e["query"] == "x=1&x=2&y="
              and e["params"] == {"x": ["1", "2"], "y": [""]} and e["status"] == 200 and e["api"] == "clickhouse"
              and e["auth_sha256"] == hashlib.sha256(basic().encode()).hexdigest()
              and e["body_sha256"] == hashlib.sha256(b"").hexdigest() and isinstance(e["t"], float), e)
        check("journal conn ids", j[0]["conn"] == j[1]["conn"] and j[2]["conn"] != j[1]["conn"], j)
        g = j[2]
        check("journal graphql", g["api"] == "pganalyze" and g["graphql"]["query"] == "{ getServers { id } }"
              and g["graphql"]["variables"] == {"a": 1} and g["content_type"] == "application/json", g)
    check("seq endpoint", seq() == s0 + 3)
    st, r, data = req("GET", "/__mock/journal?since=0", auth=None)
    allj = data.decode()
    with open(JOURNAL) as f:
        ftxt = f.read()
    check("no secret in journal", "CANARY-KEY-7f3a" not in allj and "CANARY-KEY-7f3a" not in ftxt and
          "s3cret" not in ftxt and base64.b64encode(b"key1:s3cret").decode() not in ftxt)
    lines = [json.loads(l) for l in ftxt.splitlines()]
    check("journal file lines", len(lines) >= s0 + 3 and lines[-1]["seq"] == s0 + 3, len(lines))


def t_faults():
    # status fault with default sample body
    fault({"status": 500}, {"path": "/v1/organizations$"})
    st, r, data = req("GET", "/v1/organizations")
    check("fault 500 sample body", st == 500 and data == fx("clickhouse/error.500.json"), data)
    st, j = ch("GET", "/v1/organizations")
    check("fault used once", st == 200, j)
    fault({"status": 503, "headers": {"Retry-After": "2"}}, {"method": "GET", "path": "organizations"}, times=2)
    s1, r1, d1 = req("GET", "/v1/organizations")
    s2, _, _ = req("GET", "/v1/organizations")
    s3, _, _ = req("GET", "/v1/organizations")
    check("fault times 2", (s1, s2, s3) == (503, 503, 200) and r1.getheader("Retry-After") == "2" and
          json.loads(d1)["status"] == 503, (s1, s2, s3, d1))
    fault({"status": 429, "headers": {"Retry-After": "abc", "X-RateLimit-Reset": "2.5"}}, {"method": "POST"})
    st, _, _ = req("GET", "/v1/organizations")
    check("fault method mismatch", st == 200)
    mock("faults/clear")
    check("faults cleared", mock("faults") == [])
    fault({"status": 401}, {"auth_user": "victim"}, times=-1)
    s1, _, _ = req("GET", "/v1/organizations", auth=basic("victim", "x"))
    s2, _, _ = req("GET", "/v1/organizations", auth=basic("victim", "x"))
    s3, _, _ = req("GET", "/v1/organizations", auth=basic("other", "x"))
    check("fault auth_user forever", (s1, s2, s3) == (401, 401, 200), (s1, s2, s3))
    check("faults lists it", len(mock("faults")) == 1)
    mock("faults/clear")
    # probabilistic faults: p of the matching requests, the rest fall through
    # to the next fault (here a sure 502) or to normal processing
    mock("fault", {"match": {"auth_user": "dice"}, "times": -1, "p": 0.3, "seed": 7,
                   "action": {"status": 503}})
    sts = [req("GET", "/v1/organizations", auth=basic("dice", "x"))[0] for _ in range(200)]
    n503 = sts.count(503)
    check("fault p=0.3", 30 <= n503 <= 90 and sts.count(200) == 200 - n503, (n503, set(sts)))
    mock("fault", {"match": {"auth_user": "dice"}, "times": -1, "action": {"status": 502}})
    sts = [req("GET", "/v1/organizations", auth=basic("dice", "x"))[0] for _ in range(50)]
    check("fault p falls through", 0 < sts.count(503) < 50 and sts.count(503) + sts.count(502) == 50,
          sorted(set(sts)))
    fl = mock("faults")
    check("faults list p", [f.get("p") for f in fl] == [0.3, None] and "rng" not in fl[0], fl)
    check("fault p out of range", mock("fault", {"p": 1.5, "action": {"status": 503}}).get("ok") is False)
    mock("faults/clear")
    # body / body_b64 / content_type
    fault({"status": 200, "body": "<html>oops</html>", "content_type": "text/html"})
    st, r, data = req("GET", "/v1/organizations")
    check("fault html body", st == 200 and data == b"<html>oops</html>" and r.getheader("Content-Type") == "text/html")
    fault({"body_b64": base64.b64encode(b'{"status":200,"result":"\xff\xc0\xaf"}').decode()})
    st, r, data = req("GET", "/v1/organizations")
    check("fault body_b64", st == 200 and data == b'{"status":200,"result":"\xff\xc0\xaf"}', data)
    fault({"body": "{}", "content_type": None})
    st, r, data = req("GET", "/v1/organizations")
    check("fault no content type", r.getheader("Content-Type") is None and data == b"{}")
    # delay
    fault({"delay_ms": 300})
    t0 = time.time()
    st, j = ch("GET", "/v1/organizations")
    check("fault delay", st == 200 and time.time() - t0 >= 0.29)
    # hang
    s0 = seq()
    fault({"hang": True})
    t0 = time.time()
    data, how = raw(raw_get("/v1/organizations"), timeout=0.5)
    check("fault hang", how == "timeout" and data == b"" and time.time() - t0 < 2, (how, data))
    j = journal(s0)
    check("hang journaled, status null", len(j) == 1 and j[0]["status"] is None, j)
    # reset
    fault({"reset": True})
    data, how = raw(raw_get("/v1/organizations"))
    check("fault reset -> RST", how == "rst" and data == b"", (how, data))
    # close_before_headers
    fault({"close_before_headers": True})
    data, how = raw(raw_get("/v1/organizations"))
    check("fault close_before_headers -> EOF", how == "eof" and data == b"", (how, data))
    # process_then_reset on a write
    s0 = seq()
    fault({"process_then_reset": True}, {"method": "POST"})
    body = json.dumps({"name": "ptr", "provider": "aws", "region": "us-east-1", "size": "r8gd.large"}).encode()
    data, how = raw(b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (PG.encode(), basic().encode(), len(body), body))
    st, j = ch("GET", PG)
    check("fault process_then_reset", how == "rst" and data == b"" and "ptr" in [s["name"] for s in j["result"]], (how, data))
    j = journal(s0)
    check("process_then_reset journal status null", j[0]["status"] is None and j[0]["method"] == "POST", j)
    # truncate
    fault({"truncate": True})
    data, how = raw(raw_get(PG))
    status, hdrs, b = split_resp(data)
    check("fault truncate", status.startswith("HTTP/1.1 200") and len(b) == int(hdrs["content-length"]) // 2 and how == "eof",
          (status, hdrs, len(b)))
    # slow_body
    fault({"slow_body": {"chunk": 10, "interval_ms": 100, "total_ms": 450}})
    t0 = time.time()
    data, how = raw(raw_get("/v1/organizations"))
    status, hdrs, b = split_resp(data)
    el = time.time() - t0
    check("fault slow_body", status.startswith("HTTP/1.1 200") and 30 <= len(b) <= 60 and 0.35 < el < 2 and
          int(hdrs["content-length"]) > len(b), (len(b), el, hdrs))
    # oversize chunked
    fault({"oversize": {"bytes": 1000000, "chunked": True}})
    st, r, data = req("GET", "/v1/organizations")
    check("fault oversize chunked", st == 200 and len(data) == 1000000 and r.getheader("Transfer-Encoding") == "chunked"
          and data.startswith(b'{"status":200,"result":['), len(data))
    fault({"oversize": {"bytes": 2 * 1024 ** 3, "chunked": False}})
    data, how = raw(raw_get("/v1/organizations"), max_bytes=3 << 20)
    status, hdrs, b = split_resp(data)
    check("fault oversize 2GiB", hdrs.get("content-length") == str(2 * 1024 ** 3) and how == "max", (hdrs, how))
    st, j = ch("GET", "/v1/organizations")
    check("server fine after oversize", st == 200)
    # redirect
    fault({"redirect": {"status": 307, "location": "http://127.0.0.1:9/v1/organizations"}})
    st, r, data = req("GET", "/v1/organizations")
    check("fault redirect", st == 307 and r.getheader("Location") == "http://127.0.0.1:9/v1/organizations")
    # raw
    rb = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}trailing"
    fault({"raw": base64.b64encode(rb).decode()})
    data, how = raw(raw_get("/v1/organizations"))
    check("fault raw", data == rb and how == "eof", data)
    # http10
    fault({"http10": True})
    data, how = raw(raw_get("/v1/organizations"))
    status, hdrs, b = split_resp(data)
    check("fault http10", status.startswith("HTTP/1.0 200") and "content-length" not in hdrs and how == "eof"
          and json.loads(b)["status"] == 200, data[:200])
    # huge header
    fault({"huge_header": {"bytes": 65536, "count": 2}})
    data, how = raw(raw_get("/v1/organizations"), timeout=2)
    status, hdrs, b = split_resp(data)
    check("fault huge_header", len(hdrs.get("x-huge-0", "")) == 65536 and len(hdrs.get("x-huge-1", "")) == 65536
          and json.loads(b)["status"] == 200, (status, len(data)))
    # nth_on_conn: second request on a kept-alive connection gets closed
    fault({"close_before_headers": True}, {"nth_on_conn": 2})
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
    s1, _, _ = req("GET", "/v1/organizations", conn=c)
    try:
        req("GET", "/v1/organizations", conn=c)
        second = "answered"
    except (http.client.RemoteDisconnected, ConnectionError):
        second = "closed"
    c.close()
    check("fault nth_on_conn", s1 == 200 and second == "closed", second)
    # fault on graphql
    fault({"status": 502, "body": "<html>bad gateway</html>", "content_type": "text/html"}, {"path": "^/graphql$"})
    st, r, data = req("POST", "/graphql", {"query": "{ getServers { id } }"}, auth="Token t")
    check("fault on graphql", st == 502 and b"bad gateway" in data)
    # scenario in the credential: 2 x 503, then normal
    cred = "mock:" + base64.b64encode(json.dumps({"faults": [{"times": 2, "action": {"status": 503}}]}).encode()).decode()
    sts = [req("GET", "/v1/organizations", auth=basic(cred.replace("mock:", "mock-"), "x"))[0] for _ in range(3)]
    st2 = req("POST", "/graphql", {"query": "{ getServers { id } }"}, auth="Token " + cred)[0]
    check("scenario credential", sts == [503, 503, 200] and st2 == 503, (sts, st2))
    mock("faults/clear")
    # invalid fault
    st, r, data = req("POST", "/__mock/fault", {"match": {}}, auth=None)
    check("fault without action 400", st == 400)
    mock("faults/clear")


def t_config():
    # latency
    mock("config", {"latency_ms": 200})
    t0 = time.time()
    ch("GET", "/v1/organizations")
    el = time.time() - t0
    mock("config", {"latency_ms": 0})
    check("latency_ms", el >= 0.19, el)
    # rate limit
    mock("config", {"rate_limit": {"requests": 3, "window_ms": 1000}})
    sts = []
    last = None
    for _ in range(4):
        st, r, data = req("GET", "/v1/organizations", auth=basic("rl", "x"))
        sts.append(st)
        last = (r, data)
    st_other, _, _ = req("GET", "/v1/organizations", auth=basic("rl2", "x"))
    r, data = last
    check("rate limit 429", sts == [200, 200, 200, 429] and json.loads(data)["error"] == fxj("clickhouse/error.429.json")["error"]
          and r.getheader("Retry-After") == "1" and 0 < float(r.getheader("X-RateLimit-Reset")) <= 1.0 and st_other == 200,
          (sts, r.getheaders()))
    time.sleep(1.05)
    st, _, _ = req("GET", "/v1/organizations", auth=basic("rl", "x"))
    check("rate limit window slides", st == 200)
    mock("config", {"rate_limit": None})
    st, r, data = req("POST", "/__mock/config", {"bogus": 1}, auth=None)
    check("config unknown key 400", st == 400)
    # reset restores dataset
    ch("DELETE", PG + "/" + S2)
    mock("reset")
    st, j = ch("GET", PG)
    check("reset restores", [s["id"] for s in j["result"]] == [S1, S2], j)


def t_dataset_bench():
    mock("config", {"dataset": {"services": 3, "patterns_per_service": 100000}})
    st, j = ch("GET", PG)
    svcs = j["result"]
    check("dataset services", [s["name"] for s in svcs] == ["svc-000", "svc-001", "svc-002"], svcs[:1])
    mock("config", {"dataset": {"services": 3, "patterns_per_service": 100000}})
    st, j2 = ch("GET", PG)
    check("dataset deterministic ids", [s["id"] for s in j2["result"]] == [s["id"] for s in svcs])
    sid = svcs[0]["id"]
    t0 = time.time()
    while not json.loads(req("GET", "/__mock/status", auth=None)[2])["warm"] and time.time() - t0 < 60:
        time.sleep(0.1)
    print("BENCH: dataset warm-up (3 x 100000 patterns) took %.2f s" % (time.time() - t0))
    now = int(time.time())
    qs = {"from_date": iso(now - 86400), "to_date": iso(now + 60), "limit": 500, "sort_by": "total_duration",
          "sort_order": "desc"}
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    t0 = time.time()
    st, r, data = req("GET", PG + "/" + sid + "/slowQueryPatterns?" + urllib.parse.urlencode(dict(qs, offset=0)), conn=c)
    first = time.time() - t0
    allrows = json.loads(data)["result"]
    t1 = time.time()
    for p in range(1, 200):
        st, r, data = req("GET", PG + "/" + sid + "/slowQueryPatterns?" + urllib.parse.urlencode(dict(qs, offset=p * 500)), conn=c)
        if st != 200:
            break
        allrows.extend(json.loads(data)["result"])
    rest = time.time() - t1
    total = time.time() - t0
    print("BENCH: 200 pages x 500 patterns: %.2f s total (first page %.3f s incl. sort, then %.1f ms/page)"
          % (total, first, rest * 1000 / 199))
    check("bench under 10 s", total < 10, total)
    ids = [p["queryId"] for p in allrows]
    check("bench 100000 distinct", len(allrows) == 100000 and len(set(ids)) == 100000, len(allrows))
    check("bench has negative ids", any(i.startswith("-") for i in ids))
    td = [p["totalDurationUs"] for p in allrows]
    check("bench sorted desc", td == sorted(td, reverse=True))
    st, r, data = req("GET", PG + "/" + sid + "/slowQueryPatterns?" + urllib.parse.urlencode(
        dict(qs, sort_by="error_count", sort_order="asc", limit=500, offset=0)), conn=c)
    rows = json.loads(data)["result"]
    keys = [(p["errorCount"], int(p["queryId"])) for p in rows]
    check("bench ties by queryId", keys == sorted(keys), keys[:5])
    st, r, data = req("GET", PG + "/" + sid + "/slowQueryPatterns?" + urllib.parse.urlencode(
        dict(qs, sort_by="total_blks_read", limit=50, offset=0)), conn=c)
    a = [p["queryId"] for p in json.loads(data)["result"]]
    st, r, data = req("GET", PG + "/" + sid + "/slowQueryPatterns?" + urllib.parse.urlencode(
        dict(qs, db_name="sales", limit=500, offset=0)), conn=c)
    rows = json.loads(data)["result"]
    check("bench filter", len(rows) == 500 and all(p["dbName"] == "sales" for p in rows))
    p0 = rows[0]
    st, j = ch("GET", PG + "/" + sid + "/slowQueryPatterns/" + p0["queryId"] + "?" + urllib.parse.urlencode(
        {"db_name": p0["dbName"], "db_user": p0["dbUser"], "db_operation": p0["dbOperation"]}))
    check("bench detail", st == 200 and j["result"]["aggregate"] == p0 and 1 <= len(j["result"]["recentExecutions"]) <= 3, j)
    c.close()
    mock("reset")


JOURNAL = None


def main():
    global PORT, JOURNAL
    tmp = tempfile.mkdtemp(prefix="apisim-selftest-")
    pf = os.path.join(tmp, "port")
    JOURNAL = os.path.join(tmp, "journal.jsonl")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "apisim.py"), "--port", "0", "--port-file", pf,
                             "--journal", JOURNAL], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(pf):
                break
            time.sleep(0.05)
        PORT = int(open(pf).read())
        for name, fn in [("clickhouse", t_clickhouse), ("patterns", t_patterns), ("graphql", t_graphql),
                         ("journal", t_journal), ("faults", t_faults), ("config", t_config),
                         ("dataset", t_dataset_bench)]:
            try:
                mock("reset")
                fn()
            except Exception as e:  # a crash in one group must not hide the others
                import traceback
                traceback.print_exc()
                check("group %s crashed: %r" % (name, e), False)
    finally:
        proc.send_signal(15)
        try:
            rc = proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = None
    check("clean shutdown on SIGTERM", rc == 0, rc)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
