/* Placeholder until the mock lands. */
#include "harness/cli.h"

#include <stdio.h>

int mock_cli_main(int argc, char **argv)
{
    fprintf(stderr, "cutover mock: not built yet\n");
    return CO_EXIT_HARNESS;
}
