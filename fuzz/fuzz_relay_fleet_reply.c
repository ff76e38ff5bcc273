/* libFuzzer target: the replies of Redis the relay acts on (--shared).  The
 * relay never parses protocol text itself: hiredis's reader builds the
 * redisReply tree, and relay_fleet reads the tree.  Input: RESP bytes, fed to
 * hiredis's reader as the relay's connection would; every reply it yields
 * goes through both readers of the relay and the adopt rule.
 * Oracle: no crash, overflow or other UB on any reply shape (nested arrays,
 * nils, errors, huge integers, wrong types), no allocation a header merely
 * declares (the fuzzer found `*3333333334` made hiredis's own reader ask
 * for 26 GB: the reader is bounded as the relay's is), and the verdicts stay
 * within their bounds. */
#include "relay/relay_fleet.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *rd = redisReaderCreate();
    if (!rd)
        return 0;
    relay_fleet_reader_bound(rd); /* as the relay's connections are */
    if (redisReaderFeed(rd, (const char *)data, size) != REDIS_OK)
        goto out;
    for (int n = 0; n < 64; n++) {
        void *rep = NULL;
        if (redisReaderGetReply(rd, &rep) != REDIS_OK || !rep)
            break;
        struct relay_rl_verdict v;
        if (relay_fleet_rl_reply(rep, 1000, &v) == 0 && (v.admitted > 1 || v.remaining > 1000))
            abort();
        struct relay_fleet_colour c;
        if (relay_fleet_colour_reply(rep, &c) == 0) {
            if (c.stored && c.active != RELAY_BLUE && c.active != RELAY_GREEN)
                abort();
            relay_fleet_decide(3, RELAY_BLUE, &c);
        }
        freeReplyObject(rep);
    }
out:
    redisReaderFree(rd);
    return 0;
}
