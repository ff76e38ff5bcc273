/* The version bin/cutover reports (--version, results.json): the git
 * describe of the checkout it was built from.  The Makefile passes it as
 * CUTOVER_GIT_DESCRIBE to this file alone (and rebuilds it when it changes);
 * a build from a tarball, or one that does not pass it (the fuzz build),
 * says so instead of guessing. */
#include "harness/cli.h"

#ifndef CUTOVER_GIT_DESCRIBE
#define CUTOVER_GIT_DESCRIBE ""
#endif

#define CUTOVER_RELEASE "0.1.0"

const char *harness_version(void)
{
    return CUTOVER_GIT_DESCRIBE[0] ? "cutover " CUTOVER_RELEASE " (git " CUTOVER_GIT_DESCRIBE ")"
                                   : "cutover " CUTOVER_RELEASE " (not built from a git checkout)";
}
