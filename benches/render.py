#!/usr/bin/env python3
"""Writes the benchmark tables of docs/benchmarks.md from benches/results/*.json, so the
published figures are the measured ones, never typed by hand.

Each table sits between `<!-- results:NAME -->` and `<!-- /results:NAME -->`, where NAME is a
results file (benches/results/NAME.json) with a renderer below.

Usage: benches/render.py          rewrite docs/benchmarks.md
       benches/render.py --check  exit 1 if docs/benchmarks.md differs from the results
"""

import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")


def load(name):
    with open(os.path.join(ROOT, "benches", "results", name + ".json")) as f:
        return json.load(f)


def imap_sort(r):
    rows = [
        "%s, `benches/imap_sort.py --messages %d --rounds %d`, %s; interleaved rounds, times in ms "
        "(median, min–max); answers identical to Dovecot's: SORT %s, THREAD %s."
        % (r["date"], r["messages"], r["rounds"], r["machine"],
           "yes" if r["answers_identical"]["sort"] else "NO",
           "yes" if r["answers_identical"]["thread"] else "NO"),
        "",
        "| command | state | yubin | Dovecot | Dovecot time / yubin time |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    names = {"sort": r["commands"]["sort"], "thread": r["commands"]["thread"]}
    states = {"cold": "first (headers read)", "warm": "again", "restarted": "after a restart"}
    for cmd in ("sort", "thread"):
        for state in ("cold", "warm", "restarted"):
            k = "%s_%s" % (cmd, state)
            y, d = r["ms"]["yubin"][k], r["ms"]["dovecot"][k]
            rows.append("| `%s` | %s | %.1f (%.1f–%.1f) | %.1f (%.1f–%.1f) | **%.2f×** |" % (
                names[cmd], states[state], y["median"], y["min"], y["max"],
                d["median"], d["min"], d["max"], r["ratio_dovecot_over_yubin"][k]))
    return "\n".join(rows)


# imaptest's four-letter column names.
STRESS_NAMES = {
    "Logi": "LOGIN", "List": "LIST", "Stat": "STATUS", "Sele": "SELECT", "Fetc": "FETCH (flags, envelope)",
    "Fet2": "FETCH (bodies)", "Stor": "STORE", "Dele": "STORE \\Deleted", "Expu": "EXPUNGE",
    "Appe": "APPEND", "Logo": "LOGOUT", "all": "all commands",
}


def imaptest_stress(r):
    rows = [
        "%s (commit %s), `benches/imaptest_stress.py --rounds %d --secs %d --clients %d`, %s, "
        "%d messages; interleaved rounds; commands per second (median, min–max). Protocol "
        "errors imaptest saw: yubin %d, Dovecot %d."
        % (r["date"], r["commit"], r["rounds"], r["secs"], r["clients"], r["machine"],
           r["messages"], r["errors"]["yubin"], r["errors"]["dovecot"]),
        "",
        "| command | yubin/s | Dovecot/s | yubin / Dovecot |",
        "| --- | ---: | ---: | ---: |",
    ]
    for k, row in sorted(r["rates"].items(), key=lambda kv: (kv[0] != "all", kv[0])):
        y, d = row["yubin"], row["dovecot"]
        ratio = "**%.2f×**" % row["ratio"] if row["ratio"] else "–"
        rows.append("| %s | %.0f (%.0f–%.0f) | %.0f (%.0f–%.0f) | %s |" % (
            STRESS_NAMES.get(k, k), y["median"], y["min"], y["max"], d["median"], d["min"], d["max"], ratio))
    return "\n".join(rows)


RENDERERS = {"imap_sort": imap_sort, "imaptest-stress": imaptest_stress}


def render(text):
    def block(m):
        name = m.group(1)
        return "<!-- results:%s -->\n%s\n<!-- /results:%s -->" % (name, RENDERERS[name](load(name)), name)
    return re.sub(r"<!-- results:([\w-]+) -->.*?<!-- /results:\1 -->", block, text, flags=re.S)


def main():
    with open(DOC) as f:
        old = f.read()
    new = render(old)
    if "--check" in sys.argv[1:]:
        if new != old:
            print("docs/benchmarks.md differs from benches/results: run benches/render.py")
            sys.exit(1)
        print("docs/benchmarks.md matches benches/results")
        return
    with open(DOC, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
