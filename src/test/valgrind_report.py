#!/usr/bin/env python3
"""valgrind_report.py - read memcheck's per-process logs and judge pgapi_fdw.

Usage: valgrind_report.py LOG_DIR REPO_DIR

LOG_DIR holds one text log per process (valgrind --log-file=DIR/%p.log,
run with --fullpath-after= so that a frame with debug information shows its
source file's full path).  An error belongs to pgapi_fdw when any of its
stacks (where it happened, and where the block involved was allocated or
freed) has a frame in pgapi_fdw.so: either "(in .../pgapi_fdw.so)" or a
source file under REPO_DIR, the checkout the library was built from.

Each distinct error of pgapi_fdw is printed in full, with the processes
that reported it; then one line per category (invalid read/write, use of
uninitialised values, invalid free, definite leak, anything else), a check
that every process forked by the postmaster finished its report (a process
killed before exit writes none, so its leaks would go unseen), and the
figures.  Errors with no pgapi_fdw frame are PostgreSQL's or a library's:
they are counted and listed briefly (to extend src/test/valgrind.supp with),
never failed on.  The last line is `N passed, N failed`.
"""

import collections
import glob
import os
import re
import sys

PREFIX = re.compile(r"^==(\d+)== ?(.*)$")
SUMMARY = re.compile(r"ERROR SUMMARY: ([\d,]+) errors from ([\d,]+) contexts "
                     r"\(suppressed: ([\d,]+) from ([\d,]+)\)")
FRAME = re.compile(r"^\s+(?:at|by) 0x[0-9A-Fa-f]+: (.*)$")

CATEGORIES = [
    ("rw", "invalid read or write",
     re.compile(r"^Invalid (read|write) of size")),
    ("uninit", "use of uninitialised values",
     re.compile(r"uninitialised")),
    ("free", "invalid or mismatched free",
     re.compile(r"^(Invalid free|Mismatched free)")),
    ("leak", "definite leak",
     re.compile(r"are definitely lost in loss record")),
]
OTHER = ("other", "other memcheck error", None)


def number(s):
    return int(s.replace(",", ""))


class Process:
    def __init__(self, path):
        self.path = path
        self.pid = None
        self.ppid = None
        self.command = ""
        self.complete = False
        self.errors = 0
        self.suppressed = 0
        self.blocks = []


def parse(path):
    """One log: its pid, parent, and the error blocks (lists of lines)."""
    proc = Process(path)
    block = []
    with open(path, errors="replace") as f:
        for raw in f:
            m = PREFIX.match(raw.rstrip("\n"))
            if not m:
                continue        # e.g. --gen-suppressions output
            proc.pid = int(m.group(1))
            line = m.group(2)
            if line.strip() == "":
                if block:
                    proc.blocks.append(block)
                block = []
                continue
            block.append(line)
            if line.startswith("Parent PID:"):
                proc.ppid = int(line.split(":", 1)[1])
            elif line.startswith("Command:"):
                proc.command = line.split(":", 1)[1].strip()
            s = SUMMARY.search(line)
            if s:
                proc.complete = True
                proc.errors = number(s.group(1))
                proc.suppressed = number(s.group(3))
    if block:
        proc.blocks.append(block)
    # keep only error records: a headline at column 0 followed by a stack
    proc.blocks = [b for b in proc.blocks
                   if not b[0].startswith(" ") and any(FRAME.match(x) for x in b[1:])]
    return proc


def ours(block, repo):
    for line in block[1:]:
        m = FRAME.match(line)
        if not m:
            continue
        where = m.group(1)
        if re.search(r"\(in [^)]*pgapi_fdw\.so\)$", where):
            return True
        if "(" + repo + "/" in where:
            return True
    return False


def category(headline):
    for cat in CATEGORIES:
        if cat[2].search(headline):
            return cat
    return OTHER


