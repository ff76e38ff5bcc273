/* cutover report RESULTS.json... [--html FILE] [--md FILE]: renders stored
 * runs again, without running anything.  With several results files (the
 * same scenarios run against different relays with --relay), their
 * scenarios are merged into one document and the HTML report opens with the
 * scorecard matrix, scenario by relay.
 *
 * Each scenario's artefacts are read from its out_dir as recorded; a
 * relative out_dir that does not resolve from the current directory is
 * tried against the results file's own folder (results.json sits in the
 * run's --out, and out_dir starts with that --out). */
#include "co_cli.h"
#include "reports/report.h"

#include "co_json.h"
#include "co_log.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The usage page: the formats' options come from the writers' table. */
static void usage(FILE *f)
{
    fputs("usage: cutover report RESULTS.json...", f);
    for (const struct report_writer *w = report_writers; w->name; w++)
        if (w->option && w->render)
            fprintf(f, " [--%s FILE]", w->option);
    fputs("\n  renders stored results again; several files are merged, and the HTML\n"
          "  report then opens with a scorecard of scenario by relay\n",
          f);
    report_usage_options(f, 15, 1);
    fputs("exit: 0 rendered, 2 unreadable results, 3 a report could not be written\n", f);
}

static void fix_out_dir(json_t *sc, const char *results_path)
{
    const char *dir = json_string_value(json_object_get(sc, "out_dir"));
    if (!dir || !*dir || dir[0] == '/' || access(dir, R_OK) == 0)
        return;
    const char *slash = strrchr(results_path, '/');
    const char *rest = strchr(dir, '/');
    if (!rest)
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%.*s%s", slash ? (int)(slash - results_path) : 1,
             slash ? results_path : ".", rest);
    if (access(path, R_OK) == 0)
        json_object_set_new(sc, "out_dir", json_string(path));
}

/* The summary block and exit code of a merged document, as
 * report_json_build computes them for a run. */
static void summarize(json_t *doc)
{
    static const char *const keys[] = {"passed", "failed",  "inconclusive",
                                       "errors", "invalid", "not_applicable"};
    json_int_t counts[REPORT_N_STATUS] = {0}, flaky = 0;
    size_t i;
    json_t *sc;
    json_array_foreach(json_object_get(doc, "scenarios"), i, sc)
    {
        const char *st = json_string_value(json_object_get(sc, "status"));
        for (int k = 0; k < REPORT_N_STATUS; k++)
            if (st && strcmp(st, report_status_name(k)) == 0)
                counts[k]++;
        flaky += json_is_true(json_object_get(sc, "flaky"));
    }
    json_t *sum = json_object();
    json_object_set_new(
        sum, "total", json_integer((json_int_t)json_array_size(json_object_get(doc, "scenarios"))));
    for (int k = 0; k < REPORT_N_STATUS; k++)
        json_object_set_new(sum, keys[k], json_integer(counts[k]));
    json_object_set_new(sum, "flaky", json_integer(flaky));
    json_object_set_new(doc, "summary", sum);
    json_int_t total = (json_int_t)json_array_size(json_object_get(doc, "scenarios"));
    int code = counts[1]                                            ? 1
               : counts[4]                                          ? 2
               : counts[3]                                          ? 3
               : counts[2] || (total && counts[REPORT_NA] == total) ? 4
                                                                    : 0;
    json_object_set_new(doc, "exit_code", json_integer(code));
}

/* getopt values of the formats' options: OPT_FORMAT + the writer's row. */
#define OPT_FORMAT 0x100

/* --help, and --OPTION FILE for every format that renders from results,
 * into paths.  Returns -1 to go on with argv[optind...], else the exit status. */
