/* The subcommands run, validate and list.  Every scenario is validated
 * before the first one runs: a typo in scenario 20 must not cost the time
 * of scenarios 1 to 19 and then a confusing half result. */
#include "co_cli.h"
#include "co_clock.h"
#include "co_json.h"
#include "co_log.h"
#include "co_mem.h"
#include "harness/checks.h"
#include "harness/cli.h"
#include "harness/jobs.h"
#include "harness/profile.h"
#include "harness/runner.h"
#include "harness/scenario.h"
#include "harness/scorecard.h"
#include "harness/spawn.h"
#include "harness/vutil.h"
#include "reports/report.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HARNESS_SEED_MAX 9007199254740991ull

static const char run_usage_head[] =
    "usage: cutover run [PATH...] [options]\n"
    "  PATH                scenario files or folders (default scenarios/)\n"
    "  --out DIR           artefacts and reports (default out/)\n";
/* Between the two: an option per report format (reports/report.c). */
static const char run_usage_tail[] =
    "  --filter TAG        only scenarios carrying TAG\n"
    "  --seed N            seed of every random decision (default 42)\n"
    "  --repeat N          run each scenario N times, report flaky ones\n"
    "  --jobs N            scenarios run side by side, N at once (default min(2 x cores,\n"
    "                      4); 1 runs them one after the other; see docs/scenarios.md)\n"
    "  --time-scale X      multiply every time and tolerance by X (slow machines)\n"
    "  --replicas N        run N replicas of the relay (1..8) over the scenario's\n"
    "                      \"fleet\" count, with a Redis for them (docs/fleet.md)\n"
    "  --relay RELAY       a profile (relays/NAME.json: cutover-relay, nginx, haproxy,\n"
    "                      or a path) or a command with {blue_url} {green_url}\n"
    "                      {port} {events}; repeat it for a scorecard across relays\n"
    "  --scorecard FILE    the scorecard's Markdown (default DIR/scorecard.md with\n"
    "                      several relays)\n"
    "  --relay-url URL     drive a relay that already runs at URL (chaos); its\n"
    "                      config points at the mocks on --blue-port/--green-port\n"
    "  --blue-port N       the blue mock's fixed port (default: ephemeral)\n"
    "  --green-port N      the green mock's fixed port\n"
    "  --relay-bin PATH    the cutover-relay binary (default: next to cutover)\n"
    "  --no-color          plain console output (also NO_COLOR=1)\n"
    "  -v, --verbose       log the runner's warnings\n"
    "exit: 0 pass, 1 a check failed, 2 invalid input, 3 harness error, 4 inconclusive\n";

static void run_usage(FILE *f)
{
    fputs(run_usage_head, f);
    report_usage_options(f, 21, 0);
    fputs(run_usage_tail, f);
}

/* getopt values of the report formats' options: OPT_FORMAT + row index. */
#define OPT_FORMAT 0x100

/* fixed[] followed by an option per report writer with a file (its
 * --OPTION FILE), terminated; out has room for REPORT_MAX_WRITERS more. */
static void options_with_formats(const struct option *fixed, struct option *out)
{
    size_t n = 0;
    for (; fixed[n].name; n++)
        out[n] = fixed[n];
    for (int i = 0; i < REPORT_MAX_WRITERS && report_writers[i].name; i++)
        if (report_writers[i].option)
            out[n++] =
                (struct option){report_writers[i].option, required_argument, 0, OPT_FORMAT + i};
    out[n] = (struct option){0, 0, 0, 0};
}

struct loaded {
    struct harness_scenario **v;
    int n;
};

/* Loads every file; prints each invalid one.  Returns the number invalid. */
static int load_all(char **paths, int npaths, double scale, const char *filter, struct loaded *out,
                    int quiet_ok, FILE *msg)
{
    char err[HARNESS_MAX_ERRORS * 768], safe[2048];
    char **files = NULL;
    char *def[] = {"scenarios"};
    if (npaths == 0) {
        paths = def;
        npaths = 1;
    }
    int n = harness_collect_files(paths, npaths, &files, err, sizeof err);
    if (n < 0) {
        fprintf(msg, "cutover: %s\n", co_escape_ctl(err, safe, sizeof safe));
        return -1;
    }
    int bad = 0;
    out->v = co_calloc((size_t)n + 1, sizeof *out->v);
    out->n = 0;
    for (int i = 0; i < n; i++) {
        struct harness_scenario *s = harness_scenario_load(files[i], scale, err, sizeof err);
        if (!s) {
            /* Every error of the file, one line each, control characters
             * escaped (a file name or a found value may carry anything). */
            for (char *line = err, *nl; line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                if (nl)
                    *nl = '\0';
                fprintf(msg, "invalid: %s\n", co_escape_ctl(line, safe, sizeof safe));
            }
            bad++;
            continue;
        }
        if (!quiet_ok)
            fprintf(msg, "ok: %s (%s)\n", co_escape_ctl(files[i], safe, sizeof safe), s->name);
        if (filter && !harness_scenario_has_tag(s, filter)) {
            harness_scenario_free(&s);
            continue;
        }
        out->v[out->n++] = s;
    }
    if (n == 0) {
        fprintf(msg, "cutover: no scenario file (*.json) found\n");
        bad = -1;
    }
    harness_paths_free(files, n);
    return bad;
}

