#!/usr/bin/env python3
"""apisim.py - HTTP simulator for the two APIs behind pgapi_fdw.

* ClickHouse Cloud REST, Managed Postgres subset (paths under /v1).
* pganalyze GraphQL (POST /graphql).
* Control endpoints under /__mock/ (journal, config, faults, reset).

Standard library only.  Start with:

    python3 src/test/apisim.py --port 0 --port-file /tmp/apisim.port \
        --journal /tmp/apisim.journal

Behaviour notes (see also the report that came with this file):
* A newly created service is returned with state "creating" by the POST and by
  the first read (single GET or list) afterwards; later reads show "running".
  PATCH .../state works the same way with "restarting".
* Slow query patterns carry a hidden lastSeen timestamp (a pattern is listed
  only if from_date <= lastSeen < to_date) and a hidden localBlksRead value:
  sort_by=total_blks_read orders by totalSharedBlksRead + localBlksRead.
  Ties are broken by queryId ascending (as signed 64-bit integers).
* pganalyze getQueryStats ignores startTs/endTs (same rows for any window);
  getServers(withRecentData) uses a hidden per-server flag (server 1 recent,
  server 2 not).

Control endpoints (no auth, never journaled; all answer JSON):
  GET  /__mock/journal?since=N   entries with seq > N, ordered by seq
  GET  /__mock/seq               {"seq": last}
  GET  /__mock/status            {"ok", "warm", "services", "faults", "seq"}
  POST /__mock/reset             default dataset + config, faults cleared (journal kept)
  GET|POST /__mock/config        {"latency_ms": N, "rate_limit": {"requests": 10,
                                  "window_ms": 10000, "scope": "key"|"global"} | null,
                                  "pganalyze_legacy": bool,
                                  "dataset": {"services": N, "patterns_per_service": M,
                                              "seed": "apisim"} | null}
  POST /__mock/fault             {"match": {"method", "path" (regex, searched), "auth_user",
                                  "api": "clickhouse"|"pganalyze", "nth_on_conn": K},
                                  "times": 1 (-1 = forever), "p": 1.0, "seed": id,
                                  "action": {...}} -> {"ok", "id"}
                                 "p" < 1: a matching request takes the fault with that
                                 probability (a seeded RNG per fault), else the next
                                 fault is tried; "times" counts only the taken ones.
  GET  /__mock/faults            active faults (GET /__mock/faults/all: also used-up ones)
  POST /__mock/faults/clear
Fault actions: {"status", "headers", "body" | "body_b64", "content_type" (null = none)},
  {"delay_ms"}, {"hang": true, "seconds": 300}, {"reset": true}, {"process_then_reset": true},
  {"close_before_headers": true}, {"truncate": true},
  {"slow_body": {"chunk", "interval_ms", "total_ms"}}, {"oversize": {"bytes", "chunked"}},
  {"redirect": {"status", "location"}}, {"raw": "<base64>"}, {"http10": true},
  {"huge_header": {"bytes", "count"}}, {"drop_params": ["offset", ...]} (processed as if those
  query parameters were not sent), {"gzip_bomb": {"bytes"}} (a gzip body that inflates to that
  many bytes).  "delay_ms" combines with any other action, and
  "huge_header", "http10", "truncate", "slow_body" apply to the normal (processed) response.
A credential "mock:<base64 JSON>" (pganalyze token) or "mock-<base64 JSON>" (ClickHouse key
id) registers the faults of the JSON ({"action":..} or {"faults": [..]}) for that credential.
"""

import argparse
import base64
import collections
import datetime
import email.parser
import email.policy
import hashlib
import http
import http.server
import io
import json
import math
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_REQUEST_BODY = 64 * 1024 * 1024
JOURNAL_BODY_MAX = 64 * 1024

# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------

M64 = (1 << 64) - 1


