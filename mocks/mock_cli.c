/* `cutover mock`: one standalone mock upstream on its own libev loop.  It
 * prints exactly one line, "mock NAME listening on http://127.0.0.1:PORT",
 * once it accepts connections (and, without --port, says on stderr that it
 * picked that port), and exits 0 on SIGINT or SIGTERM. */
#include "mock.h"

#include "co_cli.h"
#include "co_json.h"
#include "co_log.h"

#include <ev.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

/* More workers than cores only adds lock hand-offs; the bound keeps a typo
 * from starting thousands of threads. */
#define MOCK_CLI_MAX_THREADS 64

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cutover mock [--name NAME] [--port N] [--behavior FILE] [--seed N]\n"
            "                    [--journal-cap N] [--upstream URL] [--key-env VAR]\n"
            "                    [--threads N] [--log-level LEVEL]\n"
            "  --name NAME        colour recorded in the journal (default blue)\n"
            "  --port N           port on 127.0.0.1; 0 picks a free one (default 0)\n"
            "  --behavior FILE    initial behaviour JSON (docs/CONTRACTS.md)\n"
            "  --seed N           seeds every random decision (default 1)\n"
            "  --journal-cap N    journal records kept (default 100000)\n"
            "  --upstream URL     proxy mode: forward what no rule claims to URL\n"
            "                     (the request path is appended: http://host:port)\n"
            "  --key-env VAR      the upstream key the relay was given, read from the\n"
            "                     environment variable VAR (never the command line):\n"
            "                     the journal's key says configured / other / missing\n"
            "  --threads N        worker threads, 1..%d (default 1): each its own event\n"
            "                     loop and HTTP daemon on the port; decisions and the\n"
            "                     journal stay one shared, ordered state\n",
            MOCK_CLI_MAX_THREADS);
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    /* Digits only: strtoull skips blanks, takes "-1" as 2^64 - 1 and
     * saturates on overflow. */
    if (!s || !(*s >= '0' && *s <= '9'))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 16)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-'))
            return 0;
    return 1;
}

int mock_cli_main(int argc, char **argv)
{
    static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"behavior", required_argument, NULL, 'b'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"journal-cap", required_argument, NULL, 'j'},
                                         {"log-level", required_argument, NULL, 'l'},
                                         {"upstream", required_argument, NULL, 'u'},
                                         {"key-env", required_argument, NULL, 'k'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct mock_opts mo = {.name = "blue", .seed = 1};
    const char *behavior = NULL;
    unsigned long long v;
    int level = CO_LOG_INFO, c;
    char err[512];
    int port_given = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            /* The name is stamped into every answer (completion id,
             * system_fingerprint, X-Served-By): letters, digits and '-' only,
             * so no answer can be broken by it. */
            if (!name_ok(optarg)) {
                fprintf(stderr,
                        "cutover mock: --name: expected 1..16 letters, digits or '-', found '%s'\n",
                        optarg);
                return CO_EXIT_INVALID;
            }
            mo.name = optarg;
            break;
        case 'p':
            if (parse_u64(optarg, 65535, &v)) {
                fprintf(stderr, "cutover mock: --port: expected 0..65535, found '%s'\n", optarg);
                return CO_EXIT_INVALID;
            }
            mo.port = (uint16_t)v;
            port_given = v != 0;
            break;
        case 'b':
            behavior = optarg;
            break;
        case 's':
            if (parse_u64(optarg, ~0ULL, &v)) {
                fprintf(stderr, "cutover mock: --seed: expected an integer, found '%s'\n", optarg);
                return CO_EXIT_INVALID;
            }
            mo.seed = v;
            break;
        case 'j':
            if (parse_u64(optarg, 100000000ULL, &v) || v == 0) {
                fprintf(stderr, "cutover mock: --journal-cap: expected 1..100000000, found '%s'\n",
                        optarg);
                return CO_EXIT_INVALID;
            }
            mo.journal_cap = (size_t)v;
            break;
        case 'l':
            if ((level = co_log_level_parse(optarg)) < 0) {
                fprintf(stderr, "cutover mock: --log-level: expected debug|info|warn|error\n");
                return CO_EXIT_INVALID;
            }
            break;
        case 'u':
            mo.upstream_url = optarg;
            break;
        case 'k':
            /* The key itself never goes on a command line (ps shows it). */
            mo.api_key = getenv(optarg);
            if (!mo.api_key || !mo.api_key[0]) {
                fprintf(stderr, "cutover mock: --key-env: the environment variable '%s' is %s\n",
                        optarg, mo.api_key ? "empty" : "not set");
                return CO_EXIT_INVALID;
            }
            break;
        case 't':
            if (parse_u64(optarg, MOCK_CLI_MAX_THREADS, &v) || v == 0) {
                fprintf(stderr, "cutover mock: --threads: expected 1..%d, found '%s'\n",
                        MOCK_CLI_MAX_THREADS, optarg);
                return CO_EXIT_INVALID;
            }
            mo.threads = (unsigned)v;
            break;
        case 'h':
            usage(stdout);
            return CO_EXIT_PASS;
        default:
            co_cli_bad_option(stderr, "cutover mock", opts, c, argc, argv);
            return CO_EXIT_INVALID;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cutover mock: unexpected argument '%s'\nsee `cutover mock --help`\n",
                argv[optind]);
        return CO_EXIT_INVALID;
    }
    co_log_init("mock", (enum co_log_level)level, stderr);
    signal(SIGPIPE, SIG_IGN);
    json_t *b = NULL;
    if (behavior && !(b = co_json_load_file(behavior, err, sizeof err))) {
        fprintf(stderr, "cutover mock: %s\n", err);
        return CO_EXIT_INVALID;
    }
    if (b && mock_behavior_validate(b, err, sizeof err) != 0) {
        fprintf(stderr, "cutover mock: %s: %s\n", behavior, err);
        json_decref(b);
        return CO_EXIT_INVALID;
    }
    struct ev_loop *loop = ev_default_loop(0);
    struct mock *m = mock_new(loop, &mo, err, sizeof err);
    if (!m) {
        fprintf(stderr, "cutover mock: %s\n", err);
        json_decref(b);
        return CO_EXIT_HARNESS;
    }
    if (b)
        mock_set_behavior(m, b, err, sizeof err);
    json_decref(b);
    ev_signal sint, sterm;
    ev_signal_init(&sint, on_signal, SIGINT);
    ev_signal_init(&sterm, on_signal, SIGTERM);
    ev_signal_start(loop, &sint);
    ev_signal_start(loop, &sterm);
    printf("mock %s listening on %s\n", mo.name, mock_url(m));
    fflush(stdout);
    /* stdout keeps its one line (scripts read it); the note goes to stderr. */
    if (!port_given)
        fprintf(stderr, "cutover mock: no --port given, so it picked a free port: %s\n",
                mock_url(m));
    ev_run(loop, 0);
    ev_signal_stop(loop, &sint);
    ev_signal_stop(loop, &sterm);
    mock_free(&m);
    return CO_EXIT_PASS;
}