static void free_loaded(struct loaded *l)
{
    for (int i = 0; i < l->n; i++)
        harness_scenario_free(&l->v[i]);
    free(l->v);
}

struct relay_spec {
    char label[512];                 /* the scorecard column and each row's "relay" */
    struct harness_profile *profile; /* or NULL */
    const char *cmd;                 /* a raw --relay command, or NULL */
    char skipped[256];               /* why it is not run ("" runs) */
};

static void free_specs(struct relay_spec *s, int n)
{
    for (int i = 0; i < n; i++)
        harness_profile_free(&s[i].profile);
}

/* A raw --relay command: a word split that fails is invalid input (2);
 * a program that is not there is a relay that cannot run (why in skipped).
 * A command run by the shell is checked by the shell when it runs. */
static int raw_command_check(const char *cmd, char *skipped, size_t n)
{
    char **argv = NULL, err[256], found[PATH_MAX];
    if (harness_cmd_shell_syntax(cmd))
        return 0;
    if (harness_argv_split(cmd, &argv, err, sizeof err) < 0) {
        fprintf(stderr, "cutover run: --relay '%s': %s\n", cmd, err);
        return -1;
    }
    if (!strchr(argv[0], '{') && harness_which(argv[0], found, sizeof found) != 0)
        harness_missing_program(argv[0], skipped, n);
    harness_argv_free(&argv);
    return 0;
}

/* A relay that could not run is no pass: one harness error per relay, so
 * that the exit code is 3, JUnit has a failing testcase and the console,
 * results.json and report say why. */
static void add_not_run(struct report_run *rr, const struct relay_spec *spec)
{
    struct report_scenario *s = &rr->sc[rr->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "relay %.100s not run", spec->label);
    snprintf(s->folder, sizeof s->folder, "relays");
    harness_v_fmt(s->file, sizeof s->file, "%s",
                  spec->profile ? spec->profile->file : "--relay command");
    harness_v_fmt(s->relay, sizeof s->relay, "%s", spec->label);
    snprintf(s->error, sizeof s->error, "not run: %s", spec->skipped);
    s->status = REPORT_ERROR;
    s->runs = 1;
}

static void on_sigint(int sig)
{
    harness_runner_interrupt();
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    /* strtoull takes "-1" as 2^64 - 1 and skips blanks: digits only. */
    if (!(*s >= '0' && *s <= '9'))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

/* The relay binary next to our own executable (bin/ or bin/san/). */
static void default_relay_bin(char *out, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            harness_v_fmt(out, n, "%s/cutover-relay", self);
            return;
        }
    }
    snprintf(out, n, "bin/cutover-relay");
}

/* Keeps the worst margin of each check across repeats and the checks of the
 * worst run. */
static void merge_run(struct report_scenario *acc, struct report_scenario *run)
{
    acc->runs++;
    acc->passes += run->status == REPORT_PASS;
    if (acc->runs == 1 || run->status > acc->status ||
        (run->status != REPORT_PASS && acc->status == REPORT_PASS)) {
        double *worst = NULL;
        size_t nw = acc->n_checks;
        if (nw) {
            worst = co_calloc(nw, sizeof *worst);
            for (size_t i = 0; i < nw; i++)
                worst[i] = acc->checks[i].margin;
        }
        int runs = acc->runs, passes = acc->passes;
        report_scenario_clear(acc);
        *acc = *run;
        memset(run, 0, sizeof *run);
        acc->runs = runs;
        acc->passes = passes;
        for (size_t i = 0; worst && i < nw && i < acc->n_checks; i++)
            if (worst[i] < acc->checks[i].margin)
                acc->checks[i].margin = worst[i];
        free(worst);
    } else {
        for (size_t i = 0; i < acc->n_checks && i < run->n_checks; i++)
            if (run->checks[i].margin < acc->checks[i].margin)
                acc->checks[i].margin = run->checks[i].margin;
        report_scenario_clear(run);
    }
}

