/* bin/cutover-relay: the blue-green failover relay.  Configuration:
 * relay_config.h; behaviour: docs/relay.md. */
#include "relay/relay.h"

#include "co_log.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv)
{
    static struct relay r;
    char err[16384]; /* --help: a line per key */
    int rc = relay_config_load(&r.cfg, argc, argv, environ, err, sizeof err);
    if (rc == 1) {
        fputs(err, stdout);
        relay_config_free(&r.cfg);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "cutover-relay: %s\n", err);
        relay_config_free(&r.cfg);
        return 2;
    }
    co_log_init("cutover-relay", (enum co_log_level)co_log_level_parse(r.cfg.log_level), stderr);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = relay_run(&r, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "cutover-relay: %s\n", err);
    relay_config_free(&r.cfg);
    curl_global_cleanup();
    return rc;
}