def mix64(x):
    """splitmix64 finaliser: a bijection on 64-bit integers."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def signed64(x):
    return x - (1 << 64) if x >= (1 << 63) else x


def sha256_hex(b):
    if isinstance(b, str):
        b = b.encode("utf-8", "surrogatepass")
    return hashlib.sha256(b).hexdigest()


def det_uuid(seed, i):
    return str(uuid.UUID(bytes=hashlib.sha256(("%s:%s" % (seed, i)).encode()).digest()[:16], version=4))


RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def parse_rfc3339_us(s):
    """RFC 3339 timestamp -> integer microseconds since the epoch, or None."""
    if s is None:
        return None
    m = RFC3339_RE.match(s)
    if not m:
        return None
    y, mo, d, h, mi, sec, frac, off = m.groups()
    try:
        if off in ("Z", "z"):
            tz = datetime.timezone.utc
        else:
            sign = 1 if off[0] == "+" else -1
            oh, om = int(off[1:3]), int(off[4:6])
            if oh > 23 or om > 59:
                return None
            tz = datetime.timezone(sign * datetime.timedelta(hours=oh, minutes=om))
        us = int((frac or "0")[:6].ljust(6, "0"))
        dt = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), us, tzinfo=tz)
    except ValueError:
        return None
    return (dt - EPOCH) // datetime.timedelta(microseconds=1)


def fmt_ts(us):
    dt = EPOCH + datetime.timedelta(microseconds=us)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_us():
    return int(time.time() * 1_000_000)


def jdump(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Fixtures:
    def __init__(self, d):
        self.dir = d
        self._raw = {}

    def raw(self, name):
        if name not in self._raw:
            with open(os.path.join(self.dir, name), "rb") as f:
                self._raw[name] = f.read()
        return self._raw[name]

    def json(self, name):
        return json.loads(self.raw(name).decode("utf-8"))


class Response:
    def __init__(self, status, body=b"", content_type="application/json", headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.content_type = content_type
        self.headers = list(headers or [])


def ch_ok(result=None, with_result=True):
    if with_result:
        return Response(200, jdump({"status": 200, "requestId": str(uuid.uuid4()), "result": result}))
    return Response(200, jdump({"requestId": str(uuid.uuid4()), "status": 200}))


ERR_PREFIX = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
              405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
              422: "UNPROCESSABLE_ENTITY", 429: "TOO_MANY_REQUESTS",
              500: "INTERNAL_SERVER_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE",
              504: "GATEWAY_TIMEOUT"}


def ch_err(status, text):
    # A requestId derived from the error, so that test output that shows it
    # does not change from run to run.
    rid = str(uuid.uuid5(uuid.NAMESPACE_URL, "%d %s" % (status, text)))
    return Response(status, jdump({"status": status, "error": text, "requestId": rid}))


def ch_bad(text):
    return ch_err(400, "BAD_REQUEST: " + text)


def ch_404():
    return ch_err(404, "NOT_FOUND: Unknown Error")


class ApiError(Exception):
    def __init__(self, resp):
        self.resp = resp


# ---------------------------------------------------------------------------
# ClickHouse data model
# ---------------------------------------------------------------------------

PATTERN_FIELDS = ["queryId", "queryText", "dbName", "dbUser", "dbOperation", "app", "callCount",
                  "errorCount", "totalDurationUs", "avgDurationUs", "maxDurationUs", "p50DurationUs",
                  "p95DurationUs", "p99DurationUs", "totalRows", "totalSharedBlksRead",
                  "totalSharedBlksHit", "totalCpuTimeUs", "totalWalBytes"]

SORT_KEYS = {
    "total_duration": "totalDurationUs", "avg_duration": "avgDurationUs",
    "call_count": "callCount", "total_blks_read": "_totalBlksRead",
    "total_cpu_time": "totalCpuTimeUs", "error_count": "errorCount",
    "max_duration": "maxDurationUs", "p50_duration": "p50DurationUs",
    "p95_duration": "p95DurationUs", "p99_duration": "p99DurationUs",
    "total_rows": "totalRows", "total_shared_blks_hit": "totalSharedBlksHit",
    "total_wal_bytes": "totalWalBytes",
}
FILTER_KEYS = {"db_name": "dbName", "db_user": "dbUser", "db_operation": "dbOperation", "app": "app"}

EXEC_COUNTERS = ["durationUs", "rows", "sharedBlksHit", "sharedBlksRead", "sharedBlksWritten",
                 "sharedBlksDirtied", "sharedBlkReadTimeUs", "sharedBlkWriteTimeUs", "localBlksHit",
                 "localBlksRead", "localBlksWritten", "localBlksDirtied", "tempBlksRead",
                 "tempBlksWritten", "tempBlkReadTimeUs", "tempBlkWriteTimeUs", "walRecords",
                 "walBytes", "walFpi", "cpuUserTimeUs", "cpuSysTimeUs", "jitFunctions",
                 "jitGenerationTimeUs", "jitInliningTimeUs", "jitOptimizationTimeUs",
                 "jitEmissionTimeUs", "jitDeformTimeUs", "parallelWorkersPlanned",
                 "parallelWorkersLaunched"]


def gen_executions(p, seed, n, last_us):
    """1-3 deterministic executions for a pattern dict p (public fields)."""
    out = []
    for k in range(n):
        h = lambda j: mix64(seed * 131 + k * 4099 + j)  # noqa: E731
        e = collections.OrderedDict()
        e["timestamp"] = fmt_ts(last_us - k * 37_000_000)
        for f in ("queryId", "dbName", "dbUser", "dbOperation", "app", "queryText"):
            e[f] = p[f]
        e["pid"] = str(1000 + h(1) % 60000)
        for j, f in enumerate(EXEC_COUNTERS):
            if f == "durationUs":
                v = max(1, p["avgDurationUs"] // 2 + h(10) % max(1, p["avgDurationUs"] + 1))
            elif f == "rows":
                v = h(11) % 100
            elif f in ("cpuUserTimeUs",):
                v = h(12) % 50000
            elif f in ("cpuSysTimeUs",):
                v = h(13) % 5000
            elif f in ("sharedBlksHit",):
                v = h(14) % 10000
            elif f in ("sharedBlksRead", "localBlksRead", "walRecords", "walBytes"):
                v = h(20 + j) % 100
            else:
                v = 0 if h(20 + j) % 3 else h(40 + j) % 50
            e[f] = v
        e["serverRole"] = "primary"
        if k == 2:
            e["errMessage"] = "canceling statement due to statement timeout"
            e["errSqlstate"] = "57014"
            e["errElevel"] = 21
        else:
            e["traceId"] = "%032x" % (mix64(h(90)) << 64 | mix64(h(91)))
            e["spanId"] = "%016x" % mix64(h(92))
        out.append(e)
    return out


class ListPatternSet:
    """Explicit list of pattern dicts (public fields + lastSeen, localBlksRead, executions)."""

    def __init__(self, patterns):
        self.patterns = patterns
        self.n = len(patterns)
        self._cols = {}
        self._byqid = {int(p["queryId"]): i for i, p in enumerate(patterns)}

    def col(self, field):
        c = self._cols.get(field)
        if c is None:
            if field == "_qid":
                c = [int(p["queryId"]) for p in self.patterns]
            elif field == "_totalBlksRead":
                c = [p["totalSharedBlksRead"] + p["localBlksRead"] for p in self.patterns]
            else:
                c = [p[field] for p in self.patterns]
            self._cols[field] = c
        return c

    def public(self, i):
        p = self.patterns[i]
        return {f: p[f] for f in PATTERN_FIELDS}

    def fragment(self, i):
        return jdump(self.public(i))

    def find(self, qid):
        return self._byqid.get(qid)

    def executions(self, i):
        p = self.patterns[i]
        if p.get("executions") is not None:
            return p["executions"]
        return gen_executions(self.public(i), int(p["queryId"]) & 0xFFFFFFFF,
                              1 + (int(p["queryId"]) & 0xFFFF) % 3, p["lastSeen"])


DB_NAMES = ["app", "sales", "postgres"]
DB_USERS = ["app_user", "orders_service", "postgres", "reporting"]
DB_OPS = ["SELECT", "INSERT", "UPDATE", "DELETE"]
APPS = ["api", "worker", "bin/monitor", "psql", "orders-api"]
TABLES = ["orders", "customers", "inventory", "events", "sessions", "invoices", "payments"]


class GenPatternSet:
    """M deterministic patterns for generated service number s, computed lazily per column."""

    def __init__(self, s, n, base_us, seed):
        self.s = s
        self.n = n
        self.base_us = base_us
        self.hbase = (mix64(hash_str(seed)) ^ (s << 44)) & M64
        self.qbase = (mix64(hash_str(seed) + 7) + (s << 40)) & M64
        self._cols = {}
        self._frag = {}
        self._byqid = None

    def h(self, i, k):
        return mix64((self.hbase + i * 32 + k) & M64)

    def value(self, i, f):
        h = self.h
        if f == "_qid":
            return signed64(mix64((self.qbase + i) & M64))
        if f == "queryId":
            return str(self.value(i, "_qid"))
        if f == "queryText":
            t = TABLES[h(i, 1) % len(TABLES)]
            op = self.value(i, "dbOperation")
            if op == "SELECT":
                return "SELECT * FROM %s WHERE id = $1 /* p%d */" % (t, i)
            if op == "INSERT":
                return "INSERT INTO %s (id, v) VALUES ($1, $2) /* p%d */" % (t, i)
            if op == "UPDATE":
                return "UPDATE %s SET v = $1 WHERE id = $2 /* p%d */" % (t, i)
            return "DELETE FROM %s WHERE id = $1 /* p%d */" % (t, i)
        if f == "dbName":
            return DB_NAMES[(i + self.s) % 3]
        if f == "dbUser":
            return DB_USERS[h(i, 2) % 4]
        if f == "dbOperation":
            return DB_OPS[h(i, 3) % 4]
        if f == "app":
            return APPS[h(i, 4) % 5]
        if f == "callCount":
            return 1 + h(i, 5) % 200000
        if f == "avgDurationUs":
            return 1 + h(i, 6) % 2_000_000
        if f == "totalDurationUs":
            return self.value(i, "avgDurationUs") * self.value(i, "callCount") + h(i, 7) % 1000
        if f == "errorCount":
            x = h(i, 8)
            return (x >> 8) % 1000 if x % 4 == 0 else 0
        if f == "p50DurationUs":
            return self.value(i, "avgDurationUs") * (40 + h(i, 9) % 50) // 100
        if f == "p95DurationUs":
            a = self.value(i, "avgDurationUs")
            return a + h(i, 10) % (a + 1)
        if f == "p99DurationUs":
            return self.value(i, "p95DurationUs") + h(i, 11) % 100000
        if f == "maxDurationUs":
            return self.value(i, "p99DurationUs") + h(i, 12) % 1_000_000
        if f == "totalRows":
            return self.value(i, "callCount") * (h(i, 13) % 100)
        if f == "totalSharedBlksRead":
            return h(i, 14) % 10_000_000
        if f == "localBlksRead":
            return h(i, 15) % 5_000_000
        if f == "_totalBlksRead":
            return self.value(i, "totalSharedBlksRead") + self.value(i, "localBlksRead")
        if f == "totalSharedBlksHit":
            return h(i, 16) % 1_000_000_000
        if f == "totalCpuTimeUs":
            return self.value(i, "totalDurationUs") * (30 + h(i, 17) % 70) // 100
        if f == "totalWalBytes":
            return 0 if self.value(i, "dbOperation") == "SELECT" else h(i, 18) % 1_000_000_000
        if f == "lastSeen":
            return self.base_us - 60_000_000 - (h(i, 19) % (23 * 3600)) * 1_000_000
        raise KeyError(f)

    def col(self, field):
        c = self._cols.get(field)
        if c is None:
            v = self.value
            c = [v(i, field) for i in range(self.n)]
            self._cols[field] = c
        return c

    def public(self, i):
        """All 19 public fields in one pass (same formulas as value())."""
        b = self.hbase + i * 32
        h = lambda k: mix64((b + k) & M64)  # noqa: E731
        qid = signed64(mix64((self.qbase + i) & M64))
        op = DB_OPS[h(3) % 4]
        t = TABLES[h(1) % len(TABLES)]
        if op == "SELECT":
            text = "SELECT * FROM %s WHERE id = $1 /* p%d */" % (t, i)
        elif op == "INSERT":
            text = "INSERT INTO %s (id, v) VALUES ($1, $2) /* p%d */" % (t, i)
        elif op == "UPDATE":
            text = "UPDATE %s SET v = $1 WHERE id = $2 /* p%d */" % (t, i)
        else:
            text = "DELETE FROM %s WHERE id = $1 /* p%d */" % (t, i)
        calls = 1 + h(5) % 200000
        avg = 1 + h(6) % 2_000_000
        total = avg * calls + h(7) % 1000
        x = h(8)
        errs = (x >> 8) % 1000 if x % 4 == 0 else 0
        p95 = avg + h(10) % (avg + 1)
        p99 = p95 + h(11) % 100000
        return {"queryId": str(qid), "queryText": text, "dbName": DB_NAMES[(i + self.s) % 3],
                "dbUser": DB_USERS[h(2) % 4], "dbOperation": op, "app": APPS[h(4) % 5],
                "callCount": calls, "errorCount": errs, "totalDurationUs": total, "avgDurationUs": avg,
                "maxDurationUs": p99 + h(12) % 1_000_000, "p50DurationUs": avg * (40 + h(9) % 50) // 100,
                "p95DurationUs": p95, "p99DurationUs": p99, "totalRows": calls * (h(13) % 100),
                "totalSharedBlksRead": h(14) % 10_000_000, "totalSharedBlksHit": h(16) % 1_000_000_000,
                "totalCpuTimeUs": total * (30 + h(17) % 70) // 100,
                "totalWalBytes": 0 if op == "SELECT" else h(18) % 1_000_000_000}

    def fragment(self, i):
        f = self._frag.get(i)
        if f is None:
            f = jdump(self.public(i))
            if len(self._frag) < 1_000_000:
                self._frag[i] = f
        return f

    def find(self, qid):
        if self._byqid is None:
            self._byqid = {q: i for i, q in enumerate(self.col("_qid"))}
        return self._byqid.get(qid)

    def executions(self, i):
        return gen_executions(self.public(i), self.h(i, 20) & 0xFFFFFFFF, 1 + self.h(i, 21) % 3,
                              self.value(i, "lastSeen"))


def hash_str(s):
    return int.from_bytes(hashlib.sha256(str(s).encode()).digest()[:8], "big")


class Service:
    def __init__(self, data, config, patterns, password, prom):
        self.data = data          # public fields
        self.config = config      # {"pgConfig": {}, "pgBouncerConfig": {}}
        self.patterns = patterns  # ListPatternSet | GenPatternSet
        self.password = password
        self.prom = prom
        self.pending_state = None
        self.pending_reads = 0

    def state(self, consume):
        if self.pending_reads > 0:
            s = self.pending_state
            if consume:
                self.pending_reads -= 1
            return s
        return self.data["state"]

    def full(self, consume=True, secrets=False):
        d = self.data
        out = collections.OrderedDict()
        for k in ("id", "name", "provider", "region", "postgresVersion", "size", "storageSize",
                  "haType", "tags", "state", "createdAt", "isPrimary", "username", "hostname"):
            out[k] = d.get(k)
        out["tags"] = [dict(t) for t in d["tags"]]
        out["state"] = self.state(consume)
        if secrets:
            out["password"] = self.password
            out["connectionString"] = "postgres://%s:%s@%s:5432/postgres?channel_binding=require" % (
                d["username"], self.password, d["hostname"])
        return out

    def list_item(self):
        d = self.data
        out = collections.OrderedDict()
        for k in ("id", "name", "provider", "region", "postgresVersion", "size", "haType", "tags",
                  "isPrimary", "state", "createdAt", "storageSize"):
            out[k] = d.get(k)
        out["tags"] = [dict(t) for t in d["tags"]]
        out["state"] = self.state(True)
        return out


PG_ENUMS = {}
PG_CONFIG_KEYS = []
SIZES = []


def load_enums_from_defaults():
    """Enums of the extracted OpenAPI document (copied here so fixtures stay small)."""
    global PG_CONFIG_KEYS, SIZES
    PG_CONFIG_KEYS = [
        "max_connections", "default_transaction_isolation", "ssl_min_protocol_version",
        "maintenance_work_mem", "work_mem", "effective_cache_size", "random_page_cost",
        "effective_io_concurrency", "max_worker_processes", "max_parallel_workers",
        "max_parallel_workers_per_gather", "max_parallel_maintenance_workers", "statement_timeout",
        "lock_timeout", "idle_session_timeout", "idle_in_transaction_session_timeout",
        "transaction_timeout", "wal_sender_timeout", "wal_keep_size", "min_wal_size", "max_wal_size",
        "max_slot_wal_keep_size", "wal_compression", "autovacuum_max_workers", "autovacuum_naptime",
        "autovacuum_work_mem", "autovacuum_vacuum_scale_factor", "autovacuum_analyze_scale_factor",
        "autovacuum_vacuum_insert_scale_factor", "autovacuum_vacuum_cost_limit",
        "autovacuum_vacuum_cost_delay"]
    PG_ENUMS["default_transaction_isolation"] = ["read committed", "repeatable read", "serializable"]
    PG_ENUMS["ssl_min_protocol_version"] = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    fams = {"c6gd": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
            "i7i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
            "i7ie": "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge 18xlarge 24xlarge",
            "i8g": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge 24xlarge",
            "i8ge": "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge 18xlarge 24xlarge",
            "m6gd": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
            "m6id": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
            "m8gd": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
            "r6gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
            "r6id": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge",
            "r8gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge"}
    SIZES = ["%s.%s" % (f, s) for f, v in fams.items() for s in v.split()]


load_enums_from_defaults()
RESTART_KEYS = {"max_connections", "max_worker_processes", "autovacuum_max_workers"}
TAG_RE = re.compile(r"^[a-zA-Z0-9._-]+$")
PROM_FAMILIES = [
    ("PostgresServiceInfo", "gauge", "Information about PostgreSQL service, including status and version."),
    ("PostgresServer_ActiveConnections", "gauge", "Number of active connections by state."),
    ("PostgresServer_CacheHitRatio", "gauge",
     "Buffer cache hit ratio: blocks served from cache vs. total blocks accessed (%)."),
    ("PostgresServer_CPUCores", "gauge", "CPU cores allocated to the service."),
    ("PostgresServer_CPUSeconds_Total", "counter", "CPU time consumed, by mode."),
    ("PostgresServer_DatabaseSizeBytes", "gauge", "Disk size of each database, in bytes."),
    ("PostgresServer_Deadlocks_Total", "counter", "Deadlocks detected."),
]


def prom_escape(v):
    return str(v).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def prom_num(v):
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return repr(v)
    return repr(v) if isinstance(v, float) else str(v)


def fault_view(f):
    """A fault as the control endpoints show it (without its RNG)."""
    return {k: v for k, v in f.items() if k != "rng"}


# ---------------------------------------------------------------------------
# the simulator state
# ---------------------------------------------------------------------------

DEFAULT_CONFIG = {"latency_ms": 0, "rate_limit": None, "pganalyze_legacy": False, "dataset": None}


class Sim:
    def __init__(self, fixtures, journal_path, verbose=False):
        self.fx = fixtures
        self.verbose = verbose
        self.lock = threading.RLock()
        self.jlock = threading.Lock()
        self.journal = []
        self.seq = 0
        self.conn_seq = 0
        self.jfile = open(journal_path, "a", encoding="utf-8") if journal_path else None
        self.reset()

    # -- reset / dataset ----------------------------------------------------
    def reset(self):
        with self.lock:
            self.config = json.loads(json.dumps(DEFAULT_CONFIG))
            self.faults = []
            self.fault_seq = 0
            self.created = 0
            self.scenarios = set()
            self.rate = {}
            self.list_cache = collections.OrderedDict()
            self.build_dataset(None)
            self.pg = pg_dataset(self.fx.json("pganalyze/getQueryStats.200.json")["data"]["getQueryStats"])
            self.pg_issues = default_issues()

    def build_dataset(self, ds):
        self.dataset_gen = getattr(self, "dataset_gen", 0) + 1
        self.warm = True
        self.base_us = (now_us() // 1_000_000) * 1_000_000
        self.list_cache.clear()
        org = self.fx.json("clickhouse/organizations_list.200.json")["result"][0]
        self.org = org
        self.services = collections.OrderedDict()
        cfg = self.fx.json("clickhouse/postgres_config_get.200.json")["result"]
        if ds:
            n = int(ds.get("services", 1))
            m = int(ds.get("patterns_per_service", 0))
            seed = ds.get("seed", "apisim")
            for s in range(n):
                sid = det_uuid(seed, s)
                name = "svc-%03d" % s
                data = collections.OrderedDict(
                    id=sid, name=name, provider="aws", region="us-east-1", postgresVersion="18",
                    size="r8gd.large", storageSize=118, haType="none",
                    tags=[{"key": "Index", "value": str(s)}], state="running",
                    createdAt="2026-05-20T00:00:00Z", isPrimary=True, username="postgres",
                    hostname="%s-%s.%s.c0.us-east-1.aws.pg.clickhouse.cloud" % (name, sid[:8], sid))
                self.services[sid] = Service(data, json.loads(json.dumps(cfg)),
                                             GenPatternSet(s, m, self.base_us, seed),
                                             "Gen%04dPassword" % s, self.gen_prom(sid))
            self.dataset_gen += 1
            self.warm = False
            threading.Thread(target=self.warm_up, args=(self.dataset_gen, list(self.services.values())),
                             daemon=True).start()
            return
        lst = self.fx.json("clickhouse/postgres_list.200.json")["result"]
        get = self.fx.json("clickhouse/postgres_get.200.json")["result"]
        sample_pats = self.fx.json("clickhouse/slow_query_patterns_list.200.json")["result"]
        sample_exec = self.fx.json("clickhouse/slow_query_pattern_get.200.json")["result"]["recentExecutions"]
        H = 3600 * 1_000_000
        for k, item in enumerate(lst):
            data = collections.OrderedDict()
            for f in ("id", "name", "provider", "region", "postgresVersion", "size", "storageSize",
                      "haType", "tags", "state", "createdAt", "isPrimary", "username", "hostname"):
                data[f] = item.get(f)
            data["username"] = get["username"]
            if item["id"] == get["id"]:
                data["hostname"] = get["hostname"]
            else:
                data["hostname"] = "%s-3a1f9c2b.%s.c0.%s.aws.pg.clickhouse.cloud" % (
                    item["name"], item["id"], item["region"])
            if k == 0:
                pats = []
                for j, (p, ls, lb) in enumerate(zip(sample_pats, (1, 5, 11), (0, 50000, 0))):
                    p = dict(p)
                    p["lastSeen"] = self.base_us - ls * H
                    p["localBlksRead"] = lb
                    p["executions"] = sample_exec if j == 0 else None
                    pats.append(p)
                old = {"queryId": "7723401198234401022",
                       "queryText": "VACUUM ANALYZE orders", "dbName": "sales", "dbUser": "postgres",
                       "dbOperation": "VACUUM", "app": "autovacuum-cron", "callCount": 1,
                       "errorCount": 0, "totalDurationUs": 93847112, "avgDurationUs": 93847112,
                       "maxDurationUs": 93847112, "p50DurationUs": 93847112, "p95DurationUs": 93847112,
                       "p99DurationUs": 93847112, "totalRows": 0, "totalSharedBlksRead": 812734,
                       "totalSharedBlksHit": 1203344, "totalCpuTimeUs": 41220871, "totalWalBytes": 18273664,
                       "lastSeen": self.base_us - 72 * H, "localBlksRead": 0, "executions": None}
                pats.append(old)
                prom = dict(active=1, idle=4, cache=100, cores=2, cpu_user=81234.5, cpu_idle=912345.25,
                            dbs=[("postgres", 7659043), ("sales", 1832041472)], deadlocks=0)
            else:
                pats = self.second_patterns(H)
                prom = dict(active=0, idle=2, cache=99.7, cores=2, cpu_user=1234.5, cpu_idle=45678.75,
                            dbs=[("postgres", 7659043), ("analytics", 92837410)], deadlocks=1)
            self.services[item["id"]] = Service(data, json.loads(json.dumps(cfg)),
                                                ListPatternSet(pats), "Q7wz2Lr9XkPa41mN", prom)

    def warm_up(self, gen, services):
        """Pre-compute filter/sort columns and pre-render rows of generated datasets (up to
        400,000 patterns in all) so that paging is fast from the first request on."""
        budget = 400_000
        for svc in services:
            ps = svc.patterns
            if self.dataset_gen != gen or budget <= 0:
                break
            for col in ("lastSeen", "_qid", "totalDurationUs"):
                ps.col(col)
            for i in range(min(ps.n, budget)):
                if i % 5000 == 0 and self.dataset_gen != gen:
                    return
                ps.fragment(i)
            budget -= ps.n
        if self.dataset_gen == gen:
            self.warm = True

    def second_patterns(self, H):
        rows = [
            ("-1152921504606846976", "SELECT count(*) FROM events WHERE ts >= $1", "analytics", "reporting",
             "SELECT", "metabase", 2210, 0, 884000000, 400000, 2100000, 350000, 900000, 1500000, 2210,
             5400000, 1200000, 812000000, 0, 2, 10),
            ("4611686018427387904", "INSERT INTO events (ts, kind, payload) VALUES ($1, $2, $3)",
             "analytics", "ingest", "INSERT", "collector", 912004, 12, 91200400, 100, 9100, 80, 310,
             1200, 912004, 1200, 8812004, 60000000, 912004000, 0, 3),
            ("-7", "DELETE FROM sessions WHERE expires_at < now()", "postgres", "postgres", "DELETE",
             "pg_cron", 96, 1, 52000000, 541666, 900000, 500000, 800000, 880000, 48000, 120000, 99000,
             30000000, 48000000, 300000, 6),
            ("123456789012345678", "UPDATE counters SET n = n + 1 WHERE id = $1", "analytics", "ingest",
             "UPDATE", "collector", 402112, 0, 884000000, 2198, 88000, 1800, 4000, 9000, 402112, 0,
             4021120, 400000000, 80000000, 0, 8),
            ("-3000000000000000000", "SELECT * FROM dashboards WHERE owner = $1", "analytics",
             "reporting", "SELECT", "metabase", 5000, 250, 15000000, 3000, 41000, 2500, 9000, 20000, 50000,
             30, 800000, 12000000, 0, 0, 20),
        ]
        pats = []
        for r in rows:
            p = dict(zip(PATTERN_FIELDS, r[:19]))
            p["localBlksRead"] = r[19]
            p["lastSeen"] = self.base_us - r[20] * H
            p["executions"] = None
            pats.append(p)
        return pats

    def gen_prom(self, sid):
        h = hash_str(sid)
        return dict(active=h % 7, idle=h % 13, cache=round(95 + (h % 500) / 100.0, 2), cores=2,
                    cpu_user=float(h % 100000) + 0.5, cpu_idle=float(h % 1000000) + 0.25,
                    dbs=[("postgres", 7659043)], deadlocks=0)

    # -- journal ---------------------------------------------------------------
    def next_seq(self):
        with self.jlock:
            self.seq += 1
            return self.seq

    def next_conn(self):
        with self.jlock:
            self.conn_seq += 1
            return self.conn_seq

    def log(self, entry):
        line = json.dumps(entry, ensure_ascii=False)
        with self.jlock:
            self.journal.append(entry)
            if self.jfile:
                self.jfile.write(line + "\n")
                self.jfile.flush()

    def journal_since(self, since):
        with self.jlock:
            return sorted((e for e in self.journal if e["seq"] > since), key=lambda e: e["seq"])

    # -- faults ------------------------------------------------------------------
    def take_fault(self, method, path, auth_user, nth):
        with self.lock:
            for f in self.faults:
                if f["times"] == 0:
                    continue
                m = f.get("match") or {}
                if m.get("method") and m["method"].upper() != method.upper():
                    continue
                if m.get("path") and not re.search(m["path"], path):
                    continue
                if m.get("auth_user") is not None and m["auth_user"] != auth_user:
                    continue
                if m.get("api") and m["api"] != ("pganalyze" if path == "/graphql" else "clickhouse"):
                    continue
                if m.get("nth_on_conn") and m["nth_on_conn"] != nth:
                    continue
                if "rng" in f and f["rng"].random() >= f["p"]:
                    continue
                if f["times"] > 0:
                    f["times"] -= 1
                f["hits"] = f.get("hits", 0) + 1
                return f
        return None

    def register_scenario(self, cred):
        """Credential 'mock:<base64 JSON>' (pganalyze token) or 'mock-<base64 JSON>' (ClickHouse key id:
        Basic auth user names cannot contain ':'; the secret is anything): the JSON is one
        fault {"action": {...}, "times": N, "match": {...}} or {"faults": [fault, ...]}; on first sight
        (and again after /__mock/reset) the faults are appended, restricted to this credential."""
        with self.lock:
            if cred in self.scenarios:
                return
            self.scenarios.add(cred)
            try:
                b64 = cred[5:]
                spec = json.loads(base64.b64decode(b64 + "=" * (-len(b64) % 4), altchars=b"-_"
                                                   if ("-" in b64 or "_" in b64) else None))
                faults = spec["faults"] if isinstance(spec, dict) and "faults" in spec else [spec]
                for f in faults:
                    if not isinstance(f, dict) or not isinstance(f.get("action"), dict):
                        continue
                    self.fault_seq += 1
                    match = dict(f.get("match") or {})
                    match["auth_user"] = cred
                    self.faults.append({"id": self.fault_seq, "match": match, "times": int(f.get("times", 1)),
                                        "action": f["action"], "hits": 0})
            except (ValueError, KeyError, TypeError):
                pass

    def rate_check(self, key):
        """None if allowed, else seconds until a slot frees up."""
        with self.lock:
            rl = self.config.get("rate_limit")
            if not rl:
                return None
            n = int(rl.get("requests", 10))
            win = float(rl.get("window_ms", 10000)) / 1000.0
            if rl.get("scope") == "global":
                key = "*"
            q = self.rate.setdefault(key, collections.deque())
            t = time.monotonic()
            while q and q[0] <= t - win:
                q.popleft()
            if len(q) >= n:
                return max(0.001, q[0] + win - t)
            q.append(t)
            return None


# ---------------------------------------------------------------------------
# ClickHouse REST
# ---------------------------------------------------------------------------

def parse_json_body(body):
    if not body.strip():
        raise ApiError(ch_bad("Request body is required"))
    try:
        v = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(ch_bad("Invalid JSON body"))
    if not isinstance(v, dict):
        raise ApiError(ch_bad("Request body must be a JSON object"))
    return v


def single_param(params, name, required=False):
    vals = params.get(name)
    if not vals:
        if required:
            raise ApiError(ch_bad("Missing required query parameter '%s'" % name))
        return None
    if len(vals) > 1:
        raise ApiError(ch_bad("Query parameter '%s' given more than once" % name))
    return vals[0]


def date_param(params, name, required=True):
    v = single_param(params, name, required)
    if v is None:
        return None
    us = parse_rfc3339_us(v)
    if us is None:
        raise ApiError(ch_bad("'%s'" % v))
    return us


def int_param(params, name, default, lo, hi=None):
    v = single_param(params, name)
    if v is None:
        return default
    if not re.fullmatch(r"[+-]?\d+", v):
        raise ApiError(ch_bad("Invalid value for '%s': '%s'" % (name, v)))
    n = int(v)
    if n < lo or (hi is not None and n > hi):
        raise ApiError(ch_bad("'%s' must be between %s and %s, got %d" % (name, lo, hi if hi is not None else "inf", n)))
    return n


def validate_tags(tags):
    if not isinstance(tags, list):
        raise ApiError(ch_bad("'tags' must be an array"))
    if len(tags) > 50:
        raise ApiError(ch_bad("'tags' must have at most 50 items"))
    out = []
    for t in tags:
        if not isinstance(t, dict) or not isinstance(t.get("key"), str) or not t["key"] \
                or len(t["key"]) > 128 or not TAG_RE.match(t["key"]) or set(t) - {"key", "value"}:
            raise ApiError(ch_bad("Invalid tag: %s" % json.dumps(t)))
        if "value" in t and t["value"] is not None:
            if not isinstance(t["value"], str) or len(t["value"]) > 256 or \
                    (t["value"] and not TAG_RE.match(t["value"])):
                raise ApiError(ch_bad("Invalid tag value: %s" % json.dumps(t)))
        nt = {"key": t["key"]}
        if t.get("value") is not None:
            nt["value"] = t["value"]
        out.append(nt)
    return out


def validate_name(v):
    if not isinstance(v, str) or not (1 <= len(v) <= 50):
        raise ApiError(ch_bad("'name' must be a string of 1 to 50 characters"))
    return v


def validate_enum(field, v, allowed):
    if v not in allowed:
        raise ApiError(ch_bad("Invalid value for '%s': %s (allowed: %s)" % (
            field, json.dumps(v), ", ".join(allowed) if len(allowed) < 10 else "see API reference")))
    return v


def validate_pg_config(cfg, field="pgConfig"):
    if not isinstance(cfg, dict):
        raise ApiError(ch_bad("'%s' must be an object" % field))
    out = {}
    for k, v in cfg.items():
        if k not in PG_CONFIG_KEYS:
            raise ApiError(ch_bad("Unsupported Postgres configuration parameter '%s'" % k))
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise ApiError(ch_bad("Invalid value for '%s.%s'" % (field, k)))
        if isinstance(v, float) and k not in ("random_page_cost",) and not k.endswith("_factor") \
                and not k.endswith("_delay"):
            raise ApiError(ch_bad("Invalid value for '%s.%s'" % (field, k)))
        sv = v if isinstance(v, str) else json.dumps(v)
        if k in PG_ENUMS and sv not in PG_ENUMS[k]:
            raise ApiError(ch_bad("Invalid value for '%s.%s': '%s'" % (field, k, sv)))
        out[k] = sv
    return out


def validate_bouncer(cfg):
    if not isinstance(cfg, dict):
        raise ApiError(ch_bad("'pgBouncerConfig' must be an object"))
    if len(cfg) > 64:
        raise ApiError(ch_bad("'pgBouncerConfig' has too many properties"))
    for k, v in cfg.items():
        if not isinstance(v, str):
            raise ApiError(ch_bad("Invalid value for 'pgBouncerConfig.%s': must be a string" % k))
    return dict(cfg)


def slug(name):
    s = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return s or "pg"


class ClickHouse:
    def __init__(self, sim):
        self.sim = sim

    def handle(self, method, path, params, body, headers):
        sim = self.sim
        auth = headers.get("Authorization")
        user, secret = None, None
        if auth and auth[:6].lower() == "basic ":
            try:
                dec = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
                if ":" in dec:
                    user, secret = dec.split(":", 1)
            except (ValueError, UnicodeDecodeError):
                pass
        if not secret or secret == "wrong" or not user:
            j = self.sim.fx.json("clickhouse/error.401.json")
            return ch_err(401, j["error"])
        if secret == "forbidden":
            return ch_err(403, "FORBIDDEN: The API key does not have permission to perform this action")
        segs = path.split("/")[1:]
        segs = [urllib.parse.unquote(s) for s in segs]
        try:
            with sim.lock:
                return self.route(method, segs, params, body)
        except ApiError as e:
            return e.resp

    def route(self, method, segs, params, body):
        sim = self.sim
        if segs == ["v1", "organizations"]:
            if method != "GET":
                return ch_err(405, "METHOD_NOT_ALLOWED: %s" % method)
            return ch_ok([dict(sim.org)])
        if len(segs) < 4 or segs[:2] != ["v1", "organizations"] or segs[3] != "postgres" or not segs[2]:
            return ch_404()
        if segs[2] != sim.org["id"]:
            return ch_404()
        rest = segs[4:]

        def allow(*methods):
            if method not in methods:
                raise ApiError(ch_err(405, "METHOD_NOT_ALLOWED: %s" % method))

        if not rest:
            allow("GET", "POST")
            if method == "GET":
                return ch_ok([s.list_item() for s in sim.services.values()])
            return self.create(parse_json_body(body))
        if rest == ["prometheus"] and method == "GET":
            return self.prometheus(list(sim.services.values()))
        sid = rest[0]
        svc = sim.services.get(sid) if sid else None
        if svc is None:
            return ch_404()
        if len(rest) == 1:
            allow("GET", "PATCH", "DELETE")
            if method == "GET":
                return ch_ok(svc.full(consume=True))
            if method == "DELETE":
                del sim.services[sid]
                sim.list_cache.clear()
                return ch_ok(with_result=False)
            return self.patch(svc, parse_json_body(body))
        sub = rest[1]
        if len(rest) == 2:
            if sub == "state":
                allow("PATCH")
                req = parse_json_body(body)
                cmd = req.get("command")
                if set(req) - {"command"}:
                    return ch_bad("Unknown field(s): %s" % ", ".join(sorted(set(req) - {"command"})))
                validate_enum("command", cmd, ["restart", "promote", "switchover"])
                if cmd == "promote":
                    svc.data["isPrimary"] = True
                svc.pending_state, svc.pending_reads = "restarting", 1
                return ch_ok(svc.full(consume=False))
            if sub == "password":
                allow("PATCH")
                req = parse_json_body(body) if body.strip() else {}
                if set(req) - {"password"}:
                    return ch_bad("Unknown field(s): %s" % ", ".join(sorted(set(req) - {"password"})))
                pw = req.get("password")
                if pw is not None:
                    if not isinstance(pw, str) or not (12 <= len(pw) <= 1024) or not re.search("[a-z]", pw) \
                            or not re.search("[A-Z]", pw) or not re.search("[0-9]", pw):
                        return ch_bad("Password must be 12-1024 characters and contain a lowercase "
                                      "letter, an uppercase letter and a digit")
                    svc.password = pw
                    return ch_ok({})
                svc.password = gen_password()
                return ch_ok({"password": svc.password})
            if sub == "config":
                allow("GET", "POST", "PATCH")
                if method == "GET":
                    return ch_ok({"pgConfig": dict(svc.config["pgConfig"]),
                                  "pgBouncerConfig": dict(svc.config["pgBouncerConfig"])})
                return self.config(svc, method, parse_json_body(body))
            if sub == "metrics":
                allow("GET")
                return self.metrics(svc, params)
            if sub == "prometheus":
                allow("GET")
                return self.prometheus([svc])
            if sub == "slowQueryPatterns":
                allow("GET")
                return self.patterns(svc, params)
            if sub == "caCertificates":
                allow("GET")
                pem = ("-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(
                    hashlib.sha512(svc.data["id"].encode()).digest() * 6).decode() +
                       "-----END CERTIFICATE-----\n")
                return Response(200, pem, "application/x-pem-file",
                                [("Content-Disposition", 'attachment; filename="postgres-ca-certificate.pem"')])
            if sub in ("readReplica", "restoredService"):
                allow("POST")
                return self.derive(svc, sub, parse_json_body(body))
        if len(rest) == 3 and sub == "slowQueryPatterns":
            allow("GET")
            return self.pattern_detail(svc, rest[2], params)
        return ch_404()

    # -- services ----------------------------------------------------------------
    def check_unique(self, name, exclude=None):
        for s in self.sim.services.values():
            if s.data["name"] == name and s is not exclude:
                raise ApiError(ch_err(409, "CONFLICT: A Postgres service named '%s' already exists" % name))

    def new_service(self, name, provider, region, version, size, storage, ha, tags, primary, cfg, bcfg,
                    state):
        sim = self.sim
        # ids and passwords of created services are deterministic (counted
        # from the last reset), so that tests can show them
        sim.created += 1
        sid = det_uuid("created", sim.created)
        data = collections.OrderedDict(
            id=sid, name=name, provider=provider, region=region, postgresVersion=version, size=size,
            storageSize=storage, haType=ha, tags=tags, state="running",
            createdAt=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            isPrimary=primary, username="postgres",
            hostname="%s-%s.%s.c0.%s.%s.pg.clickhouse.cloud" % (slug(name), sid[:8], sid,
                                                                 region, provider))
        config = json.loads(json.dumps(sim.fx.json("clickhouse/postgres_config_get.200.json")["result"]))
        config["pgConfig"].update(cfg or {})
        config["pgBouncerConfig"].update(bcfg or {})
        svc = Service(data, config, ListPatternSet([]), "Created%04dPassword" % sim.created,
                      sim.gen_prom(sid))
        svc.pending_state, svc.pending_reads = state, 1
        sim.services[sid] = svc
        sim.list_cache.clear()
        return svc

    def create(self, req):
        allowed = {"name", "provider", "region", "postgresVersion", "size", "haType", "tags", "pgConfig",
                   "pgBouncerConfig", "storageSize"}
        unknown = set(req) - allowed
        if unknown:
            return ch_bad("Unknown field(s): %s" % ", ".join(sorted(unknown)))
        for f in ("name", "provider", "region", "size"):
            if req.get(f) is None:
                return ch_bad("Missing required field '%s'" % f)
        name = validate_name(req["name"])
        provider = validate_enum("provider", req["provider"], ["aws"])
        region = req["region"]
        if not isinstance(region, str) or not region:
            return ch_bad("Invalid value for 'region'")
        size = validate_enum("size", req["size"], SIZES)
        version = validate_enum("postgresVersion", req.get("postgresVersion", "18"), ["18", "17"])
        ha = validate_enum("haType", req.get("haType", "none"), ["none", "async", "sync"])
        tags = validate_tags(req.get("tags") or [])
        storage = req.get("storageSize", 118)
        if isinstance(storage, bool) or not isinstance(storage, int) or storage < 1 or storage > 65536:
            return ch_bad("Invalid value for 'storageSize'")
        cfg = validate_pg_config(req["pgConfig"]) if req.get("pgConfig") is not None else None
        bcfg = validate_bouncer(req["pgBouncerConfig"]) if req.get("pgBouncerConfig") is not None else None
        self.check_unique(name)
        svc = self.new_service(name, provider, region, version, size, storage, ha, tags, True, cfg, bcfg,
                               "creating")
        return ch_ok(svc.full(consume=False, secrets=True))

    def derive(self, src, kind, req):
        allowed = {"name", "pgConfig", "pgBouncerConfig", "tags"} | (
            {"restoreTarget"} if kind == "restoredService" else set())
        unknown = set(req) - allowed
        if unknown:
            return ch_bad("Unknown field(s): %s" % ", ".join(sorted(unknown)))
        if req.get("name") is None:
            return ch_bad("Missing required field 'name'")
        name = validate_name(req["name"])
        if kind == "restoredService":
            if req.get("restoreTarget") is None:
                return ch_bad("Missing required field 'restoreTarget'")
            if parse_rfc3339_us(req["restoreTarget"]) is None:
                return ch_bad("'%s'" % req["restoreTarget"])
        tags = validate_tags(req.get("tags") or [])
        cfg = validate_pg_config(req["pgConfig"]) if req.get("pgConfig") is not None else None
        bcfg = validate_bouncer(req["pgBouncerConfig"]) if req.get("pgBouncerConfig") is not None else None
        self.check_unique(name)
        d = src.data
        svc = self.new_service(name, d["provider"], d["region"], d["postgresVersion"], d["size"],
                               d["storageSize"], d["haType"], tags, kind != "readReplica", cfg, bcfg,
                               "creating" if kind == "readReplica" else "restoring_backup")
        return ch_ok(svc.full(consume=False, secrets=True))

    def patch(self, svc, req):
        allowed = {"name", "size", "haType", "tags"}
        unknown = set(req) - allowed
        if unknown:
            return ch_bad("Unknown or read-only field(s): %s" % ", ".join(sorted(unknown)))
        new = {}
        if "name" in req:
            new["name"] = validate_name(req["name"])
            self.check_unique(new["name"], exclude=svc)
        if "size" in req:
            new["size"] = validate_enum("size", req["size"], SIZES)
        if "haType" in req:
            new["haType"] = validate_enum("haType", req["haType"], ["none", "async", "sync"])
        if "tags" in req:
            new["tags"] = [] if req["tags"] is None else validate_tags(req["tags"])
        svc.data.update(new)
        return ch_ok(svc.full(consume=False))

    def config(self, svc, method, req):
        unknown = set(req) - {"pgConfig", "pgBouncerConfig"}
        if unknown:
            return ch_bad("Unknown field(s): %s" % ", ".join(sorted(unknown)))
        for f in ("pgConfig", "pgBouncerConfig"):
            if f not in req:
                return ch_bad("Missing required field '%s'" % f)
            if not isinstance(req[f], dict) or not req[f]:
                return ch_bad("'%s' must be a non-empty object" % f)
        pg = validate_pg_config(req["pgConfig"])
        pb = validate_bouncer(req["pgBouncerConfig"])
        old = svc.config
        if method == "POST":
            newpg, newpb = pg, pb
        else:
            newpg = dict(old["pgConfig"])
            newpg.update(pg)
            newpb = dict(old["pgBouncerConfig"])
            newpb.update(pb)
        changed = sorted(k for k in RESTART_KEYS if old["pgConfig"].get(k) != newpg.get(k))
        svc.config = {"pgConfig": newpg, "pgBouncerConfig": newpb}
        res = collections.OrderedDict(pgConfig=dict(newpg), pgBouncerConfig=dict(newpb))
        if changed:
            res["message"] = ("The changes in the following parameters require a database restart to take "
                              "effect: %s. You can restart the database by using the restart endpoint."
                              % ", ".join(changed))
        return ch_ok(res)

    # -- monitoring -------------------------------------------------------------
    def metrics(self, svc, params):
        f = date_param(params, "from_date")
        t = date_param(params, "to_date")
        if f >= t:
            return ch_bad("from_date must be before to_date")
        window = (t - f) / 1e6
        bucket = int_param(params, "bucket_size_seconds", None, 1)
        if bucket is None:
            bucket = max(1, math.ceil(window / 250))
        n = math.ceil(window / bucket)
        if n > 250:
            return ch_bad("Too many data points requested (%d > 250); increase bucket_size_seconds" % n)
        start = f // 1_000_000
        ts = []
        k = 0
        while True:
            x = start + k * bucket
            if x * 1_000_000 >= t:
                break
            if x * 1_000_000 >= f or k == 0:
                ts.append(x)
            k += 1
        seed = hash_str(svc.data["id"])

        def pts(fn):
            return [{"timestamp": x, "value": fn(mix64(seed ^ x))} for x in ts]

        res = {"metrics": [
            {"key": "cpu_usage", "name": "CPU usage", "unit": "%",
             "description": "CPU utilization of the Postgres host.",
             "series": [{"label": "user", "dataPoints": pts(lambda h: round(5 + (h % 2000) / 100.0, 2))},
                        {"label": "system", "dataPoints": pts(lambda h: round(1 + (h >> 20) % 400 / 100.0, 2))}]},
            {"key": "connection_count", "name": "Connections", "unit": "count",
             "description": "Number of client connections.",
             "series": [{"label": "active", "dataPoints": pts(lambda h: h % 20)}]},
            {"key": "cache_hit_ratio", "name": "Cache hit ratio", "unit": "%",
             "description": "Share of blocks served from shared buffers.",
             "series": [{"label": "postgres", "dataPoints": pts(lambda h: round(98 + (h % 200) / 100.0, 2))}]},
        ]}
        return ch_ok(res)

    def prometheus(self, svcs):
        org = self.sim.org["id"]
        out = []
        for fam, typ, hlp in PROM_FAMILIES:
            lines = []
            for s in svcs:
                base = {"clickhouse_org": org, "postgres_service": s.data["id"],
                        "postgres_service_name": s.data["name"]}
                p = s.prom
                samples = []
                if fam == "PostgresServiceInfo":
                    samples.append((dict(base, postgres_status=s.state(False),
                                         postgres_version=s.data["postgresVersion"]), 1))
                elif fam == "PostgresServer_ActiveConnections":
                    samples.append((dict(base, state="active"), p["active"]))
                    samples.append((dict(base, state="idle"), p["idle"]))
                elif fam == "PostgresServer_CacheHitRatio":
                    samples.append((base, p["cache"]))
                elif fam == "PostgresServer_CPUCores":
                    samples.append((base, p["cores"]))
                elif fam == "PostgresServer_CPUSeconds_Total":
                    samples.append((dict(base, mode="user"), p["cpu_user"]))
                    samples.append((dict(base, mode="idle"), p["cpu_idle"]))
                elif fam == "PostgresServer_DatabaseSizeBytes":
                    for db, sz in p["dbs"]:
                        samples.append((dict(base, database=db), sz))
                elif fam == "PostgresServer_Deadlocks_Total":
                    samples.append((base, p["deadlocks"]))
                for labels, v in samples:
                    lab = ",".join('%s="%s"' % (k, prom_escape(labels[k])) for k in sorted(labels))
                    lines.append("%s{%s} %s" % (fam, lab, prom_num(v)))
            out.append("# HELP %s %s\n# TYPE %s %s\n%s\n" % (fam, hlp, fam, typ, "\n".join(lines)))
        return Response(200, "\n".join(out), "text/plain; version=0.0.4")

    # -- slow query patterns ---------------------------------------------------
    def patterns(self, svc, params):
        sim = self.sim
        f = date_param(params, "from_date")
        t = date_param(params, "to_date")
        if f >= t:
            return ch_bad("from_date must be before to_date")
        filters = []
        for qp, field in FILTER_KEYS.items():
            v = single_param(params, qp)
            if v is not None:
                filters.append((field, v))
        sort_by = single_param(params, "sort_by") or "total_duration"
        if sort_by not in SORT_KEYS:
            return ch_bad("Invalid value for 'sort_by': '%s'" % sort_by)
        order = single_param(params, "sort_order") or "desc"
        if order not in ("asc", "desc"):
            return ch_bad("Invalid value for 'sort_order': '%s'" % order)
        limit = int_param(params, "limit", 20, 1, 500)
        offset = int_param(params, "offset", 0, 0)
        ps = svc.patterns
        key = (id(ps), f, t, tuple(filters), sort_by, order)
        idx = sim.list_cache.get(key)
        if idx is None:
            ls = ps.col("lastSeen")
            cand = [i for i in range(ps.n) if f <= ls[i] < t]
            for field, v in filters:
                c = ps.col(field)
                cand = [i for i in cand if c[i] == v]
            sv = ps.col(SORT_KEYS[sort_by])
            q = ps.col("_qid")
            if order == "desc":
                cand.sort(key=lambda i: (-sv[i], q[i]))
            else:
                cand.sort(key=lambda i: (sv[i], q[i]))
            idx = cand
            sim.list_cache[key] = idx
            while len(sim.list_cache) > 32:
                sim.list_cache.popitem(last=False)
        else:
            sim.list_cache.move_to_end(key)
        body = b'{"result":[' + b",".join(ps.fragment(i) for i in idx[offset:offset + limit]) + \
            b'],"requestId":"' + str(uuid.uuid4()).encode() + b'","status":200}'
        return Response(200, body)

    def pattern_detail(self, svc, qid, params):
        need = {}
        for qp in ("db_name", "db_user", "db_operation"):
            v = single_param(params, qp)
            if v is None:
                return ch_bad("Missing required query parameter '%s'" % qp)
            need[FILTER_KEYS[qp]] = v
        app = single_param(params, "app")
        if app is not None:
            need["app"] = app
        date_param(params, "timestamp", required=False)
        if not re.fullmatch(r"-?\d{1,20}", qid):
            return ch_404()
        i = svc.patterns.find(int(qid))
        if i is None:
            return ch_404()
        agg = svc.patterns.public(i)
        for k, v in need.items():
            if agg[k] != v:
                return ch_404()
        return Response(200, jdump({"result": {"aggregate": agg,
                                               "recentExecutions": svc.patterns.executions(i)},
                                    "requestId": str(uuid.uuid5(uuid.NAMESPACE_URL, "fault")), "status": 200}))


def gen_password():
    import secrets
    while True:
        p = secrets.token_urlsafe(15)[:20]
        if re.search("[a-z]", p) and re.search("[A-Z]", p) and re.search("[0-9]", p):
            return p


# ---------------------------------------------------------------------------
# GraphQL: lexer, parser, executor
# ---------------------------------------------------------------------------

class GQLSyntaxError(Exception):
    def __init__(self, msg, line, col):
        super().__init__(msg)
        self.msg, self.line, self.col = msg, line, col


PUNCT = set("{}()[]:!$=@|&")


def gql_lex(src):
    toks = []
    i, n, line, ls = 0, len(src), 1, 0
    while i < n:
        c = src[i]
        if c in " \t,\ufeff\r":
            i += 1
            continue
        if c == "\n":
            line += 1
            i += 1
            ls = i
            continue
        if c == "#":
            while i < n and src[i] not in "\r\n":
                i += 1
            continue
        col = i - ls + 1
        if c in PUNCT:
            toks.append((c, c, line, col))
            i += 1
        elif src.startswith("...", i):
            toks.append(("...", "...", line, col))
            i += 3
        elif c == '"':
            if src.startswith('"""', i):
                j = src.find('"""', i + 3)
                if j < 0:
                    raise GQLSyntaxError("Unterminated string", line, col)
                raw = src[i + 3:j]
                line += raw.count("\n")
                if "\n" in raw:
                    ls = i + 3 + raw.rfind("\n") + 1
                toks.append(("str", raw.replace('\\"""', '"""'), line, col))
                i = j + 3
                continue
            j = i + 1
            buf = []
            while True:
                if j >= n or src[j] in "\r\n":
                    raise GQLSyntaxError("Unterminated string", line, col)
                ch = src[j]
                if ch == '"':
                    break
                if ch == "\\":
                    e = src[j + 1:j + 2]
                    if e == "u":
                        hx = src[j + 2:j + 6]
                        if not re.fullmatch(r"[0-9a-fA-F]{4}", hx):
                            raise GQLSyntaxError("Bad unicode escape", line, col)
                        cp = int(hx, 16)
                        j += 6
                        if 0xD800 <= cp < 0xDC00 and src[j:j + 2] == "\\u":
                            lo = int(src[j + 2:j + 6], 16) if re.fullmatch(r"[0-9a-fA-F]{4}", src[j + 2:j + 6]) else 0
                            if 0xDC00 <= lo < 0xE000:
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                                j += 6
                        buf.append(chr(cp))
                        continue
                    m = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
                         "t": "\t"}.get(e)
                    if m is None:
                        raise GQLSyntaxError("Bad escape \\%s" % e, line, col)
                    buf.append(m)
                    j += 2
                    continue
                buf.append(ch)
                j += 1
            toks.append(("str", "".join(buf), line, col))
            i = j + 1
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (src[j].isalnum() or src[j] == "_") and src[j].isascii():
                j += 1
            toks.append(("name", src[i:j], line, col))
            i = j
        elif c == "-" or c.isdigit():
            m = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?").match(src, i)
            if not m or not m.group(0) or m.group(0) == "-":
                raise GQLSyntaxError('Parse error on "%s"' % c, line, col)
            s = m.group(0)
            if m.group(2) or m.group(3):
                toks.append(("float", float(s), line, col))
            else:
                toks.append(("int", int(s), line, col))
            i = m.end()
        else:
            raise GQLSyntaxError('Parse error on "%s"' % c, line, col)
    toks.append(("eof", None, line, i - ls + 1))
    return toks


