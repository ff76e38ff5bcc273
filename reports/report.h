/* The results of a run and the writers that publish them.  The runner fills
 * struct report_run; each writer (console, results.json, junit.xml) is one
 * row of a static const table with three hooks: begin (before the first
 * scenario), scenario (as each one finishes, for progress) and end (the whole
 * run), plus what the command lines need of a file format: its option, its
 * default file under --out, its usage line and whether cutover report can
 * render it from results.json.  Adding a format is adding a row.
 *
 * Ownership: report_scenario_clear frees what a scenario entry holds; strings
 * given to the structs are copied. */
#ifndef REPORT_H
#define REPORT_H

#include "reports/results.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Room for the rows of report_writers. */
#define REPORT_MAX_WRITERS 12

struct report_run {
    const char *version;
    uint64_t seed;
    double time_scale;
    int repeat;
    char started[40];
    double duration_s;
    struct report_scenario *sc;
    size_t n;
    size_t total_planned;
    const char *out_dir;
    /* The file of each writer (report_writers[i]), NULL: not written; set
     * and read them with report_set_path and report_path. */
    const char *paths[REPORT_MAX_WRITERS];
    FILE *console;
    int console_tty;           /* progress rewrites one line instead of printing lines */
    uint64_t progress_last_us; /* throttle of plain progress lines */
    int color;
    int verbose;
    /* Several relays (cutover run --relay A --relay B): the scorecard matrix
     * (harness/scorecard.h), written into results.json as "scorecard" and
     * shown first by the HTML report.  Borrowed; NULL for one relay. */
    const json_t *scorecard;
};

/* A writer of a run, and the file format it writes: a row says all that the
 * command lines need, so adding a format is adding a row (and its writer). */
struct report_writer {
    const char *name;
    void (*begin)(struct report_run *r);
    void (*scenario)(struct report_run *r, const struct report_scenario *s, size_t index);
    int (*end)(struct report_run *r, char *err, size_t errlen);
    /* Its file: `--OPTION FILE` of cutover run (and of cutover report when it
     * renders), where it goes under --out when not named (NULL: only when
     * asked), and the usage line's text.  option NULL: no file (console). */
    const char *option;
    const char *default_file;
    const char *help;
    /* Renders it again from a results.json document (cutover report), with
     * the paths of r (report_path) for links between files; NULL: it
     * cannot be redone from results.json. */
    int (*render)(FILE *f, const json_t *results, const struct report_run *r, char *err,
                  size_t errlen);
};

/* The writers, NULL-terminated on name. */
extern const struct report_writer report_writers[];
/* The file of the writer whose option is option (NULL: none, or not written). */
const char *report_path(const struct report_run *r, const char *option);
/* Sets it; returns -1 for an option no writer has. */
int report_set_path(struct report_run *r, const char *option, const char *path);
/* The usage lines of the writers' options, each "  --OPTION FILE" padded to
 * width, then its help and default ("default DIR/results.json").  for_report:
 * only the writers cutover report can render, defaults said as it applies
 * them. */
void report_usage_options(FILE *f, int width, int for_report);

const char *report_status_name(int status);
/* "required", "advisory", "info"; -1 for a name that is none. */
const char *report_severity_name(int severity);
int report_severity_parse(const char *name);
/* The scenario's graded verdict: its status name, except a pass with
 * advisories is "pass_with_advisories". */
const char *report_verdict_name(const struct report_scenario *s);
/* Worst status of a run as an exit code (0 pass, 1 fail, 2 invalid,
 * 3 harness error, 4 inconclusive). */
int report_exit_code(const struct report_run *r);
/* The checks a scenario's "N/M checks" did not count, named with their
 * status and what was measured: "harness_on_time inconclusive: runner 82 ms
 * late; attempts fail: max 3" ("" when every check passed).  Returns how
 * many. */
size_t report_uncounted(const struct report_scenario *s, char *out, size_t n);
/* Whether the run's scenarios ran against more than one relay. */
int report_several_relays(const struct report_run *r);
/* Flaky: with repeats, some runs passed and some did not. */
int report_is_flaky(const struct report_scenario *s);
void report_scenario_clear(struct report_scenario *s);

/* A relay as people read it: the binary's name, and of a --relay command
 * the arguments that tell it apart (placeholders like "--port {port}" are
 * dropped): "cutover-relay --max-attempts 1". */
void report_relay_label(const char *relay, char *out, size_t n);

/* The one-line statement of a relay's observability object (results.json
 * "observability"): "ids via content marker only; no X-Served-By (colour
 * from the body); no event log; no admin API; ...". */
void report_observability_line(const json_t *obs, char *out, size_t n);
/* The observability of every scenario run against relay (a label as in
 * report_scenario.relay, "" for all) summed into one object (new reference,
 * NULL when none ran). */
json_t *report_relay_observability(const struct report_run *r, const char *relay);
/* {relay label: observability} for every relay of the run (new reference). */
json_t *report_run_observability(const struct report_run *r);

/* Individual writers (also reachable through the table). */
void report_console_begin(struct report_run *r);
void report_console_scenario(struct report_run *r, const struct report_scenario *s, size_t index);
int report_console_end(struct report_run *r, char *err, size_t errlen);
int report_json_write(struct report_run *r, char *err, size_t errlen);
int report_junit_write(struct report_run *r, char *err, size_t errlen);
int report_html_write(struct report_run *r, char *err, size_t errlen);
int report_md_write(struct report_run *r, char *err, size_t errlen);
/* The progress hook the runner calls (ctx is the struct report_run). */
void report_console_progress(void *ctx, const struct report_progress *p);
/* Renders the HTML report of a results.json document to f, reading each
 * scenario's artefacts (journals, requests.jsonl, events.jsonl) from its
 * out_dir.  Returns 0, or -1 with err. */
int report_html_render(FILE *f, const json_t *results, char *err, size_t errlen);
/* The Markdown summary of a results.json document. */
int report_md_render(FILE *f, const json_t *results, const char *html_path, char *err,
                     size_t errlen);
/* Checks a results.json document read from a file before it is rendered
 * (reports/results_check.c): every value the writers read has its type,
 * every status its known word.  Returns 0, or -1 with "$.scenarios[2].status:
 * expected one of pass, ..., found string \"<script>\"" in err. */
int report_results_check(const json_t *doc, char *err, size_t errlen);
/* `cutover report RESULTS.json... [--html F] [--md F]` (reports/report_cli.c). */
int report_cli_main(int argc, char **argv);
/* results.json's content as a JSON value (new reference). */
json_t *report_json_build(const struct report_run *r);
/* XML escaping into a malloc'd string. */
char *report_xml_escape(const char *s);
/* s as a name safe for a folder or an HTML id: letters, digits, '-' and '_'
 * kept, anything else '_' (always terminated, truncated to n - 1). */
void report_safe_name(const char *s, char *out, size_t n);
/* Writes s as one Markdown table cell: pipes escaped, newlines as spaces,
 * no raw HTML, no backquotes. */
void report_md_cell(FILE *f, const char *s);

#endif
