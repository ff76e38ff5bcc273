#!/usr/bin/env python3
"""Mutation run over cutover-relay (docs/mutation.md).

Each mutant under tests/mutants/ is one realistic relay bug, described by
content rather than by line numbers: a file, an exact source snippet that
must occur exactly once in it, and its replacement.  For each mutant the
relay sources are copied into build/mutation/<id>/ (never the product
tree), the snippet is replaced, only bin/cutover-relay is built there, and
the scenario library runs against that binary (`cutover run --relay-bin`).
A mutant is killed when at least one scenario fails (or errors) against
it; results say which scenarios and checks killed it.  A snippet that no
longer occurs exactly once makes the mutant "stale" (neither killed nor
survived); a mutant whose copy does not compile is "build-failed".

Python 3 standard library only: the driver copies trees, runs processes
with time bounds and reads results.json, which the C harness already
writes; bench/ uses python3 the same way.

Usage: scripts/mutation.py [--smoke] [--only ID,...] [--timeout S] ...
Exit: 0 done (and the score reached --min-score), 1 baseline red, a smoke
mutant survived or the score below --min-score, 2 bad input (a mutant file
that does not parse).
"""

import argparse
import glob
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

# Process groups of the library runs under way, ended on SIGTERM/SIGINT.
RUNNING = set()
RUNNING_LOCK = threading.Lock()

# What the relay build needs from the tree (the Makefile finds sources by
# wildcard, so folders it does not find are simply empty).
RELAY_TREE = ["relay", "common", "Makefile", "scripts/deps.sh"]

FAMILIES = [
    "classification", "backoff", "jitter", "retry-after", "deadline", "switching",
    "dwell", "health-interval", "health-timeout", "health-fall", "health-rise",
    "rate-limit", "rate-limit-headers", "streaming", "direct-fallback", "forwarding",
    "error-shape", "health-endpoint", "api-metrics", "prometheus", "admin-auth",
    "events", "secrets", "connection-reuse", "timeouts", "attempts",
    "connections",  # mclients: max_clients, max_connections
]


# Checks that judge the runner, not the relay.
RUNNER_CHECKS = {"harness_on_time"}


class MutantError(Exception):
    pass


# ---- mutant files ----------------------------------------------------------


