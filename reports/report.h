/* The results of a run and the writers that publish them.  The runner fills
 * struct report_run; each writer (console, results.json, junit.xml) is one
 * row of a static const table with three hooks: begin (before the first
 * scenario), scenario (as each one finishes, for progress) and end (the whole
 * run).  Adding a format is adding a row.
 *
 * Ownership: report_scenario_clear frees what a scenario entry holds; strings
 * given to the structs are copied. */
#ifndef REPORT_H
#define REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum report_status {
    REPORT_PASS,
    REPORT_FAIL,
    REPORT_INCONCLUSIVE,
    REPORT_ERROR,   /* harness error: a port, the relay would not start, a timeout */
    REPORT_INVALID, /* the scenario file is invalid */
    /* Not applicable to this relay: it has a setting fixed at another value
     * than the scenario needs (a profile's "fixed").  No verdict, no failure:
     * it leaves the exit code alone unless nothing else ran. */
    REPORT_NA,
};
#define REPORT_N_STATUS (REPORT_NA + 1)

/* How much a check's verdict weighs (a scenario's "severity" key): a
 * required check decides the scenario's status, the exit code and JUnit; an
 * advisory one that does not pass leaves the scenario passing "with
 * advisories", named in every report; an info check only reports a value. */
enum report_severity { REPORT_REQUIRED, REPORT_ADVISORY, REPORT_INFO };
#define REPORT_N_SEVERITY (REPORT_INFO + 1)

/* One check's verdict (filled by harness/checks.c). */
struct report_check {
    char check[40];
    char label[96];
    int status; /* REPORT_PASS, REPORT_FAIL, REPORT_INCONCLUSIVE or REPORT_NA */
    char expected[192];
    char measured[256];
    double margin; /* signed distance to the bound, >= 0 inside; worst over repeats */
    char unit[8];
    long samples;
    long min_samples;
    char detail[1024];
    int severity; /* enum report_severity */
};

/* The load driver's own account of an open-loop run (harness/traffic.c):
 * how closely it kept its schedule, so a driver that fell behind is never
 * read as a slow relay.  Plain data (copied whole between processes by
 * cutover run --jobs). */
struct report_driver {
    int present;         /* the scenario had an open-loop phase */
    long scheduled;      /* open-loop requests the schedule asked for */
    long sent;           /* of which handed to a connection */
    double sched_rps;    /* the schedule's rate over its span */
    double achieved_rps; /* the rate actually sent (first intended send to last actual) */
    double lag_p50_ms, lag_p99_ms, lag_max_ms; /* actual send - intended send */
    double late_end_ms;                        /* last actual send - last intended send */
    long pool_waits; /* requests that waited for a connection (pool at its cap) */
    double pool_wait_max_ms;
    int pool_cap;      /* connections the driver may open */
    int peak_inflight; /* most requests in flight at once */
    long connects;     /* new connections opened (the rest reused one) */
    int behind;        /* the driver, not the relay, fell behind */
    char reason[384];  /* why behind ("" when on schedule) */
};

struct report_scenario {
    char name[128];
    char file[512];
    char folder[256];
    char description[1024];
    char tags[256];
    int status;
    char error[1024];
    uint64_t seed;
    double duration_s;
    long requests;
    struct report_check *checks;
    size_t n_checks;
    char *log_tail; /* relay stderr tail (redacted), may be NULL */
    char out_dir[512];
    json_t *doc;      /* the scenario as run; owned */
    int runs, passes; /* with --repeat */
    uint64_t t0_us;   /* traffic start (CLOCK_MONOTONIC µs): the 0 of the report's timeline */
    char relay[512];  /* which relay ran it (binary or --relay command), for the scorecard */
    /* What the relay gave the checks (harness/obs.h harness_obs_observability_json):
     * owned, NULL when the scenario did not run. */
    json_t *observability;
    /* Why the verdict comes from a second run ("" when from the first): the
     * runner fell behind its schedule, beside other scenarios under
     * --jobs or alone. */
    char rerun[512];
    struct report_driver driver;
    /* Advisory checks that did not pass: a passing scenario with any is
     * "pass with advisories" (report_verdict_name). */
    int advisories;
};

/* Live progress of the scenario that is running, from the runner's poll
 * timer (a few times a second). */
struct report_progress {
    const char *name;        /* the scenario */
    uint64_t elapsed_us;     /* since the traffic start */
    uint64_t total_us;       /* the scenario's planned span */
    long sent, done, failed; /* client requests so far */
    const char *serving;     /* colour of the latest answer ("" none yet) */
    int settling;            /* traffic over, waiting before collection */
};

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
    const char *json_path;
    const char *junit_path;
    const char *html_path; /* NULL: no HTML report */
    const char *md_path;   /* NULL: no Markdown summary */
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

struct report_writer {
    const char *name;
    void (*begin)(struct report_run *r);
    void (*scenario)(struct report_run *r, const struct report_scenario *s, size_t index);
    int (*end)(struct report_run *r, char *err, size_t errlen);
};

/* The writers, NULL-terminated on name. */
extern const struct report_writer report_writers[];

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
