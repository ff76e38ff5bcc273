/* The subcommands of bin/cutover.  Each returns the process exit status
 * (0 pass, 1 check failed, 2 invalid input, 3 harness error, 4 inconclusive;
 * see docs/CONTRACTS.md). */
#ifndef HARNESS_CLI_H
#define HARNESS_CLI_H

#include "co_cli.h" /* CO_EXIT_*, the exit statuses every program shares */

/* "cutover 0.1.0 (git v0.1-12-gabcdef0)": harness/version.c. */
const char *harness_version(void);

int harness_cmd_run(int argc, char **argv);
int harness_cmd_validate(int argc, char **argv);
int harness_cmd_list(int argc, char **argv);
/* Generated fault schedules, shrunk findings: harness/explore_run.c. */
int harness_cmd_explore(int argc, char **argv);

#endif
