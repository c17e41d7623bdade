#!/usr/bin/env python3
"""tape_diff.py - rows read from a tape equal rows read from a json-c tree.

Run by src/test/suites/tape.sh.  Standard library + psql only.

pgapi_fdw reads a page of rows from the tape of its body (src/jsontape.c,
scan.c build_row_tape) unless pgapi_fdw.tape_parser is off, when it builds
json-c's tree as before.  Both must give the same rows and the same errors
(RELIABILITY B3-B7: the fast path may not be any less strict).  This suite
serves pages through the simulator and reads every column of a table with a
column of each conversion kind twice in one session, once each way, and
compares what psql prints: the values, or the error with its SQLSTATE,
DETAIL and CONTEXT (column and table).  The pages are
  * fixed ones: the cases of sql/types.sql, and envelopes the tape path
    must leave to the tree path (error envelopes, a "result" that is not an
    array of objects, escaped member names, malformed JSON), and
  * random ones (seeded; the seed is printed): rows whose members take
    values from a pool of edge cases (escapes, "\\u0000", integers at and
    past every limit, doubles, nested values), with members missing,
    repeated (the last one counts) or shuffled.
Pages the tape path must take are checked to have been read from a tape
with the setting on (its DEBUG2 line) and never with it off, so that the
comparison is not between two runs of the same path.
The last line is `N passed, N failed`.
"""

import base64
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.request

SIM = os.environ["PGAPI_SIM_URL"]
MODE = os.environ.get("PGAPI_TEST_MODE", "ci")
DB = "pgapi_tape"
KEY = "tape-key"
NCASES = {"quick": 6, "ci": 30, "long": 400}.get(MODE, 30)
TAPE_LINE = re.compile(r"DEBUG:  (?:00000: )?pgapi_fdw: page of \d+ rows read from its tape")

passed = failed = 0

COLUMNS = [
    ("t", "text", "t"),
    ("vc", "varchar(5)", "vc"),
    ("n", "bigint", "n"),
    ("i", "integer", "i"),
    ("s", "smallint", "s"),
    ("num", "numeric", "num"),
    ("nm", "numeric(6,2)", "nm"),
    ("f", "double precision", "f"),
    ("b", "boolean", "b"),
    ("ts", "timestamptz", "ts"),
    ("ts0", "timestamptz(0)", "ts0"),
    ("d", "date", "d"),
    ("j", "jsonb", "j"),
    ("js", "json", "js"),
    ("arr", "text[]", "arr"),
    ("iarr", "integer[]", "iarr"),
    ("u", "uuid", "u"),
    ("deep", "text", "/deep/inner/0/v"),
    ("deepn", "bigint", "/deep/n"),
]

# JSON texts of values; every column gets values of every kind
STRINGS = ['""', '"abc"', '"caf\\u00e9"', '"caf\u00e9"', '"\\ud83d\\ude00 x"', '"a\\u0000b"',
           '"tab\\there\\nline"', '"\\"q\\" \\\\ \\/ \\b\\f\\r"', '"2026-05-25T16:42:09Z"',
           '"2026-05-25T16:42:09.123456+05:45"', '"2026-05-25T16:42:09"', '"2026-05-25"',
           '"f71df78e-ddad-82d0-8dfa-abbec741b82e"', '"12"', '"-4748036479882663975"', '"12abc"',
           '"{1,2}"', '"{\\"a\\",null}"', '"true"', '"1.5"', '"9223372036854775808"', '"  7 "',
           '"abcdef"', '"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"']
INTS = ["0", "-0", "1", "-1", "42", "32767", "32768", "-32769", "2147483647", "2147483648",
        "-2147483649", "999999999999999999", "-999999999999999999", "1000000000000000000",
        "9223372036854775807", "-9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "18446744073709551614", "18446744073709551615",
        "18446744073709551616", "-9223372036854775809", "1779667200", "-62135596800",
        "123456789012345678901234567890"]
DOUBLES = ["1.5", "-0.0", "0.0", "1e3", "1.5e3", "1E+2", "2.5E-3", "12.9", "1e400", "-1e400",
           "0.1234567890123456789", "1779667200.5", "1779667200.0000005", "1e-400", "9999.995",
           "-1.0e2"]
