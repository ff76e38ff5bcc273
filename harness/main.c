/* bin/cutover: the scenario runner and its tools.  The subcommands are rows
 * of one table; each parses its own options.  `cutover help [CMD]` and
 * `cutover --version` are answered here; a mistyped command gets one line
 * with the nearest command, not the whole page. */
#include "harness/cli.h"
#include "mocks/mock.h"
#include "reports/report.h"

#include "co_json.h"

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
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: cutover COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fprintf(out, "  help [COMMAND]            this page, or a command's options\n"
                 "  --version                 the version (git describe of the build)\n"
                 "\n'cutover help COMMAND' (or 'cutover COMMAND --help') describes a command's "
                 "options.\n");
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

/* "cutover: unknown command 'rn' (did you mean 'run'?)" and where to look. */
static int unknown_command(const char *name)
{
    const char *names[N_COMMANDS + 2];
    for (size_t i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    names[N_COMMANDS] = "help";
    names[N_COMMANDS + 1] = NULL;
    const char *near = co_nearest(name, names);
    fprintf(stderr, "cutover: unknown command '%s'%s%s%s\nsee `cutover help`\n", name,
            near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    return CO_EXIT_INVALID;
}

static int run_command(const struct command *cmd, int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmd->fn(argc, argv);
    curl_global_cleanup();
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CO_EXIT_INVALID;
    }
    const char *a = argv[1];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || (strcmp(a, "help") == 0 && argc == 2)) {
        usage(stdout);
        return CO_EXIT_PASS;
    }
    if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
        printf("%s\n", harness_version());
        return CO_EXIT_PASS;
    }
    if (strcmp(a, "help") == 0) {
        if (argc > 3) {
            fprintf(stderr,
                    "cutover help: expected one command, found %d words\n"
                    "see `cutover help`\n",
                    argc - 2);
            return CO_EXIT_INVALID;
        }
        const struct command *cmd = find_command(argv[2]);
        if (!cmd)
            return unknown_command(argv[2]);
        char *hargv[] = {argv[2], "--help", NULL};
        return run_command(cmd, 2, hargv);
    }
    if (a[0] == '-') {
        fprintf(stderr, "cutover: expected a command before '%s'\nsee `cutover help`\n", a);
        return CO_EXIT_INVALID;
    }
    const struct command *cmd = find_command(a);
    if (!cmd)
        return unknown_command(a);
    return run_command(cmd, argc - 1, argv + 1);
}
