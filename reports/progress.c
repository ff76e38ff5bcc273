/* Live progress of the running scenario in the console.  On a terminal one
 * status line is rewritten in place (and erased before the writer's own
 * per-scenario line); elsewhere (CI logs, pipes) a plain line at most once a
 * second, so a log stays readable.  The runner calls this from its poll
 * timer through harness_run_opts.progress. */
#include "reports/report.h"

#include "co_clock.h"

#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

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
    /* The numbers first and the name last, so a narrow terminal cuts the name. */
    snprintf(line, sizeof line,
             "[%3zu/%zu] %5.1f/%.1f s  %ld sent, %ld done, %ld failed  serving %-5s  "
             "checks so far %zu/%zu  %s%s",
             r->n + 1, r->total_planned, (double)p->elapsed_us / 1e6, (double)p->total_us / 1e6,
             p->sent, p->done, p->failed, p->serving && *p->serving ? p->serving : "-", pass, total,
             p->settling ? "(settling) " : "", p->name ? p->name : "");
    if (r->console_tty) {
        /* A line longer than the terminal wraps, and \r then rewrites only
         * its last part: cut it to the width. */
        struct winsize ws;
        if (ioctl(fileno(r->console), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 &&
            (size_t)ws.ws_col - 1 < sizeof line)
            line[ws.ws_col - 1] = '\0';
        fprintf(r->console, "\r\033[2K%s", line);
    } else
        fprintf(r->console, "  ... %s\n", line);
    fflush(r->console);
}