struct ready_ctx {
    struct report_run *rr;
    const struct relay_spec *specs;
    int n_specs;
    uint64_t repeat;
    const struct harness_job *jv;
};

/* A job's result is final (jobs come in serial order): fold it into its
 * scenario's entry; after its last repetition, the writers show it. */
static void on_job_ready(void *ctx, struct harness_job *j, size_t index)
{
    struct ready_ctx *c = ctx;
    struct report_run *rr = c->rr;
    uint64_t k = (uint64_t)j->ro.run_index;
    const struct relay_spec *spec = &c->specs[j->user];
    if (c->n_specs > 1 && (index == 0 || c->jv[index - 1].user != j->user))
        fprintf(stdout, "== relay %s\n", spec->label);
    harness_v_fmt(j->res->relay, sizeof j->res->relay, "%s", spec->label);
    merge_run(&rr->sc[rr->n], j->res);
    if (k + 1 < c->repeat)
        return;
    rr->n++;
    for (const struct report_writer *w = report_writers; w->name; w++)
        if (w->scenario)
            w->scenario(rr, &rr->sc[rr->n - 1], rr->n - 1);
}

/* Everything one `cutover run` holds, from its options to its results:
 * the steps below fill it in turn and harness_cmd_run frees it once. */
struct run_cmd {
    int argc;
    char **argv;
    /* The options. */
    const char *out_dir, *filter, *relay_bin, *scorecard_path, *relay_url;
    const char *paths[REPORT_MAX_WRITERS]; /* each report format's file, by row */
    const char *relay_args[HARNESS_SCORECARD_MAX_RELAYS];
    int n_relay_args;
    uint64_t ports[2], seed, repeat, jobs, replicas;
    double scale;
    int no_color, verbose;
    char relay_bin_buf[PATH_MAX], path_bufs[REPORT_MAX_WRITERS][PATH_MAX], sc_buf[PATH_MAX];
    /* What they name: the scenarios and the relays under test. */
    struct loaded l;
    struct relay_spec specs[HARNESS_SCORECARD_MAX_RELAYS];
    int n_specs, n_active;
    /* The results. */
    struct report_run rr;
    uint64_t t_start; /* CLOCK_MONOTONIC µs when the run began */
    json_t *card;     /* the scorecard, with several relays or --scorecard */
};

/* Steps return GO_ON, or the exit status to stop with. */
#define GO_ON (-1)

