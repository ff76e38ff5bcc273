/* `cutover explore`: generates cases from the fault model (explore.c), runs
 * each as a child `cutover run CASE --out DIR --seed N` (a process per run:
 * clean isolation, and the very command a developer will use to reproduce),
 * reads back its results.json, shrinks what fails, and writes the findings,
 * a summary and an HTML page.
 *
 * Honesty under load: a run whose harness_on_time check did not pass was
 * disturbed by the machine, not by the relay; it is run again and never
 * counts, neither as a finding nor as a reproduction while shrinking. */
#include "co_clock.h"
#include "co_mem.h"
#include "harness/checks.h"
#include "harness/cli.h"
#include "harness/explore.h"
#include "harness/vutil.h"
#include "reports/report.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char explore_usage[] =
    "usage: cutover explore [options]\n"
    "  --relay RELAY       a relay profile or command, passed to `cutover run`\n"
    "  --relay-bin PATH    the cutover-relay binary (default: next to cutover)\n"
    "  --budget T          how long to explore, e.g. 90s, 10m (default 10m)\n"
    "  --seed N            seed of the generated cases (default 1)\n"
    "  --jobs N            cases run at once while exploring (default 1)\n"
    "  --out DIR           cases, runs, found/ and explore.html (default out/explore)\n"
    "  --model FILE        the fault model (default: built in, see --print-model)\n"
    "  --replays N         runs that must all fail to accept a shrink step (default 3)\n"
    "  --final-replays N   runs that must all fail for the minimal case (default 5)\n"
    "  --max-findings N    stop after N findings (default: run the whole budget)\n"
    "  --stop-when INV     stop once invariant INV is found (benchmarks of known bugs)\n"
    "  --time-scale X      passed to `cutover run`\n"
    "  --print-model       print the built-in model and exit\n"
    "exit: 0 nothing found, 1 findings, 2 invalid input, 3 harness error\n";

#define MAX_FAILS 16

struct opts {
    const char *relay, *relay_bin, *out, *model_path, *time_scale, *stop_when;
    double budget_s;
    uint64_t seed;
    int jobs, replays, final_replays, max_findings;
};

/* What one run said. */
struct outcome {
    int ok;        /* results.json was read */
    int disturbed; /* harness_on_time did not pass */
    int nfail;
    char fail[MAX_FAILS][48]; /* invariants that failed */
    char measured[MAX_FAILS][512];
    char error[256];
};

struct finding {
    char inv[48], file[PATH_MAX], what[4096], measured[512];
    json_t *sc; /* the minimal case */
    unsigned case_index;
    size_t steps_before, steps_after;
    int replays_ok, replays;
    double t_found_s, shrink_s;
    int shrink_steps;
};

struct explore {
    struct opts o;
    struct harness_explore_model m;
    char exe[PATH_MAX];
    uint64_t t0, last_line_us;
    unsigned cases, runs, disturbed, shrink_runs, flaky;
    struct finding *found;
    size_t n_found;
    json_t *fault_cov, *pair_cov, *inv_cov; /* name -> [cases, failing cases] */
    int tty;
};

static volatile sig_atomic_t interrupted;

static void on_sig(int s)
{
    interrupted = 1;
}

static double elapsed(const struct explore *x)
{
    return (double)(co_now_us() - x->t0) / 1e6;
}

static double left(const struct explore *x)
{
    return x->o.budget_s - elapsed(x);
}

static void progress(struct explore *x, const char *what)
{
    char line[256];
    double l = left(x);
    snprintf(line, sizeof line,
             "explore: %u cases, %u runs (%u disturbed), %zu found, %u shrink runs, %.0fs left%s%s",
             x->cases, x->runs, x->disturbed, x->n_found, x->shrink_runs, l > 0 ? l : 0,
             what ? " | " : "", what ? what : "");
    if (x->tty) {
        fprintf(stderr, "\r\033[K%s", line);
    } else if (co_now_us() - x->last_line_us >= 10 * 1000000ull) {
        /* A log, not a terminal: a line every 10 s is enough. */
        fprintf(stderr, "%s\n", line);
        x->last_line_us = co_now_us();
    }
}

/* ---- one run ------------------------------------------------------------- */

