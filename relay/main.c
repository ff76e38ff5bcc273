/* Placeholder until the relay lands. */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "cutover-relay: not built yet\n");
    return 3;
}