def parse_mutant(path):
    """A .mutant file: `key: value` header lines (id, family, report, file,
    smoke), then one or more edits, each
        --- find [PATH]
        <exact snippet lines>
        --- replace
        <replacement lines>
    closed by `--- end` (or the next `--- find`, or the end of the file).
    Snippets keep their indentation; the newline before a marker is not
    part of the snippet."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    m = {"id": os.path.splitext(os.path.basename(path))[0], "path": path, "edits": [],
         "smoke": []}
    i = 0
    while i < len(lines) and not lines[i].startswith("--- "):
        line = lines[i]
        i += 1
        if not line.strip() or line.startswith("#"):
            continue
        k, sep, v = line.partition(":")
        if not sep:
            raise MutantError(f"{path}:{i}: expected 'key: value' or '--- find', found {line!r}")
        k, v = k.strip().lower(), v.strip()
        if k == "smoke":
            m["smoke"] += v.split()
        else:
            m[k] = v
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if not line.startswith("--- find"):
            raise MutantError(f"{path}:{i + 1}: expected '--- find', found {line!r}")
        target = line[len("--- find"):].strip() or m.get("file")
        if not target:
            raise MutantError(f"{path}:{i + 1}: no file: header and no path after '--- find'")
        i += 1
        find = []
        while i < len(lines) and lines[i] != "--- replace":
            if lines[i].startswith("--- "):
                raise MutantError(f"{path}:{i + 1}: expected '--- replace' before {lines[i]!r}")
            find.append(lines[i])
            i += 1
        if i >= len(lines):
            raise MutantError(f"{path}: '--- find' without '--- replace'")
        i += 1
        repl = []
        while i < len(lines) and not lines[i].startswith("--- "):
            repl.append(lines[i])
            i += 1
        if i < len(lines) and lines[i] == "--- end":
            i += 1
        # Blank lines just before the next marker belong to the layout, not
        # to the replacement.
        while repl and not repl[-1].strip():
            repl.pop()
        m["edits"].append({"file": target, "find": "\n".join(find), "replace": "\n".join(repl)})
    for k in ("family", "report"):
        if not m.get(k):
            raise MutantError(f"{path}: missing '{k}:' header")
    if not m["edits"]:
        raise MutantError(f"{path}: no '--- find' edit")
    for e in m["edits"]:
        if not e["find"].strip():
            raise MutantError(f"{path}: an empty find snippet")
        if e["find"] == e["replace"]:
            raise MutantError(f"{path}: a replacement equal to its snippet")
    return m


def parse_patch(path):
    """A unified diff (.patch) read by content: each hunk's context and '-'
    lines are the snippet, its context and '+' lines the replacement; the
    @@ line numbers are ignored.  Header lines before the diff may give
    Report:, Family: and Killed-by: (the smoke scenario)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    m = {"id": os.path.splitext(os.path.basename(path))[0], "path": path, "edits": [],
         "smoke": []}
    target = None
    hunk = None

    def close():
        if hunk and (hunk[0] or hunk[1]):
            m["edits"].append({"file": target, "find": "\n".join(hunk[0]),
                               "replace": "\n".join(hunk[1])})

    for line in lines:
        if hunk is None and target is None and not line.startswith(("--- ", "+++ ")):
            k, sep, v = line.partition(":")
            if sep and k.strip().lower() in ("report", "family"):
                m[k.strip().lower()] = v.strip()
            elif sep and k.strip().lower() == "killed-by":
                m["smoke"] += v.split()
            continue
        if line.startswith("+++ "):
            close()
            hunk = None
            p = line[4:].strip()
            target = p[2:] if p.startswith("b/") else p
        elif line.startswith("--- "):
            continue
        elif line.startswith("@@"):
            close()
            hunk = ([], [])
        elif hunk is not None and line.startswith((" ", "-", "+")):
            if line[0] in " -":
                hunk[0].append(line[1:])
            if line[0] in " +":
                hunk[1].append(line[1:])
        elif hunk is not None and line == "":
            continue
    close()
    if not m["edits"]:
        raise MutantError(f"{path}: no hunk")
    m.setdefault("family", "?")
    m.setdefault("report", "")
    return m


def load_mutants(folder):
    out = []
    for p in sorted(glob.glob(os.path.join(folder, "*.mutant")) +
                    glob.glob(os.path.join(folder, "*.patch"))):
        out.append(parse_mutant(p) if p.endswith(".mutant") else parse_patch(p))
    seen = {}
    # A .patch describing the same bug name as a .mutant keeps both: the
    # patch's id takes a "-patch" suffix.
    names = {m["id"] for m in out if m["path"].endswith(".mutant")}
    for m in out:
        if m["path"].endswith(".patch") and m["id"] in names:
            m["id"] += "-patch"
    for m in out:
        if m["id"] in seen:
            raise MutantError(f"{m['path']}: id {m['id']} also in {seen[m['id']]}")
        seen[m["id"]] = m["path"]
    return out


def staleness(m, root):
    """None when every snippet occurs exactly once in its file, else why."""
    for e in m["edits"]:
        p = os.path.join(root, e["file"])
        if not os.path.isfile(p):
            return f"{e['file']}: no such file"
        with open(p, encoding="utf-8") as f:
            n = f.read().count(e["find"])
        if n != 1:
            first = e["find"].strip().split("\n")[0][:60]
            return f"{e['file']}: snippet '{first}' occurs {n} times (expected once)"
    return None


# ---- building and running ---------------------------------------------------


def log(msg):
    print(msg, flush=True)


