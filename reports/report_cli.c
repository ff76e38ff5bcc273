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

static const char usage[] =
    "usage: cutover report RESULTS.json... [--html FILE] [--md FILE]\n"
    "  renders stored results again; several files are merged, and the HTML\n"
    "  report then opens with a scorecard of scenario by relay\n"
    "  --html FILE   default: report.html next to the results file (one file)\n"
    "                or in the current directory (several)\n"
    "  --md FILE     Markdown summary\n"
    "exit: 0 rendered, 2 unreadable results, 3 a report could not be written\n";

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

int report_cli_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"html", required_argument, 0, 'H'},
        {"md", required_argument, 0, 'M'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *html = NULL, *md = NULL;
    int c, rc = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            html = optarg;
            break;
        case 'M':
            md = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            co_cli_bad_option(stderr, "cutover report", opts, c, argc, argv);
            return 2;
        }
    }
    int n = argc - optind;
    if (n < 1) {
        fputs(usage, stderr);
        return 2;
    }
    json_t *doc = NULL, *all = json_array();
    double duration = 0;
    for (int i = 0; i < n; i++) {
        const char *path = argv[optind + i];
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
        json_t *scs = json_object_get(one, "scenarios");
        if (!one) {
            fprintf(stderr, "cutover report: %s\n", co_escape_ctl(err, safe, sizeof safe));
            rc = 2;
            goto out;
        }
        size_t k;
        json_t *sc;
        json_array_foreach(scs, k, sc)
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
    json_object_set(doc, "scenarios", all);
    json_object_set_new(doc, "duration_s", json_real(duration));
    summarize(doc);

    char html_buf[PATH_MAX];
    if (!html) {
        const char *first = argv[optind], *slash = strrchr(first, '/');
        if (n == 1 && slash)
            snprintf(html_buf, sizeof html_buf, "%.*s/report.html", (int)(slash - first), first);
        else
            snprintf(html_buf, sizeof html_buf, "report.html");
        html = html_buf;
    }
    const struct {
        const char *path;
        int is_md;
    } outs[] = {{html, 0}, {md, 1}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        if (!outs[i].path)
            continue;
        char err[256] = "";
        FILE *f = fopen(outs[i].path, "w");
        if (!f) {
            fprintf(stderr, "cutover report: %s: %s\n", outs[i].path, strerror(errno));
            rc = 3;
            continue;
        }
        int r = outs[i].is_md ? report_md_render(f, doc, html, err, sizeof err)
                              : report_html_render(f, doc, err, sizeof err);
        if (fclose(f) != 0 || r != 0) {
            fprintf(stderr, "cutover report: %s: %s\n", outs[i].path,
                    err[0] ? err : strerror(errno));
            rc = 3;
            continue;
        }
        printf("report: %s\n", outs[i].path);
    }
out:
    json_decref(all);
    json_decref(doc);
    return rc;
}
