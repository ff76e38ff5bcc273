/* results.json: the journal of a run, complete enough to re-read a verdict
 * without the console (version, seed, time scale, every scenario with its
 * document, every check with expected, measured, margin and status). */
#include "reports/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static json_t *check_json(const struct report_check *c)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:I, s:I, s:s, s:s}", "check",
                          c->check, "label", c->label, "status", report_status_name(c->status),
                          "expected", c->expected, "measured", c->measured, "margin",
                          isfinite(c->margin) ? c->margin : 0.0, "unit", c->unit, "samples",
                          (json_int_t)c->samples, "min_samples", (json_int_t)c->min_samples,
                          "detail", c->detail, "severity", report_severity_name(c->severity));
    /* Where on the timeline it is about (the HTML report shades it). */
    if (c->window_mark[0]) {
        json_object_set_new(o, "window_mark", json_string(c->window_mark));
        json_object_set_new(o, "window_before_ms", json_real(c->window_before_ms));
        if (c->window_after_ms >= 0)
            json_object_set_new(o, "window_after_ms", json_real(c->window_after_ms));
    }
    return o;
}

/* The load driver's figures: the schedule it was given, what it kept. */
static json_t *driver_json(const struct report_driver *d)
{
    json_t *o = json_pack(
        "{s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:I, s:f, s:i, s:i, s:I, s:b}", "scheduled",
        (json_int_t)d->scheduled, "sent", (json_int_t)d->sent, "scheduled_rps", d->sched_rps,
        "achieved_rps", d->achieved_rps, "send_lag_p50_ms", d->lag_p50_ms, "send_lag_p99_ms",
        d->lag_p99_ms, "send_lag_max_ms", d->lag_max_ms, "pool_waits", (json_int_t)d->pool_waits,
        "pool_wait_max_ms", d->pool_wait_max_ms, "pool_cap", d->pool_cap, "peak_inflight",
        d->peak_inflight, "connects", (json_int_t)d->connects, "behind", d->behind);
    json_object_set_new(o, "send_late_at_end_ms", json_real(d->late_end_ms));
    if (d->reason[0])
        json_object_set_new(o, "reason", json_string(d->reason));
    return o;
}

json_t *report_json_build(const struct report_run *r)
{
    json_t *scs = json_array();
    size_t counts[REPORT_N_STATUS] = {0}, flaky = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct report_scenario *s = &r->sc[i];
        counts[s->status]++;
        flaky += (size_t)report_is_flaky(s);
        json_t *checks = json_array();
        for (size_t k = 0; k < s->n_checks; k++)
            json_array_append_new(checks, check_json(&s->checks[k]));
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:f, s:I, s:i, s:i, s:b, s:o}", "name", s->name,
            "file", s->file, "folder", s->folder, "description", s->description, "tags", s->tags,
            "status", report_status_name(s->status), "seed", (json_int_t)s->seed, "duration_s",
            s->duration_s, "requests", (json_int_t)s->requests, "runs", s->runs, "passes",
            s->passes, "flaky", report_is_flaky(s), "checks", checks);
        /* The graded verdict: a pass with advisories is still a pass for
         * the exit code, and says so. */
        json_object_set_new(o, "verdict", json_string(report_verdict_name(s)));
        json_object_set_new(o, "advisories", json_integer(s->advisories));
        if (s->error[0])
            json_object_set_new(o, "error", json_string(s->error));
        if (s->out_dir[0])
            json_object_set_new(o, "out_dir", json_string(s->out_dir));
        if (s->t0_us)
            json_object_set_new(o, "t0_us", json_integer((json_int_t)s->t0_us));
        if (s->relay[0])
            json_object_set_new(o, "relay", json_string(s->relay));
        if (s->observability)
            json_object_set(o, "observability", s->observability);
        if (s->log_tail)
            json_object_set_new(o, "relay_log_tail", json_string(s->log_tail));
        if (s->rerun[0])
            json_object_set_new(o, "rerun", json_string(s->rerun));
        if (s->driver.present)
            json_object_set_new(o, "driver", driver_json(&s->driver));
        if (s->doc)
            json_object_set(o, "scenario", s->doc);
        json_array_append_new(scs, o);
    }
    json_t *doc = json_pack(
        "{s:s, s:I, s:f, s:i, s:s, s:f, s:i, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, "
        "s:o}",
        "version", r->version ? r->version : "cutover", "seed", (json_int_t)r->seed, "time_scale",
        r->time_scale, "repeat", r->repeat, "started", r->started, "duration_s", r->duration_s,
        "exit_code", report_exit_code(r), "summary", "total", (json_int_t)r->n, "passed",
        (json_int_t)counts[REPORT_PASS], "failed", (json_int_t)counts[REPORT_FAIL], "inconclusive",
        (json_int_t)counts[REPORT_INCONCLUSIVE], "errors", (json_int_t)counts[REPORT_ERROR],
        "invalid", (json_int_t)counts[REPORT_INVALID], "not_applicable",
        (json_int_t)counts[REPORT_NA], "flaky", (json_int_t)flaky, "scenarios", scs);
    if (r->scorecard)
        json_object_set_new(doc, "scorecard", json_deep_copy(r->scorecard));
    /* Per relay, the signals it gave the checks (ids, served-by, event log...). */
    json_object_set_new(doc, "observability", report_run_observability(r));
    return doc;
}

int report_json_write(struct report_run *r, char *err, size_t errlen)
{
    const char *path = report_path(r, "json");
    if (!path)
        return 0;
    json_t *j = report_json_build(r);
    int rc = json_dump_file(j, path, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(j);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