class GQLParser:
    def __init__(self, src):
        self.t = gql_lex(src)
        self.p = 0

    def peek(self, k=0):
        return self.t[self.p + k]

    def next(self):
        tok = self.t[self.p]
        self.p += 1
        return tok

    def err(self, tok=None):
        tok = tok or self.peek()
        what = "end of file" if tok[0] == "eof" else json.dumps(str(tok[1]))
        raise GQLSyntaxError("Parse error on %s (%s) at [%d, %d]" % (what, tok[0].upper(), tok[2], tok[3]),
                             tok[2], tok[3])

    def expect(self, kind, val=None):
        tok = self.next()
        if tok[0] != kind or (val is not None and tok[1] != val):
            self.err(tok)
        return tok

    def is_(self, kind, val=None):
        tok = self.peek()
        return tok[0] == kind and (val is None or tok[1] == val)

    def document(self):
        ops, frags = [], {}
        while not self.is_("eof"):
            if self.is_("{"):
                ops.append({"type": "query", "name": None, "vars": [], "sel": self.selection_set(),
                            "line": self.peek()[2]})
            elif self.is_("name", "fragment"):
                self.next()
                name = self.expect("name")[1]
                self.expect("name", "on")
                self.expect("name")
                self.directives()
                frags[name] = self.selection_set()
            elif self.is_("name") and self.peek()[1] in ("query", "mutation", "subscription"):
                typ = self.next()[1]
                name = self.next()[1] if self.is_("name") else None
                vars_ = []
                if self.is_("("):
                    self.next()
                    while not self.is_(")"):
                        self.expect("$")
                        vn = self.expect("name")[1]
                        self.expect(":")
                        ty = self.type_ref()
                        default = None
                        has_default = False
                        if self.is_("="):
                            self.next()
                            default = self.value(const=True)
                            has_default = True
                        vars_.append((vn, ty, default, has_default))
                    self.next()
                self.directives()
                ops.append({"type": typ, "name": name, "vars": vars_, "sel": self.selection_set()})
            else:
                self.err()
        if not ops:
            raise GQLSyntaxError("No operations in document", 1, 1)
        return ops, frags

    def type_ref(self):
        if self.is_("["):
            self.next()
            inner = self.type_ref()
            self.expect("]")
            s = "[%s]" % inner
        else:
            s = self.expect("name")[1]
        if self.is_("!"):
            self.next()
            s += "!"
        return s

    def directives(self):
        while self.is_("@"):
            self.next()
            self.expect("name")
            if self.is_("("):
                self.arguments()

    def selection_set(self):
        self.expect("{")
        sel = []
        while not self.is_("}"):
            if self.is_("..."):
                self.next()
                if self.is_("name") and self.peek()[1] != "on":
                    sel.append({"spread": self.next()[1]})
                    self.directives()
                else:
                    if self.is_("name", "on"):
                        self.next()
                        self.expect("name")
                    self.directives()
                    sel.append({"inline": self.selection_set()})
                continue
            tok = self.expect("name")
            alias, name = None, tok[1]
            if self.is_(":"):
                self.next()
                alias = name
                name = self.expect("name")[1]
            args = self.arguments() if self.is_("(") else []
            self.directives()
            sub = self.selection_set() if self.is_("{") else None
            sel.append({"alias": alias, "name": name, "args": args, "sel": sub, "line": tok[2], "col": tok[3]})
        self.next()
        if not sel:
            self.err()
        return sel

    def arguments(self):
        self.expect("(")
        args = []
        while not self.is_(")"):
            n = self.expect("name")[1]
            self.expect(":")
            args.append((n, self.value()))
        self.next()
        return args

    def value(self, const=False):
        tok = self.next()
        k = tok[0]
        if k == "$" and not const:
            return ("var", self.expect("name")[1])
        if k in ("int", "float", "str"):
            return (k, tok[1])
        if k == "name":
            if tok[1] in ("true", "false"):
                return ("bool", tok[1] == "true")
            if tok[1] == "null":
                return ("null", None)
            return ("enum", tok[1])
        if k == "[":
            items = []
            while not self.is_("]"):
                items.append(self.value(const))
            self.next()
            return ("list", items)
        if k == "{":
            fields = {}
            while not self.is_("}"):
                fn = self.expect("name")[1]
                self.expect(":")
                fields[fn] = self.value(const)
            self.next()
            return ("obj", fields)
        self.err(tok)