/* The command line into cr.  An option given twice keeps the last. */
static int run_parse(struct run_cmd *cr, int argc, char **argv)
{
    static const struct option fixed_opts[] = {
        {"out", required_argument, 0, 'o'},
        {"filter", required_argument, 0, 'f'},
        {"seed", required_argument, 0, 's'},
        {"repeat", required_argument, 0, 'r'},
        {"time-scale", required_argument, 0, 't'},
        {"relay", required_argument, 0, 'R'},
        {"relay-bin", required_argument, 0, 'B'},
        {"no-color", no_argument, 0, 'C'},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {"scorecard", required_argument, 0, 'S'},
        {"relay-url", required_argument, 0, 'U'},
        {"blue-port", required_argument, 0, 'b'},
        {"green-port", required_argument, 0, 'g'},
        {"jobs", required_argument, 0, 'p'},
        {"replicas", required_argument, 0, 'N'},
        {0, 0, 0, 0},
    };
    struct option opts[sizeof fixed_opts / sizeof fixed_opts[0] + REPORT_MAX_WRITERS];
    options_with_formats(fixed_opts, opts);
    cr->argc = argc;
    cr->argv = argv;
    cr->out_dir = "out";
    cr->seed = 42;
    cr->repeat = 1;
    cr->scale = 1.0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            cr->out_dir = optarg;
            break;
        case 'f':
            cr->filter = optarg;
            break;
        case 'R':
            if (cr->n_relay_args == HARNESS_SCORECARD_MAX_RELAYS) {
                fprintf(stderr, "cutover run: --relay: at most %d relays\n",
                        HARNESS_SCORECARD_MAX_RELAYS);
                return CO_EXIT_INVALID;
            }
            cr->relay_args[cr->n_relay_args++] = optarg;
            break;
        case 'S':
            cr->scorecard_path = optarg;
            break;
        case 'U':
            if (strncmp(optarg, "http://", 7) != 0) {
                fprintf(stderr, "cutover run: --relay-url: expected http://HOST:PORT, found '%s'\n",
                        optarg);
                return CO_EXIT_INVALID;
            }
            cr->relay_url = optarg;
            break;
        case 'b':
        case 'g':
            if (parse_u64(optarg, &cr->ports[c == 'g']) != 0 || cr->ports[c == 'g'] > 65535) {
                fprintf(stderr, "cutover run: --%s-port: expected 0..65535, found '%s'\n",
                        c == 'g' ? "green" : "blue", optarg);
                return CO_EXIT_INVALID;
            }
            break;
        case 'B':
            cr->relay_bin = optarg;
            break;
        case 'C':
            cr->no_color = 1;
            break;
        case 'v':
            cr->verbose = 1;
            break;
        case 's':
            /* results.json carries the seed as a JSON number: at most 2^53 - 1
             * survives every reader. */
            if (parse_u64(optarg, &cr->seed) != 0 || cr->seed > HARNESS_SEED_MAX) {
                fprintf(stderr,
                        "cutover run: --seed: expected an integer in [0, %llu], found '%s'\n",
                        (unsigned long long)HARNESS_SEED_MAX, optarg);
                return CO_EXIT_INVALID;
            }
            break;
        case 'p':
            if (parse_u64(optarg, &cr->jobs) != 0 || cr->jobs < 1 || cr->jobs > HARNESS_JOBS_MAX) {
                fprintf(stderr, "cutover run: --jobs: expected 1..%d, found '%s'\n",
                        HARNESS_JOBS_MAX, optarg);
                return CO_EXIT_INVALID;
            }
            break;
        case 'N':
            if (parse_u64(optarg, &cr->replicas) != 0 || cr->replicas < 1 ||
                cr->replicas > HARNESS_MAX_REPLICAS) {
                fprintf(stderr, "cutover run: --replicas: expected 1..%d, found '%s'\n",
                        HARNESS_MAX_REPLICAS, optarg);
                return CO_EXIT_INVALID;
            }
            break;
        case 'r':
            if (parse_u64(optarg, &cr->repeat) != 0 || cr->repeat < 1 || cr->repeat > 1000) {
                fprintf(stderr, "cutover run: --repeat: expected 1..1000, found '%s'\n", optarg);
                return CO_EXIT_INVALID;
            }
            break;
        case 't': {
            char *end;
            cr->scale = strtod(optarg, &end);
            /* Written so that nan fails it too. */
            if (end == optarg || *end || !(cr->scale >= 0.1 && cr->scale <= 100)) {
                fprintf(stderr, "cutover run: --time-scale: expected 0.1..100, found '%s'\n",
                        optarg);
                return CO_EXIT_INVALID;
            }
            break;
        }
        case 'h':
            run_usage(stdout);
            return CO_EXIT_PASS;
        default:
            if (c >= OPT_FORMAT && c < OPT_FORMAT + REPORT_MAX_WRITERS) {
                cr->paths[c - OPT_FORMAT] = optarg;
                break;
            }
            co_cli_bad_option(stderr, "cutover run", opts, c, argc, argv);
            return CO_EXIT_INVALID;
        }
    }
    co_log_init("cutover", cr->verbose ? CO_LOG_INFO : CO_LOG_ERROR, stderr);
    if (cr->relay_url && cr->replicas > 1) {
        fprintf(stderr,
                "cutover run: --replicas %llu: --relay-url drives one relay that runs "
                "already; the runner starts a fleet's replicas itself\n",
                (unsigned long long)cr->replicas);
        return CO_EXIT_INVALID;
    }
    return GO_ON;
}

/* The scenarios (all valid, or nothing runs), and the options that only
 * make sense together. */
static int run_load(struct run_cmd *cr)
{
    int bad =
        load_all(cr->argv + optind, cr->argc - optind, cr->scale, cr->filter, &cr->l, 1, stderr);
    if (bad != 0) {
        if (bad > 0)
            fprintf(stderr, "cutover run: %d invalid scenario file(s); nothing was run\n", bad);
        return CO_EXIT_INVALID;
    }
    if (cr->l.n == 0) {
        fprintf(stderr, "cutover run: no scenario carries tag '%s'\n",
                cr->filter ? cr->filter : "");
        return CO_EXIT_INVALID;
    }
    if (!cr->relay_bin) {
        default_relay_bin(cr->relay_bin_buf, sizeof cr->relay_bin_buf);
        cr->relay_bin = cr->relay_bin_buf;
    }
    /* One relay that runs already, or mocks on fixed ports, can serve one
     * scenario at a time. */
    int shared = cr->relay_url || cr->ports[0] || cr->ports[1];
    if (shared && cr->jobs > 1) {
        fprintf(stderr,
                "cutover run: --jobs %llu: --relay-url, --blue-port and --green-port "
                "serve one scenario at a time; give --jobs 1\n",
                (unsigned long long)cr->jobs);
        return CO_EXIT_INVALID;
    }
    if (!cr->jobs)
        cr->jobs = shared ? 1 : (uint64_t)harness_jobs_default();
    if (cr->relay_url && cr->n_relay_args) {
        fprintf(stderr, "cutover run: --relay-url drives a relay that runs already and --relay "
                        "starts one: give one of them\n");
        return CO_EXIT_INVALID;
    }
    return GO_ON;
}