static pid_t spawn_run(const struct explore *x, const char *file, const char *dir, uint64_t seed)
{
    char seed_s[32], log[PATH_MAX];
    snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)seed);
    harness_v_fmt(log, sizeof log, "%s/run.log", dir);
    const char *argv[16];
    int n = 0;
    argv[n++] = "cutover";
    argv[n++] = "run";
    argv[n++] = file;
    argv[n++] = "--out";
    argv[n++] = dir;
    argv[n++] = "--seed";
    argv[n++] = seed_s;
    argv[n++] = "--no-color";
    if (x->o.relay) {
        argv[n++] = "--relay";
        argv[n++] = x->o.relay;
    }
    if (x->o.relay_bin) {
        argv[n++] = "--relay-bin";
        argv[n++] = x->o.relay_bin;
    }
    if (x->o.time_scale) {
        argv[n++] = "--time-scale";
        argv[n++] = x->o.time_scale;
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        /* Our own image even when bin/cutover is rebuilt meanwhile. */
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Reads DIR/results.json: which invariants (the checks' notes) failed. */
static void read_outcome(const char *dir, int status, struct outcome *out)
{
    memset(out, 0, sizeof *out);
    char path[PATH_MAX];
    harness_v_fmt(path, sizeof path, "%s/results.json", dir);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    json_t *s = json_array_get(json_object_get(doc, "scenarios"), 0);
    if (!s) {
        harness_v_fmt(out->error, sizeof out->error, "no results (exit %d, see %s/run.log)", status,
                      dir);
        json_decref(doc);
        return;
    }
    out->ok = 1;
    json_t *expect = json_object_get(json_object_get(s, "scenario"), "expect");
    json_t *checks = json_object_get(s, "checks"), *c;
    size_t i, j = 0;
    json_array_foreach(checks, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "check"));
        const char *st = json_string_value(json_object_get(c, "status"));
        if (!name || !st)
            continue;
        if (strcmp(name, HARNESS_ON_TIME_CHECK) == 0 && strcmp(st, "pass") != 0)
            out->disturbed = 1;
        /* The runner keeps the scenario's checks in order, with its own
         * (harness_on_time, admin_ok, ...) around them. */
        json_t *e = json_array_get(expect, j);
        const char *ename = json_string_value(json_object_get(e, "check"));
        if (!ename || strcmp(ename, name) != 0)
            continue;
        j++;
        const char *note = json_string_value(json_object_get(e, "note"));
        if (!note || strcmp(st, "fail") != 0 || out->nfail == MAX_FAILS)
            continue;
        snprintf(out->fail[out->nfail], sizeof out->fail[0], "%s", note);
        const char *ms = json_string_value(json_object_get(c, "measured"));
        const char *det = json_string_value(json_object_get(c, "detail"));
        harness_v_fmt(out->measured[out->nfail], sizeof out->measured[0], "%s%s%s", ms ? ms : "",
                      det && *det ? "; " : "", det && *det ? det : "");
        out->nfail++;
    }
    json_decref(doc);
}