# schema: type -> field -> (return type, args {name: type})
GQL_SCHEMA = {
    "Query": {
        "getQueryStats": ("[QueryStatsType]", {"databaseId": "ID!", "startTs": "Int", "endTs": "Int",
                                                "limit": "Int"}),
        "getServers": ("[ServerType]", {"organizationSlug": "ID", "withRecentData": "Boolean",
                                        "systemType": "String", "systemScope": "String",
                                        "systemId": "String"}),
        "getIssues": ("[IssueType]", {"serverId": "ID", "databaseId": "ID", "severity": "[String]",
                                      "organizationSlug": "ID", "state": "String"}),
    },
    "QueryStatsType": {f: (t, {}) for f, t in [
        ("id", "ID"), ("queryId", "ID"), ("queryUrl", "String"), ("normalizedQuery", "String"),
        ("truncatedQuery", "String"), ("queryComment", "String"), ("statementTypes", "[String]"),
        ("tableNames", "[String]"), ("totalCalls", "Int"), ("avgTime", "Float"), ("avgIoTime", "Float"),
        ("bufferHitRatio", "Float"), ("pctOfTotal", "Float"), ("callsPerMinute", "Float"),
        ("avgBytesLoaded", "Float")]},
    "ServerType": {f: (t, {}) for f, t in [
        ("id", "ID"), ("humanId", "String"), ("name", "String"), ("systemType", "String"),
        ("systemScope", "String"), ("systemId", "String"), ("lastSnapshotAt", "Int"),
        ("databases", "[DatabaseType]")]},
    "DatabaseType": {f: (t, {}) for f, t in [("id", "ID"), ("datname", "String"), ("displayName", "String")]},
    "IssueType": {f: (t, {}) for f, t in [
        ("id", "String"), ("databaseId", "Int"), ("description", "String"), ("severity", "String"),
        ("references", "[IssueReferenceType]"), ("checkGroupAndName", "String"), ("state", "String"),
        ("createdAt", "Int"), ("updatedAt", "Int")]},
    "IssueReferenceType": {f: (t, {}) for f, t in [
        ("kind", "String"), ("name", "String"), ("url", "String"), ("queryText", "String"),
        ("resolvedAt", "Int")]},
}
SCALARS = {"ID", "String", "Int", "Float", "Boolean"}