LITERALS = ["true", "false", "null"]
CONTAINERS = ["[]", "{}", "[1,2]", '["x",null,"z"]', "[[1]]", '[{"a":1}]', '["\\u0000"]',
              '{"k":[1,2,{"x":null}]}', '{"a":1,"a":2}', '{"inner":[{"v":"found"}],"n":7}',
              '{"inner":[{"v":1.50}],"n":"8"}', '{"inner":[],"n":null}', '{"inner":{"0":{"v":"o"}}}',
              '[1,"two",3.0,true,null]', '[9223372036854775808]', '{"big":-9223372036854775808}']
POOL = STRINGS + INTS + DOUBLES + LITERALS + CONTAINERS
SMALL = ["0", "-0", "1", "-1", "42", "32767", "-32768", '"12"', '" 7 "', "null"]
TIMES = ['"2026-05-25T16:42:09Z"', '"2026-05-25T16:42:09.123456+05:45"', '"2026-05-25t16:42:09z"',
         '"2026-05-25 16:42:09-03:30"', "1779667200", "1779667200.5", "1779667200.0000005", "0",
         "-62135596800", "1.7796672e9", "null"]
# values most rows get, so that most reads succeed (the rest of POOL makes errors)
FITTING = {
    "t": POOL, "j": POOL, "js": POOL,
    "vc": ['""', '"abc"', r'"caf\u00e9"', '"12"', "42", "true", "1.5", r'"\ud83d\ude00 x"', r'"a\\b"'],
    "n": INTS[:16] + ['"12"', '"-4748036479882663975"', '"  7 "', "null"],
    "i": SMALL + ["2147483647", "-2147483648", "2147483648"],
    "s": SMALL + ["32768"],
    "num": INTS + ["1.5", "-0.0", "1e3", "12.9", "0.1234567890123456789", '"1.5"', '"NaN"'],
    "nm": SMALL + ["1.5", "9999.995", "-0.0", "1e3", "12.345", "99999"],
    "f": DOUBLES + SMALL + ['"Infinity"', '"1e3"'],
    "b": ["true", "false", '"true"', '"f"', '"yes"', "null"],
    "ts": TIMES, "ts0": TIMES,
    "d": ['"2026-05-25"', '"2026-05-25T16:42:09Z"', '"May 25, 2026"', "null"],
    "arr": ["[]", '["x",null,"z"]', r'["caf\u00e9","\"q\""]', "[1,2.5,true]", '"{1,2}"', '[{"a":1}]', "[[1]]"],
    "iarr": ["[]", "[1,2]", "[1,null,3]", '["4"]', '"{5,6}"', "[2147483648]", "[1.5]"],
    "u": ['"f71df78e-ddad-82d0-8dfa-abbec741b82e"', '"F71DF78E-DDAD-82D0-8DFA-ABBEC741B82E"',
          '"{f71df78e-ddad-82d0-8dfa-abbec741b82e}"', "null"],
}