static int wait_run(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int write_case(const json_t *sc, const char *path)
{
    return json_dump_file(sc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
}

/* Runs sc once (again while the machine disturbed it, three times at most).
 * Returns 1 when inv failed, 0 when not, -1 when no run counted. */
static int run_once(struct explore *x, const json_t *sc, const char *dir, uint64_t seed,
                    const char *inv, struct outcome *oc)
{
    char file[PATH_MAX];
    mkdir(dir, 0755);
    harness_v_fmt(file, sizeof file, "%s/case.json", dir);
    if (write_case(sc, file) != 0)
        return -1;
    for (int k = 0; k < 3 && !interrupted; k++) {
        int rc = wait_run(spawn_run(x, file, dir, seed + (uint64_t)k * 1000));
        x->runs++;
        read_outcome(dir, rc, oc);
        if (!oc->ok)
            return -1;
        if (oc->disturbed) {
            x->disturbed++;
            continue;
        }
        for (int i = 0; i < oc->nfail; i++)
            if (strcmp(oc->fail[i], inv) == 0)
                return 1;
        return 0;
    }
    return -1;
}

/* n undisturbed runs all failing inv (different seeds). */
static int reproduces(struct explore *x, const json_t *sc, const char *dir, const char *inv, int n,
                      int *fails, char *measured, size_t mlen)
{
    *fails = 0;
    for (int k = 0; k < n && !interrupted; k++) {
        struct outcome oc;
        x->shrink_runs++;
        int r = run_once(x, sc, dir, 7000 + (uint64_t)k, inv, &oc);
        if (r != 1)
            return 0;
        (*fails)++;
        for (int i = 0; measured && i < oc.nfail; i++)
            if (strcmp(oc.fail[i], inv) == 0)
                snprintf(measured, mlen, "%s", oc.measured[i]);
    }
    return *fails == n;
}

/* ---- shrinking ----------------------------------------------------------- */

static void shrink(struct explore *x, json_t *failing, unsigned index, const char *inv)
{
    struct finding *f = &x->found[x->n_found];
    memset(f, 0, sizeof *f);
    snprintf(f->inv, sizeof f->inv, "%s", inv);
    f->case_index = index;
    f->t_found_s = elapsed(x);
    f->steps_before = harness_explore_steps(failing);
    uint64_t t0 = co_now_us();
    char dir[PATH_MAX];
    harness_v_fmt(dir, sizeof dir, "%s/shrink/%s-%zu", x->o.out, inv, x->n_found + 1);
    char sub[PATH_MAX];
    harness_v_fmt(sub, sizeof sub, "%s/shrink", x->o.out);
    mkdir(sub, 0755);
    mkdir(dir, 0755);
    json_t *cur = json_deep_copy(failing);
    harness_explore_set_expect(&x->m, cur, inv);
    size_t wlen = 0;
    f->what[0] = 0;
    int fails;
    progress(x, "confirming a failure");
    if (!reproduces(x, cur, dir, inv, x->o.replays, &fails, NULL, 0)) {
        /* Not every replay failed: flaky, never a finding. */
        x->flaky++;
        json_decref(cur);
        return;
    }
    /* Greedy delta debugging: take the first candidate (simplest first)
     * that still fails every replay, and start over from it. */
    int improved = 1;
    while (improved && !interrupted && left(x) > 0) {
        improved = 0;
        struct harness_explore_candidate *cv = NULL;
        size_t nc = harness_explore_candidates(&x->m, cur, inv, &cv);
        for (size_t i = 0; i < nc; i++) {
            if (!improved && !interrupted && left(x) > 0) {
                char what[300];
                harness_v_fmt(what, sizeof what, "shrinking %s: %s", inv, cv[i].what);
                progress(x, what);
                if (reproduces(x, cv[i].sc, dir, inv, x->o.replays, &fails, NULL, 0)) {
                    json_decref(cur);
                    cur = json_incref(cv[i].sc);
                    wlen += (size_t)snprintf(f->what + wlen,
                                             wlen < sizeof f->what ? sizeof f->what - wlen : 0,
                                             "%s%s", wlen ? "; " : "", cv[i].what);
                    if (wlen >= sizeof f->what)
                        wlen = sizeof f->what - 1;
                    f->shrink_steps++;
                    improved = 1;
                }
            }
            json_decref(cv[i].sc);
            free(cv[i].what);
        }
        free(cv);
    }
    progress(x, "final replays");
    f->replays = x->o.final_replays;
    reproduces(x, cur, dir, inv, x->o.final_replays, &f->replays_ok, f->measured,
               sizeof f->measured);
    f->shrink_s = (double)(co_now_us() - t0) / 1e6;
    f->steps_after = harness_explore_steps(cur);
    if (f->replays_ok < f->replays) {
        /* The minimal case passed a final replay: flaky, never a finding. */
        if (x->tty)
            fputc('\n', stderr);
        fprintf(stderr,
                "explore: %s (case %u) passed a final replay after shrinking: set aside as "
                "flaky\n",
                inv, index);
        x->flaky++;
        json_decref(cur);
        return;
    }
    /* The minimal case says where it came from and what was removed. */
    char name[128], desc[6000];
    harness_v_fmt(name, sizeof name, "explore-%s-%zu", inv, x->n_found + 1);
    const char *states = inv;
    for (const struct harness_explore_invariant *v = harness_explore_invariants; v->name; v++)
        if (strcmp(v->name, inv) == 0)
            states = v->states;
    harness_v_fmt(desc, sizeof desc,
                  "Found by cutover explore (seed %llu, case %u%s%s). Invariant %s: %s. Shrunk "
                  "from %zu to %zu timeline steps: %s. Failed %d of %d replays.",
                  (unsigned long long)x->o.seed, index, x->o.relay ? ", relay " : "",
                  x->o.relay ? x->o.relay : "", inv, states, f->steps_before, f->steps_after,
                  f->what[0] ? f->what : "nothing removed", f->replays_ok, f->replays);
    json_object_set_new(cur, "name", json_string(name));
    json_object_set_new(cur, "description", json_string(desc));
    json_object_set_new(cur, "tags", json_pack("[s, s]", "explore", inv));
    harness_v_fmt(f->file, sizeof f->file, "%s/found/%s-%zu.json", x->o.out, inv, x->n_found + 1);
    write_case(cur, f->file);
    f->sc = cur;
    x->n_found++;
    if (x->tty)
        fputc('\n', stderr);
    fprintf(stderr, "explore: found %s: %s (%zu steps, failed %d/%d replays)\n", inv, f->file,
            f->steps_after, f->replays_ok, f->replays);
}

/* ---- coverage ------------------------------------------------------------ */

static void count(json_t *cov, const char *key, int failed)
{
    json_t *v = json_object_get(cov, key);
    if (!v) {
        v = json_pack("[i, i]", 0, 0);
        json_object_set_new(cov, key, v);
    }
    json_array_set_new(v, 0, json_integer(json_integer_value(json_array_get(v, 0)) + 1));
    if (failed)
        json_array_set_new(v, 1, json_integer(json_integer_value(json_array_get(v, 1)) + 1));
}

static void cover(struct explore *x, const json_t *sc, const struct outcome *oc)
{
    const char *faults[32];
    size_t n = harness_explore_case_faults(sc, faults, 32);
    int failed = oc->nfail > 0;
    for (size_t i = 0; i < n; i++) {
        count(x->fault_cov, faults[i], failed);
        for (size_t j = i + 1; j < n; j++) {
            char pair[128];
            int lt = strcmp(faults[i], faults[j]) < 0;
            harness_v_fmt(pair, sizeof pair, "%s + %s", lt ? faults[i] : faults[j],
                          lt ? faults[j] : faults[i]);
            count(x->pair_cov, pair, failed);
        }
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(sc, "expect"), i, c)
    {
        const char *inv = json_string_value(json_object_get(c, "note"));
        int f = 0;
        for (int k = 0; k < oc->nfail; k++)
            f |= strcmp(oc->fail[k], inv) == 0;
        count(x->inv_cov, inv, f);
    }
}

/* ---- report -------------------------------------------------------------- */

static void esc(FILE *f, const char *s)
{
    char *e = report_xml_escape(s ? s : "");
    fputs(e, f);
    free(e);
}

static void cov_table(FILE *f, const char *title, const json_t *cov)
{
    fprintf(f, "<h2>%s</h2><table><tr><th>name</th><th>cases</th><th>failing cases</th></tr>\n",
            title);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)cov, k, v)
    {
        fputs("<tr><td>", f);
        esc(f, k);
        fprintf(f, "</td><td>%lld</td><td>%lld</td></tr>\n",
                (long long)json_integer_value(json_array_get(v, 0)),
                (long long)json_integer_value(json_array_get(v, 1)));
    }
    fputs("</table>\n", f);
}

