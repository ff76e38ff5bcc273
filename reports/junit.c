/* junit.xml in the shape CI systems read (Jenkins, GitLab, GitHub test
 * reporters), valid against the Jenkins/Ant schema in tests/junit.xsd: a
 * testcase per scenario, classname from its folder (and relay), at most one
 * <failure> (a failed scenario, every failed check in it) or <error> (an
 * inconclusive scenario, a harness error, an invalid file) so that the
 * header's counts equal the elements; the run's seed as a property, and per
 * testcase the file, seed, checks not counted and the relay log tail in
 * system-out.  A passing scenario whose self-check was inconclusive passes:
 * that check is named in its system-out, never as an <error>. */
#include "reports/report.h"

#include "co_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *report_xml_escape(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += 6;
    char *out = co_malloc(n + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '<':
            memcpy(o, "&lt;", 4);
            o += 4;
            break;
        case '>':
            memcpy(o, "&gt;", 4);
            o += 4;
            break;
        case '&':
            memcpy(o, "&amp;", 5);
            o += 5;
            break;
        case '"':
            memcpy(o, "&quot;", 6);
            o += 6;
            break;
        case '\'':
            memcpy(o, "&apos;", 6);
            o += 6;
            break;
        default:
            /* XML 1.0 forbids most control characters, even escaped. */
            if (*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')
                *o++ = '?';
            else
                *o++ = (char)*p;
        }
    }
    *o = '\0';
    return out;
}

static void attr(FILE *f, const char *name, const char *value)
{
    char *e = report_xml_escape(value);
    fprintf(f, " %s=\"%s\"", name, e);
    free(e);
}

static void text(FILE *f, const char *value)
{
    char *e = report_xml_escape(value);
    fputs(e, f);
    free(e);
}

/* The classname: the scenario's folder, and with several relays in one run
 * the relay too, so that a CI server does not fold the relays' results of
 * one scenario into one test. */
static void classname(FILE *f, const struct report_run *r, const struct report_scenario *s)
{
    if (!report_several_relays(r)) {
        attr(f, "classname", s->folder);
        return;
    }
    char relay[128], cls[512];
    report_relay_label(s->relay, relay, sizeof relay);
    snprintf(cls, sizeof cls, "%s.%s", relay, s->folder);
    attr(f, "classname", cls);
}

/* The one <failure> or <error> of a testcase that did not pass, whose kind
 * follows the scenario's status (so the header's counts are the elements):
 * fail -> <failure> with every failed check; inconclusive -> <error
 * type="inconclusive"> with every inconclusive check; harness error or
 * invalid file -> <error> with the reason. */
static void verdict(FILE *f, const struct report_scenario *s)
{
    if (s->status == REPORT_PASS)
        return;
    if (s->status == REPORT_NA) {
        /* Not applicable to this relay (a setting it has fixed): a skip,
         * never an error; the first such check says which setting. */
        for (size_t i = 0; i < s->n_checks; i++)
            if (s->checks[i].status == REPORT_NA) {
                fprintf(f, "      <skipped");
                attr(f, "message", s->checks[i].detail);
                fprintf(f, "/>\n");
                return;
            }
        fprintf(f, "      <skipped/>\n");
        return;
    }
    int fail = s->status == REPORT_FAIL;
    int want = fail ? REPORT_FAIL : REPORT_INCONCLUSIVE;
    char msg[1024] = "";
    size_t n = 0;
    /* Only required checks make the verdict; advisories go to system-out. */
    for (size_t i = 0; i < s->n_checks; i++)
        if (s->checks[i].status == want && s->checks[i].severity == REPORT_REQUIRED)
            n++;
    const char *kind = fail ? "failure" : "error";
    const char *type = fail                               ? "check"
                       : s->status == REPORT_INCONCLUSIVE ? "inconclusive"
                                                          : report_status_name(s->status);
    if (s->status == REPORT_ERROR || s->status == REPORT_INVALID || n == 0) {
        snprintf(msg, sizeof msg, "%s", s->error[0] ? s->error : report_status_name(s->status));
    } else {
        for (size_t i = 0; i < s->n_checks; i++)
            if (s->checks[i].status == want && s->checks[i].severity == REPORT_REQUIRED) {
                snprintf(msg, sizeof msg, "%s: expected %s; measured %s%s", s->checks[i].label,
                         s->checks[i].expected, s->checks[i].measured,
                         n > 1 ? " (and more below)" : "");
                break;
            }
    }
    fprintf(f, "      <%s", kind);
    attr(f, "type", type);
    attr(f, "message", msg);
    fprintf(f, ">");
    if (s->status == REPORT_ERROR || s->status == REPORT_INVALID)
        text(f, s->error);
    for (size_t i = 0, shown = 0; i < s->n_checks; i++) {
        const struct report_check *c = &s->checks[i];
        if (c->status != want || c->severity != REPORT_REQUIRED || s->status == REPORT_ERROR ||
            s->status == REPORT_INVALID)
            continue;
        char line[1024];
        snprintf(line, sizeof line, "%s%s: expected %s; measured %s", shown++ ? "\n" : "", c->label,
                 c->expected, c->measured);
        text(f, line);
        if (c->status == REPORT_INCONCLUSIVE) {
            snprintf(line, sizeof line, " (%ld samples, %ld needed)", c->samples, c->min_samples);
            text(f, line);
        }
        if (c->detail[0]) {
            text(f, "\n  ");
            text(f, c->detail);
        }
    }
    fprintf(f, "</%s>\n", kind);
}

