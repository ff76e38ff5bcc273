/* The console writer: one progress line per scenario as it finishes, then a
 * summary table and, for every scenario that did not pass, the checks that
 * did not hold (expected vs measured, the failing request's attempt
 * timeline) and the relay log tail.  Colour only on a terminal, and never
 * when NO_COLOR is set (no-color.org). */
#include "reports/report.h"

#include "co_log.h"

#include <stdio.h>
#include <string.h>

#define C_RED     "\033[31m"
#define C_GREEN   "\033[32m"
#define C_YELLOW  "\033[33m"
#define C_MAGENTA "\033[35m"
#define C_BOLD    "\033[1m"
#define C_RESET   "\033[0m"

/* Every string from a scenario, a results file or a relay goes through t():
 * an escape sequence in a scenario name or a relay's log must not drive the
 * reader's terminal.  Rotating buffers: up to eight in one printf. */
static const char *t(const char *s)
{
    static char bufs[8][4096];
    static unsigned next;
    char *b = bufs[next++ % 8];
    return co_escape_ctl(s, b, sizeof bufs[0]);
}

static const char *colour_of(int status)
{
    switch (status) {
    case REPORT_PASS:
        return C_GREEN;
    case REPORT_FAIL:
        return C_RED;
    case REPORT_INCONCLUSIVE:
        return C_YELLOW;
    default:
        return C_MAGENTA;
    }
}

static void status_word(const struct report_run *r, int status, int width)
{
    char w[16];
    snprintf(w, sizeof w, "%s", report_status_name(status));
    for (char *p = w; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    if (r->color)
        fprintf(r->console, "%s%-*s%s", colour_of(status), width, w, C_RESET);
    else
        fprintf(r->console, "%-*s", width, w);
}

void report_console_begin(struct report_run *r)
{
    if (!r->console)
        return;
    fprintf(r->console, "cutover: %zu scenario(s), seed %llu, time scale %g%s\n", r->total_planned,
            (unsigned long long)r->seed, r->time_scale, r->repeat > 1 ? ", repeated" : "");
    fflush(r->console);
}

void report_console_scenario(struct report_run *r, const struct report_scenario *s, size_t index)
{
    if (!r->console)
        return;
    if (r->console_tty)
        fputs("\r\033[2K", r->console); /* erase the live progress line */
    fprintf(r->console, "[%3zu/%zu] ", index + 1, r->total_planned);
    status_word(r, s->status, 12);
    size_t passed = 0;
    for (size_t i = 0; i < s->n_checks; i++)
        passed += s->checks[i].status == REPORT_PASS;
    fprintf(r->console, " %-44s %5.2f s  %zu/%zu checks", t(s->file), s->duration_s, passed,
            s->n_checks);
    if (s->status == REPORT_PASS && s->advisories)
        fprintf(r->console, " (pass with %d advisor%s)", s->advisories,
                s->advisories == 1 ? "y" : "ies");
    /* Name what the count left out, so "6/7" never hides the seventh. */
    char why[1024];
    if (report_uncounted(s, why, sizeof why))
        fprintf(r->console, "; %s", why);
    if (s->runs > 1) {
        fprintf(r->console, "  %d/%d runs passed%s", s->passes, s->runs,
                report_is_flaky(s) ? " FLAKY" : "");
        /* The check that came closest to (or went furthest past) its bound. */
        const struct report_check *w = NULL;
        for (size_t i = 0; i < s->n_checks; i++)
            if (!w || s->checks[i].margin < w->margin)
                w = &s->checks[i];
        if (w)
            fprintf(r->console, ", worst margin %.4g %s (%s)", w->margin, t(w->unit), t(w->check));
    }
    fputc('\n', r->console);
    if ((s->status == REPORT_ERROR || s->status == REPORT_INVALID) && s->error[0])
        fprintf(r->console, "          %s\n", t(s->error));
    if (s->rerun[0])
        fprintf(r->console, "          %s\n", t(s->rerun));
    /* The driver's own figures where they matter: a load scenario, or a
     * driver that fell behind (then the verdict is no verdict on the relay). */
    const struct report_driver *d = &s->driver;
    if (d->present && (d->behind || strstr(s->tags, "load") || d->sched_rps >= 1000)) {
        if (d->sched_rps > 0)
            fprintf(
                r->console,
                "          driver: %.0f of %.0f req/s (%.1f%%), send lag p50 %.2f ms p99 %.2f ms",
                d->achieved_rps, d->sched_rps, 100.0 * d->achieved_rps / d->sched_rps,
                d->lag_p50_ms, d->lag_p99_ms);
        else
            fprintf(r->console, "          driver: closed loop, %.0f req/s", d->achieved_rps);
        fprintf(r->console,
                ", peak %d in flight, %ld connection(s) opened, %ld waited for one%s%s\n",
                d->peak_inflight, d->connects, d->pool_waits, d->behind ? "; " : "",
                d->behind ? t(d->reason) : "");
    }
    fflush(r->console);
}

static void details(struct report_run *r, const struct report_scenario *s)
{
    FILE *f = r->console;
    fprintf(f, "\n");
    if (r->color)
        fprintf(f, C_BOLD);
    fprintf(f, "--- %s (%s) seed %llu", t(s->name), t(s->file), (unsigned long long)s->seed);
    if (r->color)
        fprintf(f, C_RESET);
    fprintf(f, "\n");
    if (s->description[0])
        fprintf(f, "    protects: %s\n", t(s->description));
    if (s->error[0])
        fprintf(f, "    %s: %s\n", report_status_name(s->status), t(s->error));
    if (s->driver.behind)
        fprintf(f, "    driver: %s\n", t(s->driver.reason));
    for (size_t i = 0; i < s->n_checks; i++) {
        const struct report_check *c = &s->checks[i];
        if (c->status == REPORT_PASS)
            continue;
        fprintf(f, "    ");
        if (c->severity == REPORT_INFO)
            fprintf(f, "%-12s", "INFO"); /* a value, not a verdict */
        else
            status_word(r, c->status, 12);
        fprintf(f, " %s%s\n", t(c->label),
                c->severity == REPORT_ADVISORY ? " [advisory]"
                : c->severity == REPORT_INFO   ? " [info]"
                                               : "");
        fprintf(f, "        expected: %s\n", t(c->expected));
        fprintf(f, "        measured: %s", t(c->measured));
        if (c->status == REPORT_INCONCLUSIVE)
            fprintf(f, " (%ld samples, %ld needed)", c->samples, c->min_samples);
        fprintf(f, "\n");
        if (c->detail[0])
            fprintf(f, "        detail:   %s\n", t(c->detail));
    }
    if (s->log_tail && s->log_tail[0]) {
        fprintf(f, "    relay log tail:\n");
        const char *p = s->log_tail;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            char line[1024];
            snprintf(line, sizeof line, "%.*s", (int)n, p);
            fprintf(f, "      | %s\n", t(line));
            p += n + (nl ? 1 : 0);
        }
    }
    if (s->out_dir[0])
        fprintf(f, "    artefacts: %s\n", t(s->out_dir));
}

