/* Placeholder subcommands until the runner lands (issue: the scenario
 * runner).  They fail loudly with the harness-error status. */
#include "harness/cli.h"

#include <stdio.h>

static int not_yet(const char *what)
{
    fprintf(stderr, "cutover %s: not built yet\n", what);
    return CO_EXIT_HARNESS;
}

int harness_cmd_run(int argc, char **argv)
{
    return not_yet("run");
}

int harness_cmd_validate(int argc, char **argv)
{
    return not_yet("validate");
}

int harness_cmd_list(int argc, char **argv)
{
    return not_yet("list");
}