def sim_post(path, body=None):
    req = urllib.request.Request(SIM + path, data=json.dumps(body or {}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def psql(script, db=DB):
    p = subprocess.run(["psql", "-X", "-q", "-At", "-d", db, "-v", "ON_ERROR_STOP=0"],
                       input=script, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    return p.stdout


def report(name, problems, note=""):
    global passed, failed
    if problems:
        failed += 1
        print("not ok - %s: %s" % (name, "; ".join(problems[:5])))
    else:
        passed += 1
        print("ok - %s%s" % (name, (" (" + note + ")") if note else ""))
    sys.stdout.flush()


def setup():
    with urllib.request.urlopen(urllib.request.Request(
            SIM + "/v1/organizations",
            headers={"Authorization": "Basic " + base64.b64encode(b"tape:x").decode()}), timeout=10) as r:
        org = json.loads(r.read().decode())["result"][0]["id"]
    out = psql("DROP DATABASE IF EXISTS %s WITH (FORCE);\nCREATE DATABASE %s;\n" % (DB, DB), db="postgres")
    cols = ",\n  ".join("%s %s OPTIONS (field '%s')" % c for c in COLUMNS)
    out += psql("""CREATE EXTENSION pgapi_fdw;
CREATE SERVER s FOREIGN DATA WRAPPER pgapi_fdw
  OPTIONS (api 'clickhouse_cloud', url '%s', organization_id '%s', requests_per_window '100000');
CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (key_id '%s', key_secret 'x');
CREATE FOREIGN TABLE tt (
  id text,
  %s
) SERVER s OPTIONS (resource 'postgres_services');
""" % (SIM, org, KEY, cols))
    if "ERROR" in out:
        print(out)
        raise SystemExit("setup failed")


def queries():
    """(label, SQL) read twice per page"""
    qs = [("*", "SELECT * FROM tt;"), ("count", "SELECT count(*) FROM tt;")]
    qs += [(c[0], "SELECT id, %s FROM tt;" % c[0]) for c in COLUMNS]
    return qs


def run_page(name, body, tape_expected):
    """Serve body for the list of services, read every query both ways, compare."""
    sim_post("/__mock/faults/clear")
    sim_post("/__mock/fault", {"match": {"path": "/postgres$", "auth_user": KEY}, "times": -1,
                               "action": {"status": 200, "body": body,
                                          "content_type": "application/json"}})
    script = ["\\set VERBOSITY verbose", "SET client_min_messages = debug2;"]
    for setting in ("on", "off"):
        script.append("SET pgapi_fdw.tape_parser = %s;" % setting)
        for label, sql in queries():
            script.append("\\echo ==== %s %s" % (setting, label))
            script.append(sql)
    out = psql("\n".join(script) + "\n")
    sim_post("/__mock/faults/clear")

    blocks = {}
    cur = None
    for line in out.splitlines():
        m = re.match(r"^==== (on|off) (\S+)$", line)
        if m:
            cur = (m.group(1), m.group(2))
            blocks[cur] = {"lines": [], "tape": 0}
            continue
        if cur is None:
            continue
        if TAPE_LINE.search(line):
            blocks[cur]["tape"] += 1
        if line.startswith(("DEBUG:", "LOCATION:")):
            continue
        blocks[cur]["lines"].append(line)

    problems = []
    values = errors = tape_pages = 0
    for label, _ in queries():
        on, off = blocks.get(("on", label)), blocks.get(("off", label))
        if on is None or off is None:
            problems.append("no output for %s" % label)
            continue
        if on["lines"] != off["lines"]:
            problems.append("column %s differs: tape %r, json-c %r" % (label, on["lines"][:4], off["lines"][:4]))
        if off["tape"]:
            problems.append("%s read from a tape with tape_parser off" % label)
        if tape_expected and not on["tape"]:
            problems.append("%s not read from a tape with tape_parser on" % label)
        if not tape_expected and on["tape"]:
            problems.append("%s read from a tape, which this page must not be" % label)
        tape_pages += on["tape"]
        if any(re.match(r"^(ERROR|FATAL):", l) for l in on["lines"]):
            errors += 1
        else:
            values += 1
    report(name, problems, "%d queries with rows, %d errors, %d tape pages" % (values, errors, tape_pages))
    if problems:
        print("   | body: " + body[:600])
    return values, errors


def envelope(rows):
    return json.dumps({"status": 200, "requestId": "r", "result": rows})


def fixed_pages():
    """(name, body, read from a tape)"""
    types_page = ('{"status": 200, "requestId": "r1", "result": ['
                  '{"id": "a", "n": "-4748036479882663975", "i": 42, "num": 12345678901234567890.123456789,'
                  ' "f": 1.5e3, "b": true, "ts": "2026-05-25T16:42:09Z", "j": {"k": [1, 2, {"x": null}]},'
                  ' "arr": ["x", null, "z"], "u": "f71df78e-ddad-82d0-8dfa-abbec741b82e",'
                  ' "deep": {"inner": [{"v": "found"}]}, "t": "caf\\u00e9 \\ud83d\\ude00"},'
                  '{"id": "b", "n": 9223372036854775807, "i": null, "ts": 1779667200, "arr": [], "t": ""},'
                  '{"id": "c", "n": -9223372036854775807, "ts": "2026-05-25T16:42:09.123456+05:45", "t": null}]}')
    pages = [("sql/types.sql's page", types_page, True),
             ("every escape", r'{"status":200,"result":[{"id":"e","t":"\"q\" \\ \/ \b\f\n\r\t'
              r' \u00e9\u0041\ud83d\ude00 \u2028 \ud837\ude00 x","vc":"\/\/","arr":["\u0041\/"]}]}', True),
             ("one object as the result", '{"status":200,"result":{"id":"x","t":"one","n":5}}', True),
             ("an empty result", '{"status":200,"result":[]}', True),
             ("whitespace everywhere", ' {\r\n "result" :\t[ { "id" : "w" , "n" : 1 , "t" : "x" } ] , "status" : 200 } ', True),
             ("a repeated envelope member: the last result counts",
              '{"result":[{"id":"first"}],"status":200,"result":[{"id":"last","n":2}]}', True),
             ("status 200.0 (not an integer) is not an error",
              '{"status":200.0,"result":[{"id":"d","n":1}]}', True),
             ("error: null is not an error", '{"status":200,"error":null,"result":[{"id":"e"}]}', True),
             # left to the tree path, which must judge them as before
             ("an error envelope (status 500)", '{"status":500,"error":"boom","requestId":"x"}', False),
             ("an error member with status 200", '{"status":200,"error":"boom","result":[]}', False),
             ("status 99999", '{"status":99999,"result":[{"id":"f"}]}', False),
             ("no result", '{"status":200}', False),
             ("a null result", '{"status":200,"result":null}', False),
             ("a number as the result", '{"status":200,"result":5}', False),
             ("a null row among objects", '{"status":200,"result":[{"id":"g","n":1},null,{"id":"h"}]}', False),
             ("a string row", '{"status":200,"result":["row"]}', False),
             ("an escaped member name", '{"status":200,"result":[{"id":"k","\\u006e":3,"t":"x"}]}', False),
             ("a member name holding \\u0000",
              '{"status":200,"result":[{"id":"k","t\\u0000x":"cut","t":"t"}]}', False),
             ("an array as the document", '[{"id":"x"}]', False),
             ("NaN", '{"status":200,"result":[{"id":"x","f":NaN}]}', False),
             ("a trailing comma", '{"status":200,"result":[{"id":"x"},]}', False),
             ("a lone surrogate", '{"status":200,"result":[{"id":"x","t":"\\ud800"}]}', False),
             ("a raw tab in a string", '{"status":200,"result":[{"id":"x","t":"a\tb"}]}', False),
             ("17 levels", '{"status":200,"result":[{"id":"x","j":' + "[" * 15 + "]" * 15 + "}]}", False),
             ("16 levels", '{"status":200,"result":[{"id":"x","j":' + "[" * 13 + "]" * 13 + "}]}", True),
             ("trailing data", '{"status":200,"result":[]} {}', False)]
    return pages


def random_row(rng, k):
    members = [("id", json.dumps("r%d" % k))]
    for name, _, field in COLUMNS:
        key = field.split("/")[1] if field.startswith("/") else field
        if rng.random() < 0.1:
            continue                        # missing: NULL
        if key == "deep":
            v = rng.choice(CONTAINERS + ['{"inner":[{"v":%s}],"n":%s}' % (rng.choice(POOL), rng.choice(SMALL))] * 8
                           + [rng.choice(POOL)])
        elif rng.random() < 0.8:
            v = rng.choice(FITTING[key])
        else:
            v = rng.choice(POOL)
        if rng.random() < 0.05:
            members.append((key, rng.choice(POOL)))     # repeated: the last one counts
        members.append((key, v))
    members = list(dict.fromkeys(members)) if rng.random() < 0.5 else members
    if rng.random() < 0.3:
        rng.shuffle(members)
    if rng.random() < 0.1:
        members.append(("unknown", rng.choice(POOL)))
    return "{" + ",".join("%s:%s" % (json.dumps(k), v) for k, v in members) + "}"


def main():
    setup()
    seed = int(os.environ.get("PGAPI_TAPE_SEED", time.time()))
    print("# seed %d (PGAPI_TAPE_SEED), %d random pages" % (seed, NCASES))
    rng = random.Random(seed)
    total_values = total_errors = 0
    for name, body, tape in fixed_pages():
        v, e = run_page(name, body, tape)
        total_values += v
        total_errors += e
    for c in range(NCASES):
        rows = [random_row(rng, k) for k in range(rng.randint(1, 4))]
        body = '{"status":200,"requestId":"rand","result":[' + ",".join(rows) + "]}"
        json.loads(body)                    # the generator writes valid JSON only
        v, e = run_page("random page %d (%d rows)" % (c + 1, len(rows)), body, True)
        total_values += v
        total_errors += e
    # the comparison is only worth something if both outcomes occur often
    report("both values and errors were compared",
           [] if total_values >= 50 and total_errors >= 50 else
           ["%d queries with values, %d with errors" % (total_values, total_errors)],
           "%d with values, %d with errors" % (total_values, total_errors))
    psql("DROP DATABASE IF EXISTS %s WITH (FORCE);\n" % DB, db="postgres")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
