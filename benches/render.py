#!/usr/bin/env python3
"""Writes the benchmark tables of docs/benchmarks.md and the figures in README.md from
benches/results/*.json, so the published figures are the measured ones, never typed by hand.

Each block sits between `<!-- results:NAME -->` and `<!-- /results:NAME -->`, where NAME is a
results file (benches/results/NAME.json) with a renderer below, or `summary` (README.md).

Usage: benches/render.py          rewrite the blocks
       benches/render.py --check  exit 1 if a block differs from the results
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


def summary(_):
    s, t = load("imaptest-stress"), load("imap_sort")
    r = t["ratio_dovecot_over_yubin"]
    return (
        "IMAP, against Dovecot 2.3 in the same run: imaptest's stress mix %.2f× the commands per "
        "second (%d protocol errors). On 10,000 messages, Dovecot's time over yubin's (above 1: "
        "yubin is faster): `UID SORT (REVERSE DATE)` %.2f× the first time and %.2f× again, "
        "`UID THREAD REFERENCES` %.2f× and %.2f×; right after a restart %.2f× (SORT) and "
        "%.2f× (THREAD)."
        % (s["rates"]["all"]["ratio"], s["errors"]["yubin"], r["sort_cold"], r["sort_warm"],
           r["thread_cold"], r["thread_warm"], r["sort_restarted"], r["thread_restarted"])
    )


RENDERERS = {"imap_sort": imap_sort, "imaptest-stress": imaptest_stress, "summary": summary}
DOCS = [DOC, os.path.join(ROOT, "README.md")]


def render(text):
    def block(m):
        name = m.group(1)
        data = None if name == "summary" else load(name)
        return "<!-- results:%s -->\n%s\n<!-- /results:%s -->" % (name, RENDERERS[name](data), name)
    return re.sub(r"<!-- results:([\w-]+) -->.*?<!-- /results:\1 -->", block, text, flags=re.S)


def main():
    stale = []
    for path in DOCS:
        with open(path) as f:
            old = f.read()
        new = render(old)
        if new == old:
            continue
        if "--check" in sys.argv[1:]:
            stale.append(os.path.relpath(path, ROOT))
        else:
            with open(path, "w") as f:
                f.write(new)
    if stale:
        print("%s differ from benches/results: run benches/render.py" % ", ".join(stale))
        sys.exit(1)
    print("the published figures match benches/results")


if __name__ == "__main__":
    main()
