/* junit.xml in the shape CI systems read (Jenkins, GitLab, GitHub test
 * reporters): a testcase per scenario, classname from its folder, a
 * <failure> per failed check with expected vs measured, an <error> for an
 * inconclusive check or a harness error, the seed as a property and the
 * relay log tail in system-out. */
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

static void testcase(FILE *f, const struct report_run *r, const struct report_scenario *s)
{
    fprintf(f, "    <testcase");
    attr(f, "classname", s->folder);
    attr(f, "name", s->name);
    attr(f, "file", s->file);
    fprintf(f, " time=\"%.3f\">\n", s->duration_s);
    fprintf(f, "      <properties><property name=\"seed\" value=\"%llu\"/>",
            (unsigned long long)s->seed);
    if (s->runs > 1)
        fprintf(f, "<property name=\"pass_rate\" value=\"%d/%d\"/>", s->passes, s->runs);
    fprintf(f, "</properties>\n");
    char msg[1024];
    if (s->status == REPORT_ERROR || s->status == REPORT_INVALID) {
        fprintf(f, "      <error");
        attr(f, "type", report_status_name(s->status));
        attr(f, "message", s->error);
        fprintf(f, ">");
        text(f, s->error);
        fprintf(f, "</error>\n");
    }
    for (size_t i = 0; i < s->n_checks; i++) {
        const struct report_check *c = &s->checks[i];
        /* Not applicable to this relay: a skip, never an error. */
        if (c->status == REPORT_NA && s->status == REPORT_NA) {
            fprintf(f, "      <skipped");
            attr(f, "message", c->detail);
            fprintf(f, "/>\n");
            break;
        }
        if (c->status == REPORT_PASS || c->status == REPORT_NA)
            continue;
        int fail = c->status == REPORT_FAIL;
        snprintf(msg, sizeof msg, "%s: expected %s; measured %s", c->label, c->expected,
                 c->measured);
        fprintf(f, "      <%s", fail ? "failure" : "error");
        attr(f, "type", fail ? "check" : "inconclusive");
        attr(f, "message", msg);
        fprintf(f, ">");
        text(f, msg);
        if (!fail) {
            snprintf(msg, sizeof msg, " (%ld samples, %ld needed)", c->samples, c->min_samples);
            text(f, msg);
        }
        if (c->detail[0]) {
            text(f, "\n");
            text(f, c->detail);
        }
        fprintf(f, "</%s>\n", fail ? "failure" : "error");
    }
    if (s->log_tail && s->log_tail[0]) {
        fprintf(f, "      <system-out>");
        text(f, s->log_tail);
        fprintf(f, "</system-out>\n");
    }
    fprintf(f, "    </testcase>\n");
}

int report_junit_write(struct report_run *r, char *err, size_t errlen)
{
    if (!r->junit_path)
        return 0;
    FILE *f = fopen(r->junit_path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", r->junit_path, strerror(errno));
        return -1;
    }
    size_t failures = 0, errors = 0;
    for (size_t i = 0; i < r->n; i++) {
        int st = r->sc[i].status;
        failures += st == REPORT_FAIL;
        errors += st == REPORT_ERROR || st == REPORT_INVALID || st == REPORT_INCONCLUSIVE;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"cutover\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "time=\"%.3f\">\n",
            r->n, failures, errors, r->duration_s);
    fprintf(f,
            "  <testsuite name=\"cutover\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "skipped=\"0\" time=\"%.3f\"",
            r->n, failures, errors, r->duration_s);
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
        snprintf(err, errlen, "%s: cannot write: %s", r->junit_path, strerror(errno));
        return -1;
    }
    return 0;
}