int report_console_end(struct report_run *r, char *err, size_t errlen)
{
    if (!r->console)
        return 0;
    FILE *f = r->console;
    size_t counts[REPORT_N_STATUS] = {0}, flaky = 0;
    for (size_t i = 0; i < r->n; i++) {
        counts[r->sc[i].status]++;
        flaky += (size_t)report_is_flaky(&r->sc[i]);
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->sc[i].status != REPORT_PASS || r->sc[i].advisories || report_is_flaky(&r->sc[i]))
            details(r, &r->sc[i]);
    /* With several relays each row says which one it ran against. */
    int relays = report_several_relays(r);
    fprintf(f, "\n%-46s ", "scenario");
    if (relays)
        fprintf(f, "%-20s ", "relay");
    fprintf(f, "%-12s %7s %8s %s\n", "status", "checks", "time", "folder");
    for (size_t i = 0; i < r->n; i++) {
        const struct report_scenario *s = &r->sc[i];
        size_t passed = 0;
        for (size_t k = 0; k < s->n_checks; k++)
            passed += s->checks[k].status == REPORT_PASS;
        fprintf(f, "%-46.46s ", t(s->name));
        if (relays) {
            char relay[128];
            report_relay_label(s->relay, relay, sizeof relay);
            fprintf(f, "%-20.20s ", t(relay));
        }
        status_word(r, s->status, 12);
        fprintf(f, " %3zu/%-3zu %7.2fs %s%s%s\n", passed, s->n_checks, s->duration_s, t(s->folder),
                report_is_flaky(s) ? "  (flaky)" : "",
                s->status == REPORT_PASS && s->advisories ? "  (with advisories)" : "");
    }
    fprintf(f,
            "\n%zu scenario(s): %zu passed, %zu failed, %zu inconclusive, %zu harness error(s), "
            "%zu invalid",
            r->n, counts[REPORT_PASS], counts[REPORT_FAIL], counts[REPORT_INCONCLUSIVE],
            counts[REPORT_ERROR], counts[REPORT_INVALID]);
    if (counts[REPORT_NA])
        fprintf(f, ", %zu not applicable to the relay", counts[REPORT_NA]);
    size_t advised = 0;
    for (size_t i = 0; i < r->n; i++)
        advised += r->sc[i].status == REPORT_PASS && r->sc[i].advisories;
    if (advised)
        fprintf(f, ", %zu passed with advisories", advised);
    if (r->repeat > 1)
        fprintf(f, ", %zu flaky over %d runs each", flaky, r->repeat);
    fprintf(f, " in %.1f s (seed %llu)\n", r->duration_s, (unsigned long long)r->seed);
    /* What each relay gave the checks: a check that needed a missing signal
     * is inconclusive, and this line says which signals there were. */
    json_t *obs = report_run_observability(r);
    const char *relay;
    json_t *one;
    json_object_foreach(obs, relay, one)
    {
        char label[160];
        report_relay_label(relay, label, sizeof label);
        fprintf(f, "observability of %s: %s\n", label,
                json_string_value(json_object_get(one, "summary")));
    }
    json_decref(obs);
    const char *results = report_path(r, "json");
    if (results)
        fprintf(f, "results: %s\n", results);
    fflush(f);
    return 0;
}