def base_type(t):
    return t.strip("[]!")


class ResolverError(Exception):
    pass


def pg_dataset(sample_rows):
    servers = [
        {"id": "9b1f2e4c-7a3d-4c8e-b2a1-0d9e8f7c6b5a", "humanId": "bdp4m73ysjgefke7i2dgkenzi4",
         "name": "pgbench", "systemType": "amazon_rds", "systemScope": "us-east-1", "systemId": "pgbench-prod",
         "lastSnapshotAt": 1779666600, "_recent": True,
         "databases": [{"id": "12345", "datname": "pgbench", "displayName": "pgbench"},
                       {"id": "12346", "datname": "app", "displayName": "app"}]},
        {"id": "3f6a9c2e-1b4d-4e7f-8a5c-6d2e9f0b1c3a", "humanId": "q8x2lv5nzt7kpc3mwr9hyd4fj6",
         "name": "analytics", "systemType": "self_hosted", "systemScope": "dc1", "systemId": "analytics-01",
         "lastSnapshotAt": 1779580200, "_recent": False,
         "databases": [{"id": "22222", "datname": "analytics", "displayName": "analytics"}]},
    ]

    def qs(db, id_, q, types, tables, calls, avg, io, hit, pct, comment=None):
        return {"id": id_, "queryId": id_, "queryUrl": "https://app.pganalyze.com/databases/%s/queries/%s" % (db, id_),
                "normalizedQuery": q, "truncatedQuery": q if len(q) <= 100 else q[:97] + "...",
                "queryComment": comment, "statementTypes": types, "tableNames": tables, "totalCalls": calls,
                "avgTime": avg, "avgIoTime": io, "bufferHitRatio": hit, "pctOfTotal": pct,
                "callsPerMinute": round(calls / 1440.0, 4), "avgBytesLoaded": None}

    long_q = ("SELECT a.aid, a.abalance, b.bbalance, t.tbalance FROM pgbench_accounts a JOIN pgbench_branches b "
              "ON b.bid = a.bid JOIN pgbench_tellers t ON t.bid = b.bid WHERE a.aid = ANY($1) ORDER BY a.aid")
    stats = {
        "12345": [
            qs("12345", "678912", "DELETE FROM pgbench_history WHERE mtime < $1", ["DELETE"], ["pgbench_history"],
               1440, 12.5, 3.25, 91.5, 1.2),
            qs("12345", "678913", "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, "
               "CURRENT_TIMESTAMP)", ["INSERT"], ["pgbench_history"], 1887301, 0.21, 0.0, 100.0, 0.5),
            qs("12345", "678914", long_q, ["SELECT"], ["pgbench_accounts", "pgbench_branches", "pgbench_tellers"],
               12, 4.75, 1.5, 88.25, 0.1, "/* batch:report */"),
        ],
        "12346": [
            qs("12346", "880001", "SELECT * FROM users WHERE email = $1", ["SELECT"], ["users"], 99120, 1.25,
               0.05, 99.9, 61.5, "/* app:login */"),
            qs("12346", "880002", "UPDATE sessions SET last_seen = now() WHERE id = $1", ["UPDATE"], ["sessions"],
               50011, 0.9, 0.0, 99.5, 30.25),
            qs("12346", "880003", "WITH x AS (SELECT 1) SELECT * FROM x", ["SELECT"], [], 5, 0.01, 0.0, 100.0, 0.0),
        ],
        "22222": [
            qs("22222", "990001", "SELECT date_trunc('day', ts), count(*) FROM events GROUP BY 1",
               ["SELECT"], ["events"], 480, 2250.5, 800.25, 42.5, 88.0),
            qs("22222", "990002", "COPY events FROM STDIN", ["COPY"], ["events"], 96, 9500.0, 0.0, 100.0, 12.0),
        ],
    }
    head = []
    for r in sample_rows:
        r = dict(r)
        r.setdefault("queryId", r["id"])
        r.setdefault("callsPerMinute", round(r["totalCalls"] / 1440.0, 4))
        r.setdefault("avgBytesLoaded", None)
        head.append(r)
    stats["12345"] = head + stats["12345"]
    return servers, stats, None