def normalised(block):
    """The block without addresses and counts that differ between processes."""
    out = []
    for i, line in enumerate(block):
        line = re.sub(r"0x[0-9A-Fa-f]+", "0x", line)
        line = re.sub(r" is [\d,]+ bytes ", " is N bytes ", line)
        if i == 0:
            line = re.sub(r"[\d,]+", "N", line)
        out.append(line)
    return "\n".join(out)


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    logdir, repo = sys.argv[1], os.path.realpath(sys.argv[2])
    procs = [parse(p) for p in sorted(glob.glob(os.path.join(logdir, "*.log")))]
    procs = [p for p in procs if p.pid is not None]
    passed = failed = 0

    def check(ok, text):
        nonlocal passed, failed
        print(("ok - " if ok else "not ok - ") + text)
        if ok:
            passed += 1
        else:
            failed += 1

    by_pid = {p.pid: p for p in procs}
    # the postmaster: a postgres whose parent valgrind did not trace, and
    # the one with the most children
    roots = [p for p in procs if p.ppid not in by_pid
             and p.command.split(" ")[0].endswith("/postgres")]
    if not roots:
        check(False, "a postmaster log in %s (%d logs)" % (logdir, len(procs)))
        print("%d passed, %d failed" % (passed, failed))
        return 1
    pm = max(roots, key=lambda r: sum(1 for p in procs if p.ppid == r.pid))
    children = [p for p in procs if p.ppid == pm.pid]
    # a postmaster child that forks and execs a program valgrind does not
    # trace (COPY ... FROM PROGRAM's shell) leaves a log with no report
    helpers = [p for p in procs if p is not pm and p.ppid != pm.pid and not p.complete]
    checked = [p for p in procs if p.complete]

    found = collections.OrderedDict()   # normalised text -> [block, [pids]]
    outside = collections.Counter()
    contexts = ours_contexts = 0
    for p in checked + helpers:
        for b in p.blocks:
            contexts += 1
            if ours(b, repo):
                ours_contexts += 1
                key = normalised(b)
                found.setdefault(key, [b, []])[1].append(p.pid)
            else:
                frames = [FRAME.match(x).group(1) for x in b[1:] if FRAME.match(x)]
                fns = [re.sub(r" \(.*$", "", f) for f in frames]
                named = [f for f in fns if f != "???"][:4]
                outside[re.sub(r"[\d,]+", "N", b[0]) + "  [" + " < ".join(named) + "]"] += 1

    per_cat = collections.OrderedDict((c[0], []) for c in CATEGORIES + [OTHER])
    for key, (block, pids) in found.items():
        per_cat[category(block[0])[0]].append((block, pids))

    for cat in CATEGORIES + [OTHER]:
        items = per_cat[cat[0]]
        if items:
            for block, pids in items:
                shown = ", ".join(str(x) for x in pids[:10])
                more = " ..." if len(pids) > 10 else ""
                print("---- %s in pgapi_fdw, reported by %d process(es) (pid %s%s):"
                      % (cat[1], len(pids), shown, more))
                for line in block:
                    print("    " + line)
            check(False, "%s in pgapi_fdw: %d distinct, %d reports"
                  % (cat[1], len(items), sum(len(p) for _, p in items)))
        else:
            check(True, "no %s in pgapi_fdw" % cat[1])

    unfinished = [p for p in children if not p.complete]
    if unfinished:
        for p in unfinished:
            print("    no report in %s: %s" % (os.path.basename(p.path),
                  " | ".join(" ".join(b) for b in p.blocks)[:300] or "(killed, or exec'd)"))
    check(pm.complete and not unfinished,
          "every process wrote its memcheck report (postmaster %s, %d of %d forked processes)"
          % ("yes" if pm.complete else "NO", len(children) - len(unfinished), len(children)))

    if outside:
        print("---- errors outside pgapi_fdw (PostgreSQL or libraries; not failures; "
              "add them to src/test/valgrind.supp once understood):")
        for k, n in outside.most_common(20):
            print("    %4d x %s" % (n, k))

    print("figures: processes checked %d (the postmaster and %d forked from it), "
          "exec'd helpers without valgrind %d"
          % (len(checked), len([p for p in checked if p.ppid == pm.pid]), len(helpers)))
    print("figures: errors %d (suppressed %d); error contexts %d, in pgapi_fdw %d (%d distinct), "
          "elsewhere %d"
          % (sum(p.errors for p in checked), sum(p.suppressed for p in checked), contexts,
             ours_contexts, len(found), contexts - ours_contexts))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