static int write_html(const struct explore *x, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("<!doctype html><html><head><meta charset=\"utf-8\"><title>cutover explore</title>"
          "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
          "pre{background:#f6f6f6;padding:8px;overflow:auto}.fail{color:#b00}</style></head>"
          "<body><h1>cutover explore</h1>\n",
          f);
    fprintf(f,
            "<p>seed %llu, %u cases, %u runs (%u disturbed by the machine and run again, never "
            "counted), %u flaky failures set aside, %zu finding(s), %.0f s.</p>\n",
            (unsigned long long)x->o.seed, x->cases, x->runs, x->disturbed, x->flaky, x->n_found,
            elapsed(x));
    fputs("<h2>Findings</h2>\n", f);
    if (!x->n_found)
        fputs("<p>none</p>\n", f);
    for (size_t i = 0; i < x->n_found; i++) {
        const struct finding *d = &x->found[i];
        fputs("<h3 class=\"fail\">", f);
        esc(f, d->inv);
        fputs("</h3><p>file: <code>", f);
        esc(f, d->file);
        fprintf(f,
                "</code>; found after %.1f s, shrunk in %.1f s (%d steps accepted) from %zu to "
                "%zu timeline steps; failed %d of %d replays.</p><p>measured: ",
                d->t_found_s, d->shrink_s, d->shrink_steps, d->steps_before, d->steps_after,
                d->replays_ok, d->replays);
        esc(f, d->measured);
        fputs("</p><p>removed: ", f);
        esc(f, d->what[0] ? d->what : "nothing");
        fputs("</p><table><tr><th>at_ms</th><th>mark</th><th>step</th></tr>\n", f);
        size_t k;
        json_t *st;
        json_array_foreach(json_object_get(d->sc, "timeline"), k, st)
        {
            char *s = json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER);
            fprintf(f, "<tr><td>%lld</td><td>",
                    (long long)json_integer_value(json_object_get(st, "at_ms")));
            esc(f, json_string_value(json_object_get(st, "mark")));
            fputs("</td><td><code>", f);
            esc(f, s);
            fputs("</code></td></tr>\n", f);
            free(s);
        }
        char *doc = json_dumps(d->sc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputs("</table><pre>", f);
        esc(f, doc);
        fputs("</pre>\n", f);
        free(doc);
    }
    cov_table(f, "Invariants (cases where each applied)", x->inv_cov);
    cov_table(f, "Faults", x->fault_cov);
    cov_table(f, "Fault combinations", x->pair_cov);
    fputs("</body></html>\n", f);
    return fclose(f);
}

