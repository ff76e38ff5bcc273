/* See co_cli.h.  The nearest option uses co_nearest (edit distance with a
 * limit that grows with the word), the same rule as the scenario keys. */
#include "co_cli.h"

#include "co_json.h"

#include <string.h>

#define CO_CLI_MAX_OPTS 64

const char *co_cli_nearest_option(const char *arg, const struct option *opts)
{
    const char *names[CO_CLI_MAX_OPTS + 1];
    size_t n = 0;
    for (; opts->name && n < CO_CLI_MAX_OPTS; opts++)
        names[n++] = opts->name;
    names[n] = NULL;
    char word[128];
    while (*arg == '-')
        arg++;
    size_t len = strcspn(arg, "=");
    if (len >= sizeof word)
        len = sizeof word - 1;
    memcpy(word, arg, len);
    word[len] = '\0';
    return len ? co_nearest(word, names) : NULL;
}

void co_cli_bad_option(FILE *out, const char *prog, const struct option *opts, int c, int argc,
                       char **argv)
{
    /* getopt_long has already advanced optind past the rejected word (and
     * past a short option's group only at its end). */
    const char *arg = optind - 1 < argc && optind >= 1 ? argv[optind - 1] : "";
    if (c == ':') {
        fprintf(out, "%s: %s: expected a value\n", prog, arg);
    } else if (strncmp(arg, "--", 2) != 0 && optopt) {
        fprintf(out, "%s: unknown option '-%c'\n", prog, optopt);
    } else {
        const char *near = co_cli_nearest_option(arg, opts);
        int len = (int)strcspn(arg, "=");
        fprintf(out, "%s: unknown option '%.*s'%s%s%s\n", prog, len, arg,
                near ? " (did you mean '--" : "", near ? near : "", near ? "'?)" : "");
    }
    fprintf(out, "see `%s --help`\n", prog);
}
