/* Command-line errors that help: one line naming the bad option and the
 * nearest known one, then where the whole usage is, instead of the whole
 * usage page.  Shared by every subcommand of bin/cutover (harness, mocks and
 * reports each parse their own options with getopt_long). */
#ifndef CO_CLI_H
#define CO_CLI_H

/* The exit statuses of bin/cutover and its subcommands, the mock's CLI
 * included (docs/CONTRACTS.md): 0 pass, 1 a check failed, 2 invalid input,
 * 3 harness error, 4 inconclusive.  Here, in common/, so that mocks/ needs
 * nothing of the harness for them. */
enum {
    CO_EXIT_PASS = 0,
    CO_EXIT_FAIL = 1,
    CO_EXIT_INVALID = 2,
    CO_EXIT_HARNESS = 3,
    CO_EXIT_INCONCLUSIVE = 4,
};

#include <getopt.h>
#include <stdio.h>

/* Call with what getopt_long returned ('?' or ':', with opterr = 0 and an
 * optstring that starts with ':') when it rejected argv[optind - 1].
 * Prints "PROG: unknown option '--seeed' (did you mean '--seed'?)" or
 * "PROG: --seed: expected a value", then "see `PROG --help`", to out.
 * prog is e.g. "cutover run". */
void co_cli_bad_option(FILE *out, const char *prog, const struct option *opts, int c, int argc,
                       char **argv);

/* The long option (without "--") nearest to arg (which may carry "--" and
 * "=VALUE"), or NULL when none is close. */
const char *co_cli_nearest_option(const char *arg, const struct option *opts);

#endif
