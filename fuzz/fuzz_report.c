/* libFuzzer target: `cutover report`'s input.  Arbitrary bytes are read as
 * a results.json exactly as reports/report_cli.c reads one: parsed, checked
 * by report_results_check, and when accepted rendered as HTML and Markdown
 * (into /dev/null).  Oracle: no crash, no sanitizer report, no leak; a
 * refused document says why; an accepted one renders without error. */
#include "co_json.h"
#include "reports/report.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink && !(sink = fopen("/dev/null", "w")))
        abort();
    char err[1024] = "";
    json_t *doc = co_json_loadb((const char *)data, size, "fuzz", err, sizeof err);
    if (!doc) {
        if (!err[0])
            abort(); /* a refusal must say why */
        return 0;
    }
    if (report_results_check(doc, err, sizeof err) != 0) {
        if (!err[0])
            abort();
        json_decref(doc);
        return 0;
    }
    /* Artefacts are read from each scenario's out_dir: keep the fuzzer off
     * the real file system (a tampered out_dir is a separate question). */
    size_t i;
    json_t *sc;
    json_array_foreach(json_object_get(doc, "scenarios"), i, sc) json_object_del(sc, "out_dir");
    err[0] = '\0';
    if (report_html_render(sink, doc, err, sizeof err) != 0 ||
        report_md_render(sink, doc, "report.html", err, sizeof err) != 0)
        abort(); /* a document that passed the check must render */
    json_decref(doc);
    return 0;
}
