/* Unit tests for relay_events: a log that cannot be written (/dev/full) is
 * reported at start and its failed writes are counted, never silently
 * lost (issue 20); a working log gets one JSON line per event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay/relay_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_dev_full_is_reported(void **state)
{
    char err[256] = "";
    struct relay_events *ev = relay_events_open("/dev/full", err, sizeof err);
    assert_non_null(ev); /* opening works: only writes fail */
    relay_events_emit(ev, "start", json_pack("{s:i}", "pid", 1));
    assert_int_equal(relay_events_check(ev, err, sizeof err), -1);
    assert_non_null(strstr(err, "/dev/full"));
    assert_int_equal(relay_events_write_errors(ev), 1);
    for (int i = 0; i < 50; i++) {
        relay_events_emit(ev, "request", json_pack("{s:i}", "n", i));
        relay_events_flush(ev);
    }
    assert_int_equal(relay_events_write_errors(ev), 51);
    relay_events_close(&ev);
    assert_null(ev);
}

static void test_working_log(void **state)
{
    char path[64], err[256];
    snprintf(path, sizeof path, "/tmp/relay-events-%d.jsonl", (int)getpid());
    unlink(path);
    struct relay_events *ev = relay_events_open(path, err, sizeof err);
    assert_non_null(ev);
    relay_events_emit(ev, "start", json_pack("{s:i}", "pid", 1));
    relay_events_emit(ev, "stop", NULL);
    assert_int_equal(relay_events_check(ev, err, sizeof err), 0);
    assert_int_equal(relay_events_write_errors(ev), 0);
    assert_int_equal(relay_events_write_errors(NULL), 0);
    relay_events_close(&ev);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        json_decref(j);
        n++;
    }
    fclose(f);
    unlink(path);
    assert_int_equal(n, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dev_full_is_reported),
        cmocka_unit_test(test_working_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