def default_issues():
    h1 = "bdp4m73ysjgefke7i2dgkenzi4"
    h2 = "q8x2lv5nzt7kpc3mwr9hyd4fj6"
    return [
        {"id": "42", "databaseId": 12345,
         "description": "Setting shared_buffers is too small. For For MB RAM try using shared_buffers = 256 MB "
                        "(current: 199 MB)",
         "severity": "warning",
         "references": [{"kind": "config_setting", "name": "shared_buffers",
                         "url": "/servers/%s/config/shared_buffers" % h1, "queryText": None, "resolvedAt": None}],
         "checkGroupAndName": "settings/shared_buffers", "state": "triggered",
         "createdAt": 1779000000, "updatedAt": 1779600000, "_server": h1},
        {"id": "43", "databaseId": 12345,
         "description": "Index suggestion: CREATE INDEX ON pgbench_history (mtime)",
         "severity": "info",
         "references": [{"kind": "query", "name": "678912", "url": "/databases/12345/queries/678912",
                         "queryText": "DELETE FROM pgbench_history WHERE mtime < $1", "resolvedAt": None}],
         "checkGroupAndName": "index_advisor/missing_index", "state": "triggered",
         "createdAt": 1779100000, "updatedAt": 1779610000, "_server": h1},
        {"id": "44", "databaseId": 12346,
         "description": "Table users has not been vacuumed recently",
         "severity": "info",
         "references": [{"kind": "table", "name": "public.users", "url": "/databases/12346/tables/users",
                         "queryText": None, "resolvedAt": 1779500000}],
         "checkGroupAndName": "schema/table_vacuum", "state": "resolved",
         "createdAt": 1778900000, "updatedAt": 1779500000, "_server": h1},
        {"id": "45", "databaseId": 22222,
         "description": "Transaction ID wraparound is approaching: 1.2 billion transactions left",
         "severity": "critical",
         "references": [{"kind": "database", "name": "analytics", "url": "/databases/22222",
                         "queryText": None, "resolvedAt": None}],
         "checkGroupAndName": "health/xid_wraparound", "state": "triggered",
         "createdAt": 1779200000, "updatedAt": 1779620000, "_server": h2},
        {"id": "46", "databaseId": 22222,
         "description": "Replication lag exceeded 60 seconds",
         "severity": "warning",
         "references": [{"kind": "server", "name": "analytics", "url": "/servers/%s/replication" % h2,
                         "queryText": None, "resolvedAt": 1779400000}],
         "checkGroupAndName": "replication/high_lag", "state": "resolved",
         "createdAt": 1779300000, "updatedAt": 1779400000, "_server": h2},
    ]


class PgAnalyze:
    def __init__(self, sim):
        self.sim = sim

    def handle(self, method, path, params, body, headers, entry):
        auth = headers.get("Authorization") or ""
        m = re.match(r"^Token\s+(\S.*)$", auth)
        if not m or m.group(1).strip() in ("", "wrong"):
            return Response(401, b'{"errors":[{"message":"Unauthorized"}]}')
        if method not in ("POST", "GET"):
            return Response(405, jdump({"errors": [{"message": "Method not allowed"}]}))
        ctype = (headers.get("Content-Type") or "").lower()
        query = variables = opname = None
        try:
            if method == "GET":
                query = (params.get("query") or [None])[0]
                variables = (params.get("variables") or [None])[0]
                opname = (params.get("operationName") or [None])[0]
            elif ctype.startswith("application/x-www-form-urlencoded"):
                form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
                query = (form.get("query") or [None])[0]
                variables = (form.get("variables") or [None])[0]
                opname = (form.get("operationName") or [None])[0]
            elif ctype.startswith("multipart/form-data"):
                form = parse_multipart(headers.get("Content-Type"), body)
                query, variables, opname = form.get("query"), form.get("variables"), form.get("operationName")
            else:
                doc = json.loads(body.decode("utf-8"))
                if not isinstance(doc, dict):
                    raise ValueError("not an object")
                query, variables, opname = doc.get("query"), doc.get("variables"), doc.get("operationName")
            if isinstance(variables, str):
                variables = json.loads(variables) if variables.strip() else None
            if variables is None:
                variables = {}
            if not isinstance(variables, dict):
                raise ValueError("variables must be an object")
        except (ValueError, UnicodeDecodeError) as e:
            entry["graphql"] = {"query": query, "variables": None, "operationName": opname}
            return Response(400, jdump({"errors": [{"message": "Invalid request: %s" % e}]}))
        entry["graphql"] = {"query": query, "variables": variables, "operationName": opname}
        if not query or not isinstance(query, str):
            return Response(200, jdump({"errors": [{"message": "No query string was present"}]}))
        with self.sim.lock:
            legacy = bool(self.sim.config.get("pganalyze_legacy"))
        return Response(200, jdump(GQLExec(self, query, variables, opname, legacy).run()))


def parse_multipart(ctype, body):
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
    out = {}
    if not msg.is_multipart():
        raise ValueError("bad multipart body")
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True) or b""
            out[name] = payload.decode("utf-8")
    return out