/* One --relay: a profile, loaded and validated, or a raw command.  A relay
 * whose program is not installed is skipped with the reason (its scorecard
 * column says "not run"). */
static int run_load_relay(struct run_cmd *cr, int k)
{
    struct relay_spec *spec = &cr->specs[k];
    const char *arg = cr->relay_args[k];
    char path[PATH_MAX], err[1024];
    int kind = harness_profile_resolve(arg, path, sizeof path, err, sizeof err);
    if (kind < 0) {
        fprintf(stderr, "cutover run: --relay: %s\n", err);
        return CO_EXIT_INVALID;
    }
    if (kind == 0) {
        spec->cmd = arg;
        snprintf(spec->label, sizeof spec->label, "%s", arg);
        if (raw_command_check(arg, spec->skipped, sizeof spec->skipped) < 0)
            return CO_EXIT_INVALID;
        if (spec->skipped[0])
            fprintf(stderr, "cutover run: relay not run: %s\n", spec->skipped);
        return GO_ON;
    }
    spec->profile = harness_profile_load(path, err, sizeof err);
    if (!spec->profile) {
        fprintf(stderr, "invalid relay profile: %s\n", err);
        return CO_EXIT_INVALID;
    }
    snprintf(spec->label, sizeof spec->label, "%s", spec->profile->name);
    for (int q = 0; q < k; q++)
        if (strcmp(cr->specs[q].label, spec->label) == 0) {
            fprintf(stderr, "cutover run: --relay %s is given twice\n", spec->label);
            return CO_EXIT_INVALID;
        }
    if (!harness_profile_available(spec->profile, spec->skipped, sizeof spec->skipped))
        fprintf(stderr, "cutover run: relay %s not run: %s\n", spec->label, spec->skipped);
    return GO_ON;
}

/* The relays under test, every one ready before the first scenario runs;
 * then the out folder and the reports' default files in it. */
static int run_load_relays(struct run_cmd *cr)
{
    cr->n_specs = cr->n_relay_args ? cr->n_relay_args : 1;
    for (int k = 0; k < cr->n_relay_args; k++) {
        int rc = run_load_relay(cr, k);
        if (rc != GO_ON)
            return rc;
    }
    if (!cr->n_relay_args)
        harness_v_fmt(cr->specs[0].label, sizeof cr->specs[0].label, "%s",
                      cr->relay_url ? cr->relay_url : cr->relay_bin);
    for (int k = 0; k < cr->n_specs; k++)
        cr->n_active += !cr->specs[k].skipped[0];
    int uses_bin = !cr->n_relay_args && !cr->relay_url;
    for (int k = 0; k < cr->n_relay_args; k++)
        uses_bin |=
            cr->specs[k].profile && cr->specs[k].profile->config_json && !cr->specs[k].skipped[0];
    if (uses_bin && access(cr->relay_bin, X_OK) != 0) {
        fprintf(stderr, "cutover run: %s: %s (build it with make, or give --relay)\n",
                cr->relay_bin, strerror(errno));
        return CO_EXIT_HARNESS;
    }
    /* Like mkdir -p: `--out out/scorecard` on a fresh clone has no out/ yet. */
    if (harness_mkdirs(cr->out_dir) != 0) {
        fprintf(stderr, "cutover run: %s: %s\n", cr->out_dir, strerror(errno));
        return CO_EXIT_HARNESS;
    }
    /* A format with a default file goes under --out unless named. */
    for (int i = 0; i < REPORT_MAX_WRITERS && report_writers[i].name; i++)
        if (!cr->paths[i] && report_writers[i].default_file) {
            snprintf(cr->path_bufs[i], sizeof cr->path_bufs[i], "%s/%s", cr->out_dir,
                     report_writers[i].default_file);
            cr->paths[i] = cr->path_bufs[i];
        }
    return GO_ON;
}