static int parse(int argc, char **argv, struct report_run *paths)
{
    struct option opts[REPORT_MAX_WRITERS + 2];
    size_t no = 0;
    opts[no++] = (struct option){"help", no_argument, 0, 'h'};
    for (int i = 0; i < REPORT_MAX_WRITERS && report_writers[i].name; i++)
        if (report_writers[i].option && report_writers[i].render)
            opts[no++] =
                (struct option){report_writers[i].option, required_argument, 0, OPT_FORMAT + i};
    opts[no] = (struct option){0, 0, 0, 0};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c >= OPT_FORMAT && c < OPT_FORMAT + REPORT_MAX_WRITERS) {
            paths->paths[c - OPT_FORMAT] = optarg;
            continue;
        }
        co_cli_bad_option(stderr, "cutover report", opts, c, argc, argv);
        return 2;
    }
    if (argc - optind < 1) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* The n results files merged into one document (new reference), or NULL
 * after saying why. */
static json_t *merge(char **files, int n)
{
    json_t *doc = NULL, *all = json_array();
    double duration = 0;
    for (int i = 0; i < n; i++) {
        const char *path = files[i];
        char err[1024], why[768], safe[2048];
        /* A regular file of bounded size (a FIFO must not hang us), and
         * every value checked before a writer reads it: the file may have
         * been edited by anyone. */
        json_t *one = co_json_load_file(path, err, sizeof err);
        if (one && report_results_check(one, why, sizeof why) != 0) {
            snprintf(err, sizeof err, "%s: %s", path, why);
            json_decref(one);
            one = NULL;
        }
        if (!one) {
            fprintf(stderr, "cutover report: %s\n", co_escape_ctl(err, safe, sizeof safe));
            json_decref(all);
            json_decref(doc);
            return NULL;
        }
        size_t k;
        json_t *sc;
        json_array_foreach(json_object_get(one, "scenarios"), k, sc)
        {
            fix_out_dir(sc, path);
            /* Runs of unknown relay are told apart by their file. */
            if (!json_string_value(json_object_get(sc, "relay")) && n > 1)
                json_object_set_new(sc, "relay", json_string(path));
            json_array_append(all, sc);
        }
        duration += json_number_value(json_object_get(one, "duration_s"));
        if (!doc)
            doc = json_deep_copy(one);
        json_decref(one);
    }
    json_object_set_new(doc, "scenarios", all);
    json_object_set_new(doc, "duration_s", json_real(duration));
    summarize(doc);
    return doc;
}

/* Every format asked for, or written unasked (a default file: next to the
 * one results file, or in the current directory for several).  Returns 0,
 * or 3 when one could not be written. */
static int render_all(const json_t *doc, struct report_run *paths, const char *first, int n)
{
    char bufs[REPORT_MAX_WRITERS][PATH_MAX];
    const char *slash = strrchr(first, '/');
    int rc = 0;
    for (int i = 0; i < REPORT_MAX_WRITERS && report_writers[i].name; i++) {
        const struct report_writer *w = &report_writers[i];
        if (!w->render || paths->paths[i] || !w->default_file)
            continue;
        if (n == 1 && slash)
            snprintf(bufs[i], sizeof bufs[i], "%.*s/%s", (int)(slash - first), first,
                     w->default_file);
        else
            snprintf(bufs[i], sizeof bufs[i], "%s", w->default_file);
        paths->paths[i] = bufs[i];
    }
    for (int i = 0; i < REPORT_MAX_WRITERS && report_writers[i].name; i++) {
        const char *path = paths->paths[i];
        if (!path || !report_writers[i].render)
            continue;
        char err[256] = "";
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "cutover report: %s: %s\n", path, strerror(errno));
            rc = 3;
            continue;
        }
        int r = report_writers[i].render(f, doc, paths, err, sizeof err);
        if (fclose(f) != 0 || r != 0) {
            fprintf(stderr, "cutover report: %s: %s\n", path, err[0] ? err : strerror(errno));
            rc = 3;
            continue;
        }
        printf("report: %s\n", path);
    }
    return rc;
}

int report_cli_main(int argc, char **argv)
{
    struct report_run paths = {0};
    int rc = parse(argc, argv, &paths);
    if (rc >= 0)
        return rc;
    int n = argc - optind;
    json_t *doc = merge(argv + optind, n);
    if (!doc)
        return 2;
    rc = render_all(doc, &paths, argv[optind], n);
    json_decref(doc);
    return rc;
}