class GQLExec:
    def __init__(self, api, query, variables, opname, legacy):
        self.api = api
        self.query = query
        self.variables = variables
        self.opname = opname
        self.legacy = legacy
        self.errors = []

    def schema(self, typ):
        fields = GQL_SCHEMA[typ]
        if typ == "QueryStatsType" and self.legacy:
            fields = dict(fields)
            del fields["statementTypes"]
            fields["statementType"] = ("[String]", {})
        return fields

    def run(self):
        try:
            ops, self.frags = GQLParser(self.query).document()
        except GQLSyntaxError as e:
            return {"errors": [{"message": e.msg, "locations": [{"line": e.line, "column": e.col}]}]}
        if self.opname:
            sel = [o for o in ops if o["name"] == self.opname]
            if not sel:
                return {"errors": [{"message": 'Operation name "%s" not found' % self.opname}]}
            op = sel[0]
        else:
            if len(ops) > 1:
                return {"errors": [{"message": "An operation name is required"}]}
            op = ops[0]
        if op["type"] != "query":
            return {"errors": [{"message": "Schema is not configured for %ss" % op["type"]}]}
        self.op_path = "query" + (" " + op["name"] if op["name"] else "")
        # variables
        self.vars = {}
        declared = {}
        for vn, ty, default, has_default in op["vars"]:
            declared[vn] = ty
            if vn in self.variables:
                v = self.variables[vn]
            elif has_default:
                v = self.const_value(default)
            else:
                v = None
            prob = self.check_input(v, ty)
            if prob:
                self.errors.append({"message": "Variable $%s of type %s was provided invalid value" % (vn, ty),
                                    "locations": [{"line": 1, "column": 1}],
                                    "extensions": {"value": v, "problems": [{"path": [], "explanation": prob}]}})
            self.vars[vn] = v
        self.declared = declared
        root = self.expand(op["sel"])
        self.validate(root, "Query", [self.op_path])
        if self.errors:
            return {"errors": self.errors}
        data = {}
        exec_errors = []
        for f in root:
            key = f["alias"] or f["name"]
            if f["name"] == "__typename":
                data[key] = "Query"
                continue
            args = self.args_of(f, GQL_SCHEMA["Query"][f["name"]][1])
            try:
                val = getattr(self, "r_" + f["name"])(args)
                data[key] = self.project(val, f["sel"], GQL_SCHEMA["Query"][f["name"]][0])
            except ResolverError as e:
                data[key] = None
                exec_errors.append({"message": str(e), "locations": [{"line": f["line"], "column": f["col"]}],
                                    "path": [key]})
        out = {"data": data}
        if exec_errors:
            out["errors"] = exec_errors
        return out

    def expand(self, sel, depth=0):
        out = []
        for s in sel:
            if "spread" in s:
                if s["spread"] not in self.frags or depth > 20:
                    self.errors.append({"message": "Fragment %s was used, but not defined" % s["spread"]})
                    continue
                out.extend(self.expand(self.frags[s["spread"]], depth + 1))
            elif "inline" in s:
                out.extend(self.expand(s["inline"], depth + 1))
            else:
                out.append(s)
        return out

    def validate(self, sel, typ, path):
        fields = self.schema(typ)
        for f in sel:
            name = f["name"]
            loc = [{"line": f["line"], "column": f["col"]}]
            if name == "__typename":
                continue
            if name not in fields:
                self.errors.append({"message": "Field '%s' doesn't exist on type '%s'" % (name, typ),
                                    "locations": loc, "path": path + [name],
                                    "extensions": {"code": "undefinedField", "typeName": typ, "fieldName": name}})
                continue
            rtype, argdefs = fields[name]
            given = [a for a, _ in f["args"]]
            for a in given:
                if a not in argdefs:
                    self.errors.append({"message": "Field '%s' doesn't accept argument '%s'" % (name, a),
                                        "locations": loc, "path": path + [name, a],
                                        "extensions": {"code": "argumentNotAccepted", "name": name,
                                                       "typeName": "Field", "argumentName": a}})
            missing = [a for a, t in argdefs.items() if t.endswith("!") and a not in given]
            if missing:
                self.errors.append({"message": "Field '%s' is missing required arguments: %s" % (name, ", ".join(missing)),
                                    "locations": loc, "path": path + [name],
                                    "extensions": {"code": "missingRequiredArguments", "className": "Field",
                                                   "name": name, "arguments": ", ".join(missing)}})
            for a, vnode in f["args"]:
                if a not in argdefs:
                    continue
                self.check_arg_node(name, a, vnode, argdefs[a], loc, path)
            bt = base_type(rtype)
            if bt in SCALARS:
                if f["sel"]:
                    self.errors.append({"message": "Selections can't be made on scalars (field '%s' returns %s but has selections [%s])"
                                        % (name, rtype, ", ".join(x.get("name", "...") for x in f["sel"])),
                                        "locations": loc, "path": path + [name],
                                        "extensions": {"code": "selectionMismatch", "nodeName": "field '%s'" % name,
                                                       "typeName": rtype}})
            else:
                if not f["sel"]:
                    self.errors.append({"message": "Field must have selections (field '%s' returns %s but has no selections. Did you mean '%s { ... }'?)"
                                        % (name, rtype, name), "locations": loc, "path": path + [name],
                                        "extensions": {"code": "selectionMismatch", "nodeName": "field '%s'" % name,
                                                       "typeName": rtype}})
                else:
                    f["sel"] = self.expand(f["sel"])
                    self.validate(f["sel"], bt, path + [name])

    def check_arg_node(self, fname, aname, node, ty, loc, path):
        if node[0] == "var":
            vn = node[1]
            if vn not in self.declared:
                self.errors.append({"message": "Variable $%s is used by %s but not declared" % (vn, self.op_path),
                                    "locations": loc, "path": path + [fname, aname],
                                    "extensions": {"code": "variableNotDefined", "variableName": vn}})
            return
        try:
            v = self.const_value(node)
        except KeyError:
            return
        prob = self.check_input(v, ty)
        if prob:
            self.errors.append({"message": "Argument '%s' on Field '%s' has an invalid value (%s). Expected type '%s'."
                                % (aname, fname, json.dumps(v), ty), "locations": loc, "path": path + [fname, aname],
                                "extensions": {"code": "argumentLiteralsIncompatible", "typeName": "Field",
                                               "argumentName": aname}})

    def const_value(self, node):
        k, v = node
        if k == "var":
            return self.vars.get(v)
        if k == "list":
            return [self.const_value(x) for x in v]
        if k == "obj":
            return {kk: self.const_value(x) for kk, x in v.items()}
        if k == "null":
            return None
        return v

    def check_input(self, v, ty):
        """Problem text or None."""
        if ty.endswith("!"):
            if v is None:
                return "Expected value to not be null"
            ty = ty[:-1]
        if v is None:
            return None
        if ty.startswith("["):
            inner = ty[1:-1]
            items = v if isinstance(v, list) else [v]
            for x in items:
                p = self.check_input(x, inner)
                if p:
                    return p
            return None
        if ty == "ID":
            ok = isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))
        elif ty == "Int":
            ok = isinstance(v, int) and not isinstance(v, bool) and -2**31 <= v < 2**31
        elif ty == "Float":
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        elif ty == "String":
            ok = isinstance(v, str)
        elif ty == "Boolean":
            ok = isinstance(v, bool)
        else:
            ok = True
        return None if ok else "Could not coerce value %s to %s" % (json.dumps(v), ty)

    def args_of(self, f, argdefs):
        out = {}
        for a, node in f["args"]:
            v = self.const_value(node)
            ty = argdefs.get(a, "")
            if v is not None and base_type(ty) == "ID" and not isinstance(v, list):
                v = str(v)
            if v is not None and ty.startswith("[") and not isinstance(v, list):
                v = [v]
            out[a] = v
        return out

    def project(self, val, sel, rtype):
        if val is None:
            return None
        if isinstance(val, list):
            return [self.project(x, sel, base_type(rtype)) for x in val]
        if not sel:
            return val
        bt = base_type(rtype)
        fields = self.schema(bt)
        out = {}
        for f in sel:
            key = f["alias"] or f["name"]
            if f["name"] == "__typename":
                out[key] = bt
                continue
            rt = fields[f["name"]][0]
            src = f["name"]
            if src == "statementType":
                src = "statementTypes"
            out[key] = self.project(val.get(src), f["sel"], rt)
        return out

    # -- resolvers -----------------------------------------------------------
    def r_getQueryStats(self, a):
        servers, stats, _ = self.api.sim.pg
        db = a.get("databaseId")
        rows = stats.get(db)
        if rows is None:
            raise ResolverError("Database not found")
        rows = sorted(rows, key=lambda r: -r["pctOfTotal"])
        if a.get("limit") is not None:
            rows = rows[:max(0, a["limit"])]
        return rows

    def r_getServers(self, a):
        servers, _, _ = self.api.sim.pg
        out = []
        for s in servers:
            if a.get("withRecentData") is not None and s["_recent"] != a["withRecentData"]:
                continue
            if any(a.get(k) is not None and s[k] != a[k] for k in ("systemType", "systemScope", "systemId")):
                continue
            out.append(s)
        return out

    def r_getIssues(self, a):
        servers, stats, _ = self.api.sim.pg
        issues = self.api.sim.pg_issues
        sid, dbid = a.get("serverId"), a.get("databaseId")
        if sid is None and dbid is None:
            raise ResolverError("Either serverId or databaseId must be specified")
        if sid is not None and not any(s["humanId"] == sid for s in servers):
            raise ResolverError("Server not found")
        if dbid is not None and dbid not in stats:
            raise ResolverError("Database not found")
        out = []
        for i in issues:
            if sid is not None and i["_server"] != sid:
                continue
            if dbid is not None and str(i["databaseId"]) != dbid:
                continue
            if a.get("severity") is not None and i["severity"] not in a["severity"]:
                continue
            st = a.get("state")
            if st is not None and (st not in ("triggered", "resolved") or i["state"] != st):
                continue
            out.append(i)
        return out


# ---------------------------------------------------------------------------
# HTTP layer and faults
# ---------------------------------------------------------------------------

FILLER_REC = b'{"id":"0123456789abcdef0123456789abcdef","n":1234567890,"s":"filler"},'
FILLER_BLOCK = FILLER_REC * (65536 // len(FILLER_REC))
OVERSIZE_PREFIX = b'{"status":200,"result":['
_GZIP_BOMBS = {}


def gzip_bomb_body(total):
    """A gzip member that inflates to about `total` bytes: a JSON prefix,
    then zeros.  One 1 MiB block of zeros is deflated once and repeated
    (each copy ends in a full flush, so none refers to another), so even
    1 GiB takes milliseconds; the trailer's CRC and size are right."""
    if total in _GZIP_BOMBS:
        return _GZIP_BOMBS[total]
    import zlib
    chunk = 1 << 20
    head = OVERSIZE_PREFIX + b'"'
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = b"\0" * chunk
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    last = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    n = max(0, (total - len(head)) // chunk)
    crc = zlib.crc32(head)
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    size = len(head) + n * chunk
    body = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + first + block * n + last +
            struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))
    _GZIP_BOMBS[total] = body
    return body


SAMPLE_ERR = {400: "error.400.json", 401: "error.401.json", 404: "error.404.json", 429: "error.429.json",
              500: "error.500.json"}