/* The run's header for the writers, and room for every entry. */
static void run_begin(struct run_cmd *cr)
{
    struct report_run *rr = &cr->rr;
    rr->version = harness_version();
    rr->seed = cr->seed;
    rr->time_scale = cr->scale;
    rr->repeat = (int)cr->repeat;
    rr->out_dir = cr->out_dir;
    memcpy(rr->paths, cr->paths, sizeof rr->paths);
    rr->console = stdout;
    rr->console_tty = isatty(fileno(stdout));
    const char *nc = getenv("NO_COLOR");
    rr->color = !cr->no_color && !(nc && *nc) && isatty(fileno(stdout));
    rr->verbose = cr->verbose;
    rr->total_planned = (size_t)cr->l.n * (size_t)(cr->n_active ? cr->n_active : 1);
    rr->sc = co_calloc((size_t)cr->l.n * (size_t)cr->n_specs + (size_t)cr->n_specs, sizeof *rr->sc);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(rr->started, sizeof rr->started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cr->t_start = co_now_us();
    for (const struct report_writer *w = report_writers; w->name; w++)
        if (w->begin)
            w->begin(rr);
}

/* Every run of every scenario for every relay is one job, in the order a
 * serial run would take them; the pool reports them in that order.  A
 * relay that could not run gets its harness error after the others. */
static void run_matrix(struct run_cmd *cr)
{
    struct report_run *rr = &cr->rr;
    int n_specs = cr->n_specs;
    size_t n_jobs = 0, cap_jobs = (size_t)cr->l.n * (size_t)n_specs * (size_t)cr->repeat;
    struct harness_job *jv = co_calloc(cap_jobs ? cap_jobs : 1, sizeof *jv);
    char(*dirs)[PATH_MAX] = co_calloc((size_t)n_specs, sizeof *dirs);
    for (int sp = 0; sp < n_specs; sp++) {
        const struct relay_spec *spec = &cr->specs[sp];
        if (spec->skipped[0])
            continue;
        /* Several relays: each one's artefacts in a folder of its own. */
        harness_v_fmt(dirs[sp], sizeof dirs[sp], "%s", cr->out_dir);
        if (n_specs > 1) {
            char safe[64];
            report_safe_name(spec->label, safe, sizeof safe);
            harness_v_fmt(dirs[sp], sizeof dirs[sp], "%s/%s", cr->out_dir, safe);
            mkdir(dirs[sp], 0755);
        }
        for (int i = 0; i < cr->l.n; i++)
            for (uint64_t k = 0; k < cr->repeat; k++) {
                struct harness_job *j = &jv[n_jobs++];
                j->s = cr->l.v[i];
                j->exclusive = harness_job_exclusive(cr->l.v[i]);
                j->user = sp;
                j->ro = (struct harness_run_opts){.out_dir = dirs[sp],
                                                  .seed = cr->seed + k,
                                                  .time_scale = cr->scale,
                                                  .relay_cmd = spec->cmd,
                                                  .relay_bin = cr->relay_bin,
                                                  .profile = spec->profile,
                                                  .relay_url = cr->relay_url,
                                                  .blue_port = (int)cr->ports[0],
                                                  .green_port = (int)cr->ports[1],
                                                  .verbose = cr->verbose,
                                                  .run_index = (int)k,
                                                  .replicas = (int)cr->replicas,
                                                  .progress = report_console_progress,
                                                  .progress_ctx = rr};
            }
    }
    struct ready_ctx rc_ = {
        .rr = rr, .specs = cr->specs, .n_specs = n_specs, .repeat = cr->repeat, .jv = jv};
    harness_jobs_run(jv, n_jobs, (int)cr->jobs, on_job_ready, &rc_);
    free(jv);
    free(dirs);
    size_t n_ran = rr->n;
    for (int sp = 0; sp < n_specs; sp++) {
        if (!cr->specs[sp].skipped[0])
            continue;
        add_not_run(rr, &cr->specs[sp]);
        for (const struct report_writer *w = report_writers; w->name; w++)
            if (w->scenario)
                w->scenario(rr, &rr->sc[rr->n - 1], rr->n - 1);
    }
    /* Several relays (or --scorecard): the matrix of scenario by relay. */
    if (n_specs > 1 || cr->scorecard_path) {
        struct harness_scorecard_relay cols[HARNESS_SCORECARD_MAX_RELAYS];
        memset(cols, 0, sizeof cols);
        for (int k = 0; k < n_specs; k++) {
            harness_v_fmt(cols[k].label, sizeof cols[k].label, "%s", cr->specs[k].label);
            snprintf(cols[k].skipped, sizeof cols[k].skipped, "%s", cr->specs[k].skipped);
            cols[k].notes = cr->specs[k].profile ? cr->specs[k].profile->notes : NULL;
        }
        cr->card = harness_scorecard_build(rr->sc, n_ran, cols, n_specs);
        rr->scorecard = cr->card;
        if (!cr->scorecard_path) {
            harness_v_fmt(cr->sc_buf, sizeof cr->sc_buf, "%s/scorecard.md", cr->out_dir);
            cr->scorecard_path = cr->sc_buf;
        }
    }
}

/* The scorecard's Markdown, with the command line that made it, so that
 * docs/scorecard.md can be redone.  Returns 0 or -1. */
static int run_write_scorecard(const struct run_cmd *cr)
{
    char cmdline[2048] = "cutover";
    for (int k = 0; k < cr->argc; k++) {
        size_t len = strlen(cmdline);
        snprintf(cmdline + len, sizeof cmdline - len, " %s", cr->argv[k]);
    }
    FILE *f = fopen(cr->scorecard_path, "w");
    int rc = f && harness_scorecard_md(f, cr->card, cmdline) == 0 ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "cutover run: %s: cannot write the scorecard\n", cr->scorecard_path);
    else
        fprintf(stdout, "scorecard: %s\n", cr->scorecard_path);
    if (f)
        fclose(f);
    return rc;
}

