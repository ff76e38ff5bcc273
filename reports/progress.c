/* Live progress of the running scenario in the console.  On a terminal one
 * status line is rewritten in place (and erased before the writer's own
 * per-scenario line); elsewhere (CI logs, pipes) a plain line at most once a
 * second, so a log stays readable.  The runner calls this from its poll
 * timer through harness_run_opts.progress. */
#include "reports/report.h"

#include "co_clock.h"

#include <string.h>

#define PLAIN_EVERY_US 1000000

void report_console_progress(void *ctx, const struct report_progress *p)
{
    struct report_run *r = ctx;
    if (!r || !r->console || !p)
        return;
    uint64_t now = co_now_us();
    if (!r->console_tty) {
        if (r->progress_last_us && now - r->progress_last_us < PLAIN_EVERY_US)
            return;
    }
    r->progress_last_us = now;
    /* Checks so far: the verdicts of the scenarios already finished. */
    size_t pass = 0, total = 0;
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = 0; k < r->sc[i].n_checks; k++) {
            total++;
            pass += r->sc[i].checks[k].status == REPORT_PASS;
        }
    char line[256];
    snprintf(line, sizeof line,
             "[%3zu/%zu] %-36.36s %5.1f/%.1f s  %ld sent, %ld done, %ld failed  serving %-5s  "
             "checks so far %zu/%zu%s",
             r->n + 1, r->total_planned, p->name ? p->name : "", (double)p->elapsed_us / 1e6,
             (double)p->total_us / 1e6, p->sent, p->done, p->failed,
             p->serving && *p->serving ? p->serving : "-", pass, total,
             p->settling ? "  settling" : "");
    if (r->console_tty)
        fprintf(r->console, "\r\033[2K%s", line);
    else
        fprintf(r->console, "  ... %s\n", line);
    fflush(r->console);
}