class ClientGone(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "apisim/1.0"
    sim = None  # set in main()

    def setup(self):
        super().setup()
        self.conn_id = self.sim.next_conn()
        self.req_on_conn = 0

    def log_message(self, fmt, *args):
        if self.sim.verbose:
            sys.stderr.write("apisim: %s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    # -- low level -------------------------------------------------------------
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ClientGone()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        l2 = self.rfile.readline(65536)
                        if l2 in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > MAX_REQUEST_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(16)
            return b"".join(chunks)
        cl = self.headers.get("Content-Length")
        if cl:
            n = int(cl)
            if n < 0 or n > MAX_REQUEST_BODY:
                raise ValueError("body too large")
            data = self.rfile.read(n)
            if len(data) < n:
                raise ClientGone()
            return data
        return b""

    def write(self, data):
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            self.close_connection = True
            raise ClientGone()

    def head_bytes(self, status, headers, version="HTTP/1.1"):
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = ["%s %d %s" % (version, status, reason)]
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")

    def std_headers(self, resp, length=True):
        h = []
        if resp.content_type is not None:
            h.append(("Content-Type", resp.content_type))
        if length:
            h.append(("Content-Length", str(len(resp.body))))
        h.append(("Date", self.date_time_string()))
        h.extend(resp.headers)
        if self.close_connection:
            h.append(("Connection", "close"))
        return h

    def kill(self, rst):
        s = self.connection
        try:
            if rst:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for f in (self.wfile, self.rfile):
            try:
                f.close()
            except Exception:
                pass
        self.wfile, self.rfile = io.BytesIO(), io.BytesIO()
        if not rst:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            s.close()
        except OSError:
            pass
        self.close_connection = True

    def hang(self, seconds=300):
        s = self.connection
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                r, _, _ = select.select([s], [], [], 0.5)
                if r:
                    d = s.recv(65536)
                    if not d:
                        break
        except OSError:
            pass
        self.kill(rst=False)

    # -- dispatch ----------------------------------------------------------------
    def dispatch(self):
        self.req_on_conn += 1
        sim = self.sim
        parts = urllib.parse.urlsplit(self.path)
        path, query = parts.path, parts.query
        try:
            body = self.read_body()
        except ClientGone:
            self.close_connection = True
            return
        except ValueError:
            self.close_connection = True
            self.send_plain(Response(413, jdump({"status": 413, "error": "PAYLOAD_TOO_LARGE",
                                                 "requestId": str(uuid.uuid5(uuid.NAMESPACE_URL, "fault"))})))
            return
        try:
            if path.startswith("/__mock"):
                self.send_plain(self.mock(path, query, body))
                return
            self.api_request(path, query, body)
        except ClientGone:
            self.close_connection = True

    def send_plain(self, resp):
        self.write(self.head_bytes(resp.status, self.std_headers(resp)) + resp.body)

    def api_request(self, path, query, body):
        sim = self.sim
        method = self.command
        api = "pganalyze" if path == "/graphql" else "clickhouse"
        auth = self.headers.get("Authorization")
        auth_user = None
        if auth:
            if auth[:6].lower() == "basic ":
                try:
                    auth_user = base64.b64decode(auth[6:].strip()).decode("utf-8", "replace").split(":", 1)[0]
                except ValueError:
                    pass
            elif auth[:6] == "Token ":
                auth_user = auth[6:].strip()
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        entry = collections.OrderedDict(
            seq=sim.next_seq(), t=time.time(), method=method, path=path, query=query, params=params,
            body=body[:JOURNAL_BODY_MAX].decode("utf-8", "replace"), body_sha256=sha256_hex(body),
            auth_sha256=sha256_hex(auth) if auth is not None else None, conn=self.conn_id,
            content_type=self.headers.get("Content-Type"), status=None, api=api)
        with sim.lock:
            latency = sim.config.get("latency_ms") or 0
        if latency:
            time.sleep(latency / 1000.0)
        if auth_user and auth_user.startswith(("mock:", "mock-")):
            sim.register_scenario(auth_user)
        fault = sim.take_fault(method, path, auth_user, self.req_on_conn)
        act = (fault or {}).get("action") or {}
        if fault:
            entry["fault"] = fault["id"]
        if act.get("delay_ms"):
            time.sleep(act["delay_ms"] / 1000.0)
        if act.get("drop_params"):
            # processed as if these query parameters had not been sent (the
            # journal keeps what was sent): an API that ignores "offset"
            params = {k: v for k, v in params.items() if k not in act["drop_params"]}

        # actions that replace processing
        if act.get("hang"):
            sim.log(entry)
            self.hang(float(act.get("seconds", 300)))
            return
        if act.get("reset"):
            sim.log(entry)
            self.kill(rst=True)
            return
        if act.get("close_before_headers"):
            sim.log(entry)
            self.kill(rst=False)
            return
        if "raw" in act:
            raw = base64.b64decode(act["raw"])
            m = re.match(rb"HTTP/\d\.\d (\d{3})", raw)
            entry["status"] = int(m.group(1)) if m else None
            sim.log(entry)
            try:
                self.write(raw)
            finally:
                self.kill(rst=False)
            return
        if "redirect" in act:
            r = act["redirect"]
            resp = Response(int(r.get("status", 302)), jdump({"status": int(r.get("status", 302)),
                                                                "error": "Moved", "requestId": str(uuid.uuid5(uuid.NAMESPACE_URL, "fault"))}),
                            headers=[("Location", r.get("location", "http://127.0.0.1:1/"))])
            entry["status"] = resp.status
            sim.log(entry)
            self.send_plain(resp)
            return
        if "oversize" in act:
            entry["status"] = 200
            sim.log(entry)
            self.oversize(act["oversize"])
            return
        if "gzip_bomb" in act:
            entry["status"] = 200
            sim.log(entry)
            self.gzip_bomb(act["gzip_bomb"])
            return
        if "status" in act or "body" in act or "body_b64" in act:
            resp = self.fault_response(act)
        else:
            resp = None
            wait = sim.rate_check(auth_user if auth_user is not None else "")
            if wait is not None:
                j = sim.fx.json("clickhouse/error.429.json")
                resp = ch_err(429, j["error"])
                resp.headers += [("Retry-After", str(max(1, math.ceil(wait)))),
                                 ("X-RateLimit-Reset", ("%.3f" % wait).rstrip("0").rstrip("."))]
            else:
                try:
                    if api == "pganalyze":
                        resp = PgAnalyze(sim).handle(method, path, params, body, self.headers, entry)
                    else:
                        resp = ClickHouse(sim).handle(method, path, params, body, self.headers)
                except Exception as e:  # a simulator bug: answer 500 and say so on stderr
                    import traceback
                    traceback.print_exc()
                    resp = ch_err(500, "INTERNAL_SERVER_ERROR: apisim bug: %r" % e)
        # post-processing actions
        if act.get("process_then_reset"):
            sim.log(entry)
            self.kill(rst=True)
            return
        if "huge_header" in act:
            hh = act["huge_header"]
            nbytes, count = int(hh.get("bytes", 65536)), int(hh.get("count", 1))
            for k in range(count):
                resp.headers.append(("X-Huge-%d" % k, "a" * nbytes))
        entry["status"] = resp.status
        sim.log(entry)
        if act.get("http10"):
            self.close_connection = True
            h = [x for x in self.std_headers(resp, length=False) if x[0] != "Connection"]
            h.append(("Connection", "close"))
            try:
                self.write(self.head_bytes(resp.status, h, "HTTP/1.0") + resp.body)
            finally:
                self.kill(rst=False)
            return
        if act.get("truncate"):
            try:
                self.write(self.head_bytes(resp.status, self.std_headers(resp)) + resp.body[:len(resp.body) // 2])
            finally:
                self.kill(rst=False)
            return
        if "slow_body" in act:
            sb = act["slow_body"] if isinstance(act["slow_body"], dict) else {}
            chunk = max(1, int(sb.get("chunk", 1)))
            interval = float(sb.get("interval_ms", 2000)) / 1000.0
            total = float(sb.get("total_ms", 60000)) / 1000.0
            end = time.monotonic() + total
            pos = 0
            try:
                self.write(self.head_bytes(resp.status, self.std_headers(resp)))
                while pos < len(resp.body) and time.monotonic() < end:
                    self.write(resp.body[pos:pos + chunk])
                    pos += chunk
                    if pos < len(resp.body):
                        time.sleep(interval)
            except ClientGone:
                pass
            finally:
                if pos < len(resp.body):
                    self.kill(rst=False)
            return
        self.send_plain(resp)

    def fault_response(self, act):
        status = int(act.get("status", 200))
        ct = act["content_type"] if "content_type" in act else "application/json"
        if "body_b64" in act:
            body = base64.b64decode(act["body_b64"])
        elif "body" in act:
            body = act["body"].encode("utf-8", "surrogatepass") if isinstance(act["body"], str) else jdump(act["body"])
        elif status in SAMPLE_ERR:
            body = self.sim.fx.raw("clickhouse/" + SAMPLE_ERR[status])
        else:
            body = jdump({"status": status, "error": "%s: Simulated error" % ERR_PREFIX.get(status, "ERROR"),
                          "requestId": str(uuid.uuid5(uuid.NAMESPACE_URL, "fault"))})
        hdrs = list((act.get("headers") or {}).items())
        return Response(status, body, ct, hdrs)

    def oversize(self, o):
        total = int(o.get("bytes", 1 << 20))
        chunked = bool(o.get("chunked", False))
        h = [("Content-Type", "application/json"), ("Date", self.date_time_string())]
        h.append(("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(total)))
        self.close_connection = True
        try:
            self.write(self.head_bytes(200, h))
            sent = 0
            first = True
            while sent < total:
                piece = OVERSIZE_PREFIX if first else FILLER_BLOCK
                first = False
                piece = piece[:total - sent]
                sent += len(piece)
                self.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                self.write(b"0\r\n\r\n")
        except ClientGone:
            pass
        self.kill(rst=False)

    def gzip_bomb(self, o):
        body = gzip_bomb_body(int(o.get("bytes", 1 << 30)))
        h = [("Content-Type", "application/json"), ("Content-Encoding", "gzip"),
             ("Content-Length", str(len(body))), ("Date", self.date_time_string())]
        self.close_connection = True
        try:
            self.write(self.head_bytes(200, h) + body)
        except ClientGone:
            pass
        self.kill(rst=False)

    # -- control endpoints -----------------------------------------------------------
    def mock(self, path, query, body):
        sim = self.sim
        method = self.command
        params = urllib.parse.parse_qs(query)
        ok = Response(200, b'{"ok":true}')

        def js():
            if not body.strip():
                return {}
            v = json.loads(body.decode("utf-8"))
            if not isinstance(v, dict):
                raise ValueError("expected a JSON object")
            return v

        try:
            if path == "/__mock/journal" and method == "GET":
                since = int((params.get("since") or ["0"])[0])
                return Response(200, jdump(sim.journal_since(since)))
            if path == "/__mock/seq" and method == "GET":
                with sim.jlock:
                    return Response(200, jdump({"seq": sim.seq}))
            if path in ("/__mock/health", "/__mock/ping"):
                return ok
            if path == "/__mock/status" and method == "GET":
                with sim.lock:
                    return Response(200, jdump({"ok": True, "warm": sim.warm, "services": len(sim.services),
                                                "faults": len([f for f in sim.faults if f["times"] != 0]),
                                                "seq": sim.seq}))
            if path == "/__mock/reset" and method == "POST":
                sim.reset()
                return ok
            if path == "/__mock/config":
                if method == "GET":
                    with sim.lock:
                        return Response(200, jdump(sim.config))
                if method == "POST":
                    cfg = js()
                    with sim.lock:
                        for k, v in cfg.items():
                            if k not in DEFAULT_CONFIG:
                                return Response(400, jdump({"ok": False, "error": "unknown config key %s" % k}))
                        sim.config.update(cfg)
                        if "rate_limit" in cfg:
                            sim.rate.clear()
                        if "dataset" in cfg:
                            sim.build_dataset(cfg["dataset"])
                    return ok
            if path == "/__mock/fault" and method == "POST":
                f = js()
                act = f.get("action")
                if not isinstance(act, dict) or not act:
                    return Response(400, jdump({"ok": False, "error": "fault needs an action object"}))
                with sim.lock:
                    sim.fault_seq += 1
                    fault = {"id": sim.fault_seq, "match": f.get("match") or {},
                             "times": int(f.get("times", 1)), "action": act, "hits": 0}
                    if fault["match"].get("path"):
                        re.compile(fault["match"]["path"])
                    if "p" in f:
                        p = float(f["p"])
                        if not 0.0 <= p <= 1.0:
                            raise ValueError("p must be between 0 and 1")
                        fault["p"] = p
                        fault["rng"] = random.Random(f.get("seed", fault["id"]))
                    sim.faults.append(fault)
                return Response(200, jdump({"ok": True, "id": fault["id"]}))
            if path == "/__mock/faults" and method == "GET":
                with sim.lock:
                    return Response(200, jdump([fault_view(f) for f in sim.faults if f["times"] != 0]))
            if path == "/__mock/faults/all" and method == "GET":
                with sim.lock:
                    return Response(200, jdump([fault_view(f) for f in sim.faults]))
            if path == "/__mock/faults/clear" and method == "POST":
                with sim.lock:
                    sim.faults = []
                    sim.scenarios = set()
                return ok
        except (ValueError, re.error) as e:
            return Response(400, jdump({"ok": False, "error": str(e)}))
        return Response(404, jdump({"ok": False, "error": "unknown control endpoint %s %s" % (method, path)}))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        if self.sim.verbose:
            super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description="pgapi_fdw API simulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--journal")
    ap.add_argument("--fixtures", default=os.path.join(HERE, "fixtures"))
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    sim = Sim(Fixtures(a.fixtures), a.journal, a.verbose)
    Handler.sim = sim
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.sim = sim
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp.%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)
    print("apisim listening on 127.0.0.1:%d" % port, flush=True)

    def stop(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
        if sim.jfile:
            sim.jfile.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