static int write_summary(const struct explore *x, const char *path)
{
    json_t *found = json_array();
    for (size_t i = 0; i < x->n_found; i++) {
        const struct finding *d = &x->found[i];
        json_array_append_new(
            found, json_pack("{s:s, s:s, s:I, s:f, s:f, s:I, s:I, s:i, s:i, s:s, s:s}", "invariant",
                             d->inv, "file", d->file, "case", (json_int_t)d->case_index,
                             "found_after_s", d->t_found_s, "shrink_s", d->shrink_s, "steps_before",
                             (json_int_t)d->steps_before, "steps_after", (json_int_t)d->steps_after,
                             "replays_failed", d->replays_ok, "replays", d->replays, "removed",
                             d->what, "measured", d->measured));
    }
    json_t *doc = json_pack("{s:I, s:i, s:i, s:i, s:i, s:i, s:f, s:o, s:O, s:O, s:O}", "seed",
                            (json_int_t)x->o.seed, "cases", x->cases, "runs", x->runs, "disturbed",
                            x->disturbed, "flaky", x->flaky, "shrink_runs", x->shrink_runs,
                            "duration_s", elapsed(x), "findings", found, "invariants", x->inv_cov,
                            "faults", x->fault_cov, "fault_pairs", x->pair_cov);
    int rc = json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return rc;
}