def copy_tree(src_root, dst, with_build):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    for name in RELAY_TREE:
        s = os.path.join(src_root, name)
        if os.path.isdir(s):
            shutil.copytree(s, os.path.join(dst, name), symlinks=True)
        elif os.path.isfile(s):
            os.makedirs(os.path.dirname(os.path.join(dst, name)), exist_ok=True)
            shutil.copy2(s, os.path.join(dst, name))
    if with_build:
        # Objects of the baseline copy, mtimes kept: make rebuilds only the
        # mutated file's object, the archive and the link.
        for name in ("build", "bin"):
            s = os.path.join(src_root, name)
            if os.path.isdir(s):
                shutil.copytree(s, os.path.join(dst, name), symlinks=True)
    os.makedirs(os.path.join(dst, "build"), exist_ok=True)
    # The package check (scripts/deps.sh) ran for the real tree already.
    open(os.path.join(dst, "build", ".deps-ok"), "a").close()


def build_relay(tree, jobs):
    for attempt in (1, 2):
        r = subprocess.run(["make", "-C", tree, f"-j{jobs}", "bin/cutover-relay"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode == 0:
            return None
        # A second try only for a machine hiccup; a compile error repeats.
        if "error:" in r.stdout:
            break
    tail = "\n".join(r.stdout.strip().split("\n")[-8:])
    return tail


def cutover_supports_jobs(cutover):
    r = subprocess.run([cutover, "run", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return "--jobs" in r.stdout


def run_library(cutover, scenarios, relay_bin, out, timeout, jobs, extra):
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    cmd = [cutover, "run", *scenarios, "--out", out, "--relay-bin", relay_bin, "--no-color",
           *extra]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    t0 = time.monotonic()
    with open(os.path.join(out, "console.log"), "w") as con:
        # Own process group: a timeout ends the runner and whatever it
        # started (mocks, the mutant relay), and nothing else.
        p = subprocess.Popen(cmd, stdout=con, stderr=subprocess.STDOUT, start_new_session=True)
        with RUNNING_LOCK:
            RUNNING.add(p.pid)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            rc = None
        finally:
            with RUNNING_LOCK:
                RUNNING.discard(p.pid)
    secs = time.monotonic() - t0
    res = None
    rp = os.path.join(out, "results.json")
    if rc is not None and os.path.isfile(rp):
        with open(rp, encoding="utf-8") as f:
            res = json.load(f)
    return rc, res, secs


def kills_of(res):
    """[(scenario, folder, [failed checks])] of the scenarios that killed."""
    out = []
    for s in res.get("scenarios", []):
        st = s.get("status")
        if st not in ("fail", "error"):
            continue
        checks = [c.get("check") for c in s.get("checks", []) if c.get("status") == "fail"]
        if st == "error":
            checks.append("harness_error")
        # A scenario red only because the runner itself was late says the
        # machine was busy, not that the relay is wrong: not a kill.
        if checks and all(c in RUNNER_CHECKS for c in checks):
            continue
        file = s.get("file") or ""
        folder = s.get("folder") or os.path.basename(os.path.dirname(file))
        out.append({"scenario": s.get("name"), "file": file, "folder": folder,
                    "checks": sorted(set(checks))})
    return out


# ---- reports ----------------------------------------------------------------


def summarise(results):
    counted = [r for r in results if r["verdict"] in ("killed", "survived")]
    killed = [r for r in counted if r["verdict"] == "killed"]
    by_scenario, by_folder = {}, {}
    for r in killed:
        for k in r["kills"]:
            by_scenario[k["file"]] = by_scenario.get(k["file"], 0) + 1
        for f in r["folders"]:
            by_folder[f] = by_folder.get(f, 0) + 1
    return {
        "mutants": len(results),
        "counted": len(counted),
        "killed": len(killed),
        "survived": len(counted) - len(killed),
        "stale": sum(r["verdict"] == "stale" for r in results),
        "build_failed": sum(r["verdict"] == "build-failed" for r in results),
        "score": round(100.0 * len(killed) / len(counted), 1) if counted else None,
        "killed_by_one_scenario": sum(len(r["kills"]) == 1 for r in killed),
        "killed_in_one_folder": sum(len(r["folders"]) == 1 for r in killed),
        "killed_by_two_folders": sum(len(r["folders"]) >= 2 for r in killed),
        "kills_by_scenario": dict(sorted(by_scenario.items(), key=lambda kv: (-kv[1], kv[0]))),
        "kills_by_folder": dict(sorted(by_folder.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def console_table(results, summ):
    log("")
    log(f"{'mutant':<38} {'family':<20} {'verdict':<13} {'scen':>4} {'fold':>4}  killed by")
    for r in results:
        who = ", ".join(f"{k['folder']}/{k['scenario']}" for k in r["kills"][:3])
        if len(r["kills"]) > 3:
            who += f", +{len(r['kills']) - 3}"
        if r["verdict"] in ("stale", "build-failed", "timeout"):
            who = r.get("why", "")[:80]
        log(f"{r['id'][:38]:<38} {r['family'][:20]:<20} {r['verdict']:<13} "
            f"{len(r['kills']):>4} {len(r['folders']):>4}  {who}")
    log("")
    log("kills by folder: " + ", ".join(f"{k} {v}" for k, v in summ["kills_by_folder"].items()))
    s = summ
    log(f"mutants: {s['mutants']}  killed {s['killed']}  survived {s['survived']}  "
        f"stale {s['stale']}  build-failed {s['build_failed']}  "
        f"score {s['score']}%  (killed by one scenario only: {s['killed_by_one_scenario']}, "
        f"by two folders or more: {s['killed_by_two_folders']})")


def write_html(path, doc):
    e = html.escape
    s = doc["summary"]
    rows = []
    for r in doc["mutants"]:
        kills = "<br>".join(f"{e(k['folder'])}/{e(k['scenario'])} <small>({e(', '.join(k['checks']))})</small>"
                            for k in r["kills"])
        if r["verdict"] not in ("killed", "survived"):
            kills = e(r.get("why", ""))
        rows.append(f"<tr class='{e(r['verdict'])}'><td><code>{e(r['id'])}</code></td>"
                    f"<td>{e(r['family'])}</td><td>{e(r['report'])}</td>"
                    f"<td>{e(r['verdict'])}</td><td>{len(r['kills'])}</td>"
                    f"<td>{len(r['folders'])}</td><td>{kills}</td></tr>")
    scen = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in s["kills_by_scenario"].items())
    fold = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in s["kills_by_folder"].items())
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"""<!doctype html><html><head><meta charset="utf-8"><title>cutover mutation run</title>
<style>body{{font:14px sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 6px;vertical-align:top}}
tr.survived{{background:#fdd}}tr.stale,tr.build-failed{{background:#eee}}tr.killed td:nth-child(4){{color:#060}}</style></head><body>
<h1>Mutation run over cutover-relay</h1>
<p>Score <b>{s['score']}%</b>: {s['killed']} killed of {s['counted']} counted
({s['survived']} survived, {s['stale']} stale, {s['build_failed']} build-failed).
Killed by one scenario only: {s['killed_by_one_scenario']}; by scenarios of two folders or more:
{s['killed_by_two_folders']}. Library: {e(' '.join(doc['scenarios']))}, {e(doc['started'])}.</p>
<h2>Mutants</h2><table><tr><th>mutant</th><th>family</th><th>what a user would report</th>
<th>verdict</th><th>scenarios</th><th>folders</th><th>killed by (failed checks)</th></tr>{''.join(rows)}</table>
<h2>Kills by folder</h2><table><tr><th>folder</th><th>mutants killed</th></tr>{fold}</table>
<h2>Kills by scenario</h2><table><tr><th>scenario</th><th>mutants killed</th></tr>{scen}</table>
</body></html>
""")


def write_markdown(path, doc):
    s = doc["summary"]
    out = [f"Score **{s['score']}%**: {s['killed']} killed of {s['counted']} "
           f"({s['survived']} survived, {s['stale']} stale, {s['build_failed']} build-failed); "
           f"killed by one scenario only: {s['killed_by_one_scenario']}, by scenarios of two "
           f"folders or more: {s['killed_by_two_folders']}.", "",
           "| mutant | family | verdict | scenarios | folders | killed by |",
           "|---|---|---|---|---|---|"]
    for r in doc["mutants"]:
        who = ", ".join(f"{k['folder']}/{k['scenario']}" for k in r["kills"][:3])
        if len(r["kills"]) > 3:
            who += f", +{len(r['kills']) - 3}"
        if r["verdict"] not in ("killed", "survived"):
            who = r.get("why", "")
        out.append(f"| `{r['id']}` | {r['family']} | {r['verdict']} | {len(r['kills'])} | "
                   f"{len(r['folders'])} | {who} |")
    out += ["", "| folder | mutants killed |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in s["kills_by_folder"].items()]
    out += ["", "| scenario | mutants killed |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in s["kills_by_scenario"].items()]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


# ---- main -------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mutants", default="tests/mutants")
    ap.add_argument("--out", default=None,
                    help="default build/mutation (build/mutation-smoke with --smoke)")
    ap.add_argument("--cutover", default="bin/cutover")
    ap.add_argument("--scenarios", nargs="+", default=["scenarios/"])
    ap.add_argument("--only", default="", help="comma list of mutant ids (default: all)")
    ap.add_argument("--smoke", action="store_true",
                    help="the ids in MUTANTS/SMOKE, each against its smoke: scenarios only")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per library run")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", "2")),
                    help="cutover run --jobs, when the runner has it")
    ap.add_argument("--make-jobs", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=1,
                    help="mutants run side by side (each its own library run)")
    ap.add_argument("--format", choices=("all", "mutant", "patch"), default="all",
                    help="only .mutant or only .patch files")
    ap.add_argument("--min-score", type=float, default=0.0)
    ap.add_argument("--check", action="store_true", help="parse and check staleness only")
    ap.add_argument("--first-kill", action="store_true",
                    help="each mutant against its likely killers first (its smoke: scenarios "
                         "and, with --prior, the scenarios that killed it then); the whole "
                         "library only when none of them kills: the same score, kills counted "
                         "from the first stage only")
    ap.add_argument("--prior", default=None,
                    help="a mutation.json of an earlier run, for --first-kill")
    a = ap.parse_args()

    root = os.getcwd()
    try:
        mutants = load_mutants(a.mutants)
    except (MutantError, OSError, UnicodeDecodeError) as ex:
        print(f"mutation: {ex}", file=sys.stderr)
        return 2
    if a.format != "all":
        mutants = [m for m in mutants if m["path"].endswith("." + a.format)]
    if a.smoke:
        with open(os.path.join(a.mutants, "SMOKE"), encoding="utf-8") as f:
            ids = [w for line in f for w in line.split("#")[0].split()]
        by_id = {m["id"]: m for m in mutants}
        missing = [i for i in ids if i not in by_id]
        if missing:
            print(f"mutation: SMOKE names unknown mutants: {', '.join(missing)}", file=sys.stderr)
            return 2
        mutants = [by_id[i] for i in ids]
        for m in mutants:
            if not m["smoke"]:
                print(f"mutation: {m['path']}: a smoke mutant needs a 'smoke:' scenario",
                      file=sys.stderr)
                return 2
        scenarios = sorted({s for m in mutants for s in m["smoke"]})
    else:
        if a.only:
            want = set(a.only.split(","))
            mutants = [m for m in mutants if m["id"] in want]
        scenarios = a.scenarios
    if a.check:
        bad = 0
        for m in mutants:
            why = staleness(m, root)
            fam = m["family"]
            if why or fam not in FAMILIES:
                bad += 1
                log(f"{m['id']}: {why or 'unknown family ' + fam}")
        log(f"{len(mutants)} mutants, {bad} stale or with an unknown family")
        return 1 if bad else 0

    def stop(signum, frame):
        with RUNNING_LOCK:
            for pg in list(RUNNING):
                try:
                    os.killpg(pg, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    out = os.path.abspath(a.out or ("build/mutation-smoke" if a.smoke else "build/mutation"))
    os.makedirs(out, exist_ok=True)
    cutover = os.path.abspath(a.cutover)
    jobs = a.jobs if a.jobs > 1 and cutover_supports_jobs(cutover) else 0
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    t_all = time.monotonic()

    base = os.path.join(out, "_base")
    log(f"mutation: {len(mutants)} mutants, library {' '.join(scenarios)}"
        f"{f', --jobs {jobs}' if jobs else ', serial'}; baseline first")
    copy_tree(root, base, with_build=False)
    err = build_relay(base, a.make_jobs)
    if err:
        print(f"mutation: the unmutated relay does not build:\n{err}", file=sys.stderr)
        return 1
    base_bin = os.path.join(base, "bin", "cutover-relay")
    rc, res, secs = run_library(cutover, scenarios, base_bin, os.path.join(base, "out"),
                                a.timeout, jobs, [])
    # Exit 4 (inconclusive) with no scenario red is green enough: on a busy
    # machine harness_on_time makes a scenario inconclusive now and then,
    # which judges the machine, not the relay, and is no kill for a mutant
    # either (kills_of).
    kills = kills_of(res) if res else []
    if rc == 4 and res and not kills:
        log(f"baseline: inconclusive only ({', '.join(s.get('name') for s in res.get('scenarios', []) if s.get('status') == 'inconclusive')}), taken as green")
        rc = 0
    if rc != 0:
        print(f"mutation: the baseline is red (cutover run exit {rc} after {secs:.0f} s; "
              f"failing: {', '.join(k['scenario'] for k in kills) or 'see ' + base + '/out'}): "
              "aborted, no mutant run", file=sys.stderr)
        return 1
    log(f"baseline: green in {secs:.0f} s")

    # Every mutant is copied and built before any library runs: the builds
    # need the -dev packages and a quiet compiler, the runs only the built
    # binaries, so a long run can share the machine with other work (CI's
    # package removal included) once its builds are done.
    def prepare(m):
        r = {"id": m["id"], "file": os.path.relpath(m["path"], root), "family": m["family"],
             "report": m["report"], "edits": [e["file"] for e in m["edits"]],
             "verdict": None, "kills": [], "folders": [], "seconds": 0.0}
        why = staleness(m, base)
        if why:
            r.update(verdict="stale", why=why)
            return r
        tree = os.path.join(out, m["id"])
        copy_tree(base, tree, with_build=True)
        for e in m["edits"]:
            p = os.path.join(tree, e["file"])
            with open(p, encoding="utf-8") as f:
                src = f.read()
            with open(p, "w", encoding="utf-8") as f:
                f.write(src.replace(e["find"], e["replace"], 1))
            # Newer than its object for certain, whatever the clock's grain.
            st = os.stat(p)
            os.utime(p, (st.st_atime, time.time() + 2))
        err = build_relay(tree, a.make_jobs)
        if err:
            r.update(verdict="build-failed", why=err.split("\n")[-1][:200])
        # Keep the built relay, drop the copy's sources and objects.
        for name in RELAY_TREE + ["build", "scripts"]:
            p = os.path.join(tree, name)
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.isfile(p):
                os.remove(p)
        return r

    prior = {}
    if a.prior:
        with open(a.prior, encoding="utf-8") as f:
            for pr in json.load(f).get("mutants", []):
                prior[pr["id"]] = [k["file"] for k in pr.get("kills", []) if k.get("file")]

    def likely_killers(r):
        """The scenarios to try first under --first-kill, as paths under
        the library run (smoke: lines name them from the repository root)."""
        want = []
        m = by_id_all[r["id"]]
        for f in m["smoke"] + prior.get(r["id"], []):
            rel = f.split("scenarios/", 1)[1] if "scenarios/" in f else f
            for lib in scenarios:
                # lib is the library's root (scenarios/) or one of its folders.
                top = lib.rstrip("/")
                for cand in (os.path.join(top, rel), os.path.join(os.path.dirname(top), rel)):
                    inside = os.path.realpath(cand).startswith(os.path.realpath(top) + os.sep)
                    if inside and os.path.isfile(cand) and cand not in want:
                        want.append(cand)
        return want

    by_id_all = {m["id"]: m for m in mutants}

    def one(r):
        tree = os.path.join(out, r["id"])
        first = likely_killers(r) if a.first_kill and r["verdict"] is None else []
        if first:
            rc, res, secs = run_library(cutover, first,
                                        os.path.join(tree, "bin", "cutover-relay"),
                                        os.path.join(tree, "out-first"), a.timeout, jobs, [])
            if res is not None and kills_of(res):
                r["kills"] = kills_of(res)
                r["folders"] = sorted({k["folder"] for k in r["kills"]})
                r["verdict"] = "killed"
                r["stage"] = f"first {len(first)} scenario(s)"
                r["seconds"] = round(secs, 1)
        if r["verdict"] is None:
            rc, res, secs = run_library(cutover, scenarios,
                                        os.path.join(tree, "bin", "cutover-relay"),
                                        os.path.join(tree, "out"), a.timeout, jobs, [])
            r["seconds"] = round(secs, 1)
            r["exit"] = rc
            if res is None:
                # The library could not finish within the bound: it did not
                # come out green, but no scenario can be named.
                r.update(verdict="killed", why=f"timeout after {a.timeout:.0f} s"
                         if rc is None else f"no results.json (exit {rc})")
            else:
                r["kills"] = kills_of(res)
                r["folders"] = sorted({k["folder"] for k in r["kills"]})
                r["verdict"] = "killed" if r["kills"] else "survived"
                r["inconclusive"] = [s.get("name") for s in res.get("scenarios", [])
                                     if s.get("status") == "inconclusive"]
        if os.path.isdir(os.path.join(tree, "bin")):
            shutil.rmtree(os.path.join(tree, "bin"))
        return r

    done = [0]

    def report(r):
        done[0] += 1
        who = ", ".join(k["scenario"] for k in r["kills"][:4])
        line = f"[{done[0]}/{len(mutants)}] {r['id']}: {r['verdict']}"
        if r["kills"]:
            line += f" by {len(r['kills'])} scenario(s) in {len(r['folders'])} folder(s): {who}"
        if r.get("stage"):
            line += f" ({r['stage']} of its likely killers)"
        if r.get("why"):
            line += f" ({r['why']})"
        log(line + f" [{r['seconds']:.0f} s]")
        return r

    t_build = time.monotonic()
    prepared = [prepare(m) for m in mutants]
    log(f"built {sum(1 for r in prepared if r['verdict'] is None)} of {len(prepared)} mutants "
        f"in {time.monotonic() - t_build:.0f} s; running the library against each")
    with ThreadPoolExecutor(max_workers=max(1, a.parallel)) as pool:
        results = list(pool.map(lambda r: report(one(r)), prepared))

    summ = summarise(results)
    doc = {"started": started, "seconds": round(time.monotonic() - t_all, 1),
           "scenarios": scenarios, "smoke": a.smoke, "jobs": jobs, "summary": summ,
           "mutants": results}
    name = "mutation-smoke" if a.smoke else "mutation"
    with open(os.path.join(out, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    write_html(os.path.join(out, name + ".html"), doc)
    write_markdown(os.path.join(out, name + ".md"), doc)
    console_table(results, summ)
    log(f"json: {os.path.join(out, name + '.json')}\nhtml: {os.path.join(out, name + '.html')}"
        f"\nmarkdown: {os.path.join(out, name + '.md')}")
    if a.smoke and summ["survived"]:
        print("mutation: a smoke mutant survived: a check lost its teeth", file=sys.stderr)
        return 1
    if a.smoke and (summ["stale"] or summ["build_failed"]):
        print("mutation: a smoke mutant is stale or does not build: update its snippet",
              file=sys.stderr)
        return 1
    if summ["score"] is not None and summ["score"] < a.min_score:
        print(f"mutation: score {summ['score']}% below {a.min_score}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
