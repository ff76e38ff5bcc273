/* bin/cutover: the scenario runner and its tools.  The subcommands are rows
 * of one table; each parses its own options. */
#include "harness/cli.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
};

static const struct command commands[] = {
    {"run", harness_cmd_run, "run [PATH...] [options]   run scenario files or folders"},
    {"validate", harness_cmd_validate, "validate PATH...          check scenario files"},
    {"list", harness_cmd_list, "list PATH...              list scenarios with tags"},
    {"explore", harness_cmd_explore,
     "explore [options]         generate faults, find and shrink failures"},
    {"mock", mock_cli_main, "mock --name N --port P    run one standalone mock upstream"},
    {"report", report_cli_main, "report RESULTS.json...    render stored results again"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: cutover COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fprintf(out, "\n'cutover COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CO_EXIT_INVALID;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return CO_EXIT_PASS;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            curl_global_init(CURL_GLOBAL_DEFAULT);
            int rc = commands[i].fn(argc - 1, argv + 1);
            curl_global_cleanup();
            return rc;
        }
    }
    fprintf(stderr, "cutover: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CO_EXIT_INVALID;
}