/* ---- the command --------------------------------------------------------- */

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"relay", required_argument, 0, 'R'},
        {"relay-bin", required_argument, 0, 'B'},
        {"budget", required_argument, 0, 'b'},
        {"seed", required_argument, 0, 's'},
        {"jobs", required_argument, 0, 'j'},
        {"out", required_argument, 0, 'o'},
        {"model", required_argument, 0, 'm'},
        {"replays", required_argument, 0, 'r'},
        {"final-replays", required_argument, 0, 'F'},
        {"max-findings", required_argument, 0, 'x'},
        {"time-scale", required_argument, 0, 't'},
        {"print-model", no_argument, 0, 'P'},
        {"stop-when", required_argument, 0, 'W'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *o = (struct opts){.out = "out/explore",
                       .budget_s = 600,
                       .seed = 1,
                       .jobs = 1,
                       .replays = 3,
                       .final_replays = 5};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        char *end = NULL;
        long v = 0;
        if (c == 'j' || c == 'r' || c == 'F' || c == 'x') {
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 100) {
                fprintf(stderr, "cutover explore: --%s: expected 1..100, found '%s'\n",
                        c == 'j'   ? "jobs"
                        : c == 'r' ? "replays"
                        : c == 'F' ? "final-replays"
                                   : "max-findings",
                        optarg);
                return -1;
            }
        }
        switch (c) {
        case 'R':
            o->relay = optarg;
            break;
        case 'B':
            o->relay_bin = optarg;
            break;
        case 'b':
            if (harness_explore_parse_budget(optarg, &o->budget_s) != 0) {
                fprintf(stderr,
                        "cutover explore: --budget: expected e.g. 90s, 10m, 1h, found '%s'\n",
                        optarg);
                return -1;
            }
            break;
        case 's':
            errno = 0;
            o->seed = strtoull(optarg, &end, 10);
            if (errno || *end || !*optarg || *optarg == '-') {
                fprintf(stderr,
                        "cutover explore: --seed: expected an unsigned integer, found '%s'\n",
                        optarg);
                return -1;
            }
            break;
        case 'j':
            o->jobs = (int)v;
            break;
        case 'r':
            o->replays = (int)v;
            break;
        case 'F':
            o->final_replays = (int)v;
            break;
        case 'x':
            o->max_findings = (int)v;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'm':
            o->model_path = optarg;
            break;
        case 't':
            o->time_scale = optarg;
            break;
        case 'W':
            o->stop_when = optarg;
            break;
        case 'P':
            fputs(harness_explore_default_model, stdout);
            return 1;
        case 'h':
            fputs(explore_usage, stdout);
            return 1;
        default:
            fputs(explore_usage, stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cutover explore: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

static int already_found(const struct explore *x, const char *inv)
{
    for (size_t i = 0; i < x->n_found; i++)
        if (strcmp(x->found[i].inv, inv) == 0)
            return 1;
    return 0;
}

static int mkdirs(const char *out)
{
    char p[PATH_MAX];
    const char *subs[] = {"", "/cases", "/runs", "/found"};
    for (size_t i = 0; i < 4; i++) {
        harness_v_fmt(p, sizeof p, "%s%s", out, subs[i]);
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "cutover explore: %s: %s\n", p, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Runs a batch of up to jobs generated cases at once; handles each result. */
static void explore_batch(struct explore *x)
{
    int n = x->o.jobs;
    json_t *sc[100];
    pid_t pid[100];
    char dirs[100][PATH_MAX];
    unsigned idx[100];
    for (int j = 0; j < n; j++) {
        idx[j] = x->cases + (unsigned)j;
        sc[j] = harness_explore_generate(&x->m, x->o.seed, idx[j]);
        char file[PATH_MAX];
        harness_v_fmt(file, sizeof file, "%s/cases/case-%u.json", x->o.out, idx[j]);
        write_case(sc[j], file);
        harness_v_fmt(dirs[j], sizeof dirs[j], "%s/runs/case-%u", x->o.out, idx[j]);
        mkdir(dirs[j], 0755);
        pid[j] = spawn_run(x, file, dirs[j], x->o.seed + idx[j]);
    }
    for (int j = 0; j < n; j++) {
        int rc = wait_run(pid[j]);
        x->runs++;
        struct outcome oc;
        read_outcome(dirs[j], rc, &oc);
        if (!oc.ok) {
            if (x->tty)
                fputc('\n', stderr);
            fprintf(stderr, "explore: case %u: %s\n", idx[j], oc.error);
        } else if (oc.disturbed) {
            /* Run it again alone: a disturbed verdict never counts. */
            x->disturbed++;
            char dir[PATH_MAX];
            harness_v_fmt(dir, sizeof dir, "%s-again", dirs[j]);
            int fails = 0;
            (void)fails;
            run_once(x, sc[j], dir, x->o.seed + idx[j], "", &oc);
        }
        if (oc.ok && !oc.disturbed) {
            cover(x, sc[j], &oc);
            for (int k = 0; k < oc.nfail && !interrupted; k++) {
                if (already_found(x, oc.fail[k]) ||
                    (x->o.max_findings && (int)x->n_found >= x->o.max_findings) ||
                    (x->o.stop_when && already_found(x, x->o.stop_when)))
                    continue;
                shrink(x, sc[j], idx[j], oc.fail[k]);
            }
        }
        json_decref(sc[j]);
    }
    x->cases += (unsigned)n;
}

int harness_cmd_explore(int argc, char **argv)
{
    struct explore x;
    memset(&x, 0, sizeof x);
    int rc = parse_opts(argc, argv, &x.o);
    if (rc)
        return rc > 0 ? CO_EXIT_PASS : CO_EXIT_INVALID;
    char err[1024];
    if (harness_explore_model_load(x.o.model_path, &x.m, err, sizeof err) != 0) {
        fprintf(stderr, "invalid: %s\n", err);
        return CO_EXIT_INVALID;
    }
    int known = !x.o.stop_when;
    for (const struct harness_explore_invariant *v = harness_explore_invariants; v->name; v++)
        known |= x.o.stop_when && strcmp(v->name, x.o.stop_when) == 0;
    if (!known) {
        fprintf(stderr,
                "cutover explore: --stop-when: expected an invariant name (docs/explore.md), "
                "found '%s'\n",
                x.o.stop_when);
        harness_explore_model_free(&x.m);
        return CO_EXIT_INVALID;
    }
    ssize_t len = readlink("/proc/self/exe", x.exe, sizeof x.exe - 1);
    if (len <= 0 || mkdirs(x.o.out) != 0) {
        harness_explore_model_free(&x.m);
        return CO_EXIT_HARNESS;
    }
    x.exe[len] = 0;
    /* The child finds its relay next to its own path, which /proc/self/exe
     * does not give; name it here. */
    char relay_bin[PATH_MAX];
    if (!x.o.relay_bin && !x.o.relay) {
        char *slash = strrchr(x.exe, '/');
        harness_v_fmt(relay_bin, sizeof relay_bin, "%.*s/cutover-relay",
                      slash ? (int)(slash - x.exe) : 1, slash ? x.exe : ".");
        x.o.relay_bin = relay_bin;
    }
    x.tty = isatty(2);
    x.found = co_calloc(64, sizeof *x.found);
    x.fault_cov = json_object();
    x.pair_cov = json_object();
    x.inv_cov = json_object();
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_sig;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    x.t0 = co_now_us();
    while (!interrupted && left(&x) > 0 && x.n_found < 64 &&
           !(x.o.max_findings && (int)x.n_found >= x.o.max_findings) &&
           !(x.o.stop_when && already_found(&x, x.o.stop_when))) {
        progress(&x, NULL);
        explore_batch(&x);
    }
    if (x.tty)
        fputc('\n', stderr);
    char path[PATH_MAX];
    harness_v_fmt(path, sizeof path, "%s/explore.json", x.o.out);
    rc = write_summary(&x, path) != 0 ? CO_EXIT_HARNESS : x.n_found ? CO_EXIT_FAIL : CO_EXIT_PASS;
    harness_v_fmt(path, sizeof path, "%s/explore.html", x.o.out);
    if (write_html(&x, path) != 0)
        rc = CO_EXIT_HARNESS;
    printf("explore: %u cases, %u runs (%u disturbed, run again), %u flaky set aside, %zu "
           "finding(s) in %.0f s\n",
           x.cases, x.runs, x.disturbed, x.flaky, x.n_found, elapsed(&x));
    for (size_t i = 0; i < x.n_found; i++)
        printf("  %-22s %s  (%zu steps, %d/%d replays failed, found at %.0f s, shrunk in %.0f "
               "s)\n",
               x.found[i].inv, x.found[i].file, x.found[i].steps_after, x.found[i].replays_ok,
               x.found[i].replays, x.found[i].t_found_s, x.found[i].shrink_s);
    printf("report: %s\n", path);
    for (size_t i = 0; i < x.n_found; i++)
        json_decref(x.found[i].sc);
    free(x.found);
    json_decref(x.fault_cov);
    json_decref(x.pair_cov);
    json_decref(x.inv_cov);
    harness_explore_model_free(&x.m);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (interrupted)
        rc = CO_EXIT_HARNESS;
    return rc;
}