/* Every writer's end (the files), then the scorecard; the exit status of
 * the run, a harness error when a file could not be written. */
static int run_write(struct run_cmd *cr)
{
    struct report_run *rr = &cr->rr;
    rr->duration_s = (double)(co_now_us() - cr->t_start) / 1e6;
    int rc = report_exit_code(rr);
    for (const struct report_writer *w = report_writers; w->name; w++) {
        char err[512];
        if (w->end && w->end(rr, err, sizeof err) != 0) {
            fprintf(stderr, "cutover run: %s\n", err);
            rc = rc ? rc : CO_EXIT_HARNESS;
        }
    }
    if (cr->card && run_write_scorecard(cr) != 0)
        rc = rc ? rc : CO_EXIT_HARNESS;
    return rc;
}

static void run_free(struct run_cmd *cr)
{
    struct report_run *rr = &cr->rr;
    json_decref(cr->card);
    free_specs(cr->specs, cr->n_specs);
    /* Interrupted between repetitions, one entry more holds runs. */
    size_t planned = (size_t)cr->l.n * (size_t)cr->n_specs;
    for (size_t i = 0; rr->sc && i < rr->n + (rr->n < planned); i++)
        report_scenario_clear(&rr->sc[i]);
    free(rr->sc);
    free_loaded(&cr->l);
    free(cr);
}

/* INT, TERM and HUP (a closed terminal, a CI runner's cancel) all stop
 * the run cleanly: the relay is stopped and reaped, never orphaned. */
static void catch_stop_signals(struct sigaction old[3])
{
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
    sigaction(SIGHUP, &sa, &old[2]);
    signal(SIGPIPE, SIG_IGN);
}

static void restore_stop_signals(const struct sigaction old[3])
{
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
    sigaction(SIGHUP, &old[2], NULL);
}

int harness_cmd_run(int argc, char **argv)
{
    struct run_cmd *cr = co_calloc(1, sizeof *cr);
    struct sigaction old[3];
    int rc = run_parse(cr, argc, argv);
    if (rc == GO_ON)
        rc = run_load(cr);
    if (rc == GO_ON)
        rc = run_load_relays(cr);
    if (rc != GO_ON)
        goto out;
    catch_stop_signals(old);
    run_begin(cr);
    run_matrix(cr);
    rc = run_write(cr);
    if (harness_runner_interrupted()) {
        fprintf(stderr, "cutover run: interrupted; %zu of %d scenario(s) ran\n", cr->rr.n, cr->l.n);
        rc = CO_EXIT_HARNESS;
    }
    restore_stop_signals(old);
out:
    run_free(cr);
    return rc;
}

/* A relay profile among validate's paths: a JSON file with a "command" (a
 * scenario has none), or a profile name (relays/NAME.json).  Returns 1 when
 * path was a profile (*bad counts an invalid one), 0 for a scenario path. */