/* Everything else a reader may want, as text (a testcase has no properties
 * in the schema CI servers read): the file, the seed, the pass rate over
 * repeats, the checks that were not counted, and the relay log tail. */
static void system_out(FILE *f, const struct report_scenario *s)
{
    char line[1536];
    fprintf(f, "      <system-out>");
    snprintf(line, sizeof line, "file: %s\nseed: %llu\n", s->file, (unsigned long long)s->seed);
    text(f, line);
    if (s->runs > 1) {
        snprintf(line, sizeof line, "runs passed: %d/%d\n", s->passes, s->runs);
        text(f, line);
    }
    /* Checks that neither passed nor are in this testcase's verdict: in a
     * passing scenario, an inconclusive self-check (harness_on_time); in a
     * failing one, its inconclusive checks. */
    snprintf(line, sizeof line, "verdict: %s\n", report_verdict_name(s));
    text(f, line);
    for (size_t i = 0; i < s->n_checks; i++) {
        const struct report_check *c = &s->checks[i];
        int in_verdict = (s->status == REPORT_FAIL || s->status == REPORT_INCONCLUSIVE) &&
                         c->status == s->status && c->severity == REPORT_REQUIRED;
        if (c->status == REPORT_PASS || in_verdict)
            continue;
        /* An advisory that did not pass is named as such: the scenario
         * passed, and this is what it passed with. */
        snprintf(line, sizeof line, "%s: %s %s: expected %s; measured %s\n",
                 c->severity == REPORT_ADVISORY ? "advisory"
                 : c->severity == REPORT_INFO   ? "info"
                                                : "not counted",
                 c->check, report_status_name(c->status), c->expected, c->measured);
        text(f, line);
        if (c->detail[0] && c->severity != REPORT_REQUIRED) {
            text(f, "  ");
            text(f, c->detail);
            text(f, "\n");
        }
    }
    if (s->log_tail && s->log_tail[0]) {
        text(f, "relay log tail:\n");
        text(f, s->log_tail);
    }
    fprintf(f, "</system-out>\n");
}

static void testcase(FILE *f, const struct report_run *r, const struct report_scenario *s)
{
    fprintf(f, "    <testcase");
    attr(f, "name", s->name);
    classname(f, r, s);
    fprintf(f, " time=\"%.3f\">\n", s->duration_s);
    verdict(f, s);
    system_out(f, s);
    fprintf(f, "    </testcase>\n");
}

int report_junit_write(struct report_run *r, char *err, size_t errlen)
{
    const char *path = report_path(r, "junit");
    if (!path)
        return 0;
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    size_t failures = 0, errors = 0, skipped = 0;
    for (size_t i = 0; i < r->n; i++) {
        int st = r->sc[i].status;
        failures += st == REPORT_FAIL;
        errors += st == REPORT_ERROR || st == REPORT_INVALID || st == REPORT_INCONCLUSIVE;
        skipped += st == REPORT_NA;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"cutover\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "time=\"%.3f\">\n",
            r->n, failures, errors, r->duration_s);
    fprintf(f,
            "  <testsuite name=\"cutover\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "skipped=\"%zu\" time=\"%.3f\"",
            r->n, failures, errors, skipped, r->duration_s);
    attr(f, "timestamp", r->started);
    fprintf(f,
            ">\n    <properties>\n      <property name=\"seed\" value=\"%llu\"/>\n"
            "      <property name=\"time_scale\" value=\"%g\"/>\n"
            "      <property name=\"repeat\" value=\"%d\"/>\n    </properties>\n",
            (unsigned long long)r->seed, r->time_scale, r->repeat);
    for (size_t i = 0; i < r->n; i++)
        testcase(f, r, &r->sc[i]);
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