static int validate_profile(const char *arg, int *bad, int *good)
{
    char path[PATH_MAX], err[1024];
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        json_t *doc = co_json_load_file(arg, err, sizeof err);
        int prof = json_is_object(doc) && json_object_get(doc, "command");
        json_decref(doc);
        if (!prof)
            return 0;
        snprintf(path, sizeof path, "%s", arg);
    } else if (stat(arg, &st) != 0 && !harness_profile_find(arg, path, sizeof path)) {
        return 0;
    } else if (stat(arg, &st) == 0) {
        return 0; /* a folder of scenarios */
    }
    struct harness_profile *p = harness_profile_load(path, err, sizeof err);
    if (!p) {
        printf("%s\n", err);
        (*bad)++;
        return 1;
    }
    printf("%s: valid relay profile '%s'\n", path, p->name);
    harness_profile_free(&p);
    (*good)++;
    return 1;
}

/* validate and list take paths and --help only (list also --checks, when
 * checks is not NULL).  Returns -1 to go on with argv[optind...], else the
 * exit status. */
static int paths_only(int argc, char **argv, const char *prog, const char *usage, int *checks)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static const struct option list_opts[] = {
        {"help", no_argument, 0, 'h'}, {"checks", no_argument, 0, 'c'}, {0, 0, 0, 0}};
    const struct option *o = checks ? list_opts : opts;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", o, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return CO_EXIT_PASS;
        }
        if (c == 'c' && checks) {
            *checks = 1;
            continue;
        }
        co_cli_bad_option(stderr, prog, o, c, argc, argv);
        return CO_EXIT_INVALID;
    }
    return -1;
}

/* cutover list --checks: every check kind of the table (harness/checks.c)
 * with its parameters (* required) and what it measures. */
static int list_checks(void)
{
    struct harness_check_info k;
    for (size_t i = 0; harness_check_info(i, &k) == 0; i++) {
        char params[256];
        harness_check_params(i, params, sizeof params);
        printf("%-28s %s\n    %s%s\n", k.name, params[0] ? params : "(no parameters)",
               k.desc ? k.desc : "", k.added ? " (added by the runner)" : "");
    }
    return CO_EXIT_PASS;
}

int harness_cmd_validate(int argc, char **argv)
{
    double scale = 1.0;
    int rc = paths_only(argc, argv, "cutover validate",
                        "usage: cutover validate PATH...   check scenario files and relay "
                        "profiles without running them\n"
                        "  every error of each file is reported (at most 20 per file), each with "
                        "its JSON path\n",
                        NULL);
    if (rc >= 0)
        return rc;
    if (optind >= argc) {
        fprintf(stderr, "cutover validate: expected a scenario file or folder\n"
                        "see `cutover validate --help`\n");
        return CO_EXIT_INVALID;
    }
    /* Relay profiles are validated as strictly as scenarios. */
    int pbad = 0, pgood = 0, ns = 0;
    char **scen = co_calloc((size_t)argc, sizeof *scen);
    for (int i = optind; i < argc; i++)
        if (!validate_profile(argv[i], &pbad, &pgood))
            scen[ns++] = argv[i];
    struct loaded l = {0};
    int bad = ns ? load_all(scen, ns, scale, NULL, &l, 0, stdout) : 0;
    free(scen);
    int n = l.n + pgood;
    free_loaded(&l);
    if (pbad)
        bad = bad > 0 ? bad + pbad : bad < 0 ? bad : pbad;
    if (bad != 0) {
        if (bad > 0)
            printf("%d invalid, %d valid\n", bad, n);
        return CO_EXIT_INVALID;
    }
    printf("%d valid\n", n);
    return CO_EXIT_PASS;
}

int harness_cmd_list(int argc, char **argv)
{
    struct loaded l = {0};
    int checks = 0;
    int rc = paths_only(argc, argv, "cutover list",
                        "usage: cutover list [PATH...]   list scenarios with tags and "
                        "description\n"
                        "       cutover list --checks    list the check kinds with their "
                        "parameters (* required)\n",
                        &checks);
    if (rc >= 0)
        return rc;
    if (checks)
        return list_checks();
    int bad = load_all(argv + optind, argc - optind, 1.0, NULL, &l, 1, stderr);
    for (int i = 0; i < l.n; i++) {
        const struct harness_scenario *s = l.v[i];
        char tags[256], file[2048], desc[4096];
        harness_scenario_tags(s, tags, sizeof tags);
        /* Names and tags are safe by validation; a file name or a
         * description may carry anything, and a terminal reads it. */
        printf("%-48s %-40s [%s]\n    %s\n", co_escape_ctl(s->file, file, sizeof file), s->name,
               tags, co_escape_ctl(s->description, desc, sizeof desc));
    }
    free_loaded(&l);
    return bad ? CO_EXIT_INVALID : CO_EXIT_PASS;
}
