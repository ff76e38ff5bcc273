/* A real limiter for the mock, as an upstream provider runs one: a sliding
 * log of admissions for requests per window and of token spends for tokens
 * per minute.  Pure: the caller passes the clock, so a unit test steps time.
 * Memory is bounded by the request limit and by a fixed token-log size (past
 * it, spends that arrive together are merged into the newest entry). */
#include "mock_int.h"

#include "co_mem.h"

#include <stdlib.h>
#include <string.h>

#define TOK_LOG_CAP 65536
#define MINUTE_US   60000000ULL

void mock_rl_init(struct mock_rl *rl, long requests, long window_ms, long tpm)
{
    memset(rl, 0, sizeof *rl);
    rl->requests = requests;
    rl->window_ms = window_ms > 0 ? window_ms : 60000;
    rl->tpm = tpm;
    if (requests > 0)
        rl->req_t = co_calloc((size_t)requests, sizeof *rl->req_t);
    if (tpm > 0) {
        rl->tok_cap = TOK_LOG_CAP;
        rl->tok = co_calloc(rl->tok_cap, sizeof *rl->tok);
    }
}

void mock_rl_free(struct mock_rl *rl)
{
    free(rl->req_t);
    free(rl->tok);
    memset(rl, 0, sizeof *rl);
}

static uint64_t ceil_ms(uint64_t us)
{
    return (us + 999) / 1000;
}

void mock_rl_admit(struct mock_rl *rl, uint64_t now, long tokens, struct mock_rl_verdict *v)
{
    uint64_t win = (uint64_t)rl->window_ms * 1000;
    memset(v, 0, sizeof *v);
    v->admitted = 1;
    v->limit_requests = rl->requests;
    v->limit_tokens = rl->tpm;
    /* Forget what left the windows. */
    while (rl->req_n && rl->req_t[rl->req_head] + win <= now) {
        rl->req_head = (rl->req_head + 1) % (size_t)rl->requests;
        rl->req_n--;
    }
    while (rl->tok_n && rl->tok[rl->tok_head].t + MINUTE_US <= now) {
        rl->tok_sum -= rl->tok[rl->tok_head].tokens;
        rl->tok_head = (rl->tok_head + 1) % rl->tok_cap;
        rl->tok_n--;
    }
    uint64_t retry = 0;
    if (rl->requests > 0 && rl->req_n >= (size_t)rl->requests) {
        v->admitted = 0;
        retry = rl->req_t[rl->req_head] + win - now;
    }
    if (rl->tpm > 0 && rl->tok_sum + tokens > rl->tpm) {
        v->admitted = 0;
        /* Wait until enough of the oldest spends leave the minute. */
        long freed = 0;
        uint64_t t = MINUTE_US;
        for (size_t i = 0; i < rl->tok_n; i++) {
            size_t k = (rl->tok_head + i) % rl->tok_cap;
            freed += rl->tok[k].tokens;
            t = rl->tok[k].t + MINUTE_US - now;
            if (rl->tok_sum - freed + tokens <= rl->tpm)
                break;
        }
        if (t > retry)
            retry = t;
    }
    if (v->admitted) {
        if (rl->requests > 0) {
            rl->req_t[(rl->req_head + rl->req_n) % (size_t)rl->requests] = now;
            rl->req_n++;
        }
        if (rl->tpm > 0) {
            if (rl->tok_n == rl->tok_cap) {
                rl->tok[(rl->tok_head + rl->tok_n - 1) % rl->tok_cap].tokens += tokens;
            } else {
                size_t k = (rl->tok_head + rl->tok_n) % rl->tok_cap;
                rl->tok[k].t = now;
                rl->tok[k].tokens = tokens;
                rl->tok_n++;
            }
            rl->tok_sum += tokens;
        }
    }
    v->retry_after_ms = v->admitted ? 0 : ceil_ms(retry);
    if (rl->requests > 0) {
        v->remaining_requests = rl->requests - (long)rl->req_n;
        /* Until the limit is back to its initial state: the newest admission leaves. */
        if (rl->req_n) {
            size_t newest = (rl->req_head + rl->req_n - 1) % (size_t)rl->requests;
            v->reset_requests_ms = ceil_ms(rl->req_t[newest] + win - now);
        }
    }
    if (rl->tpm > 0) {
        v->remaining_tokens = rl->tpm - rl->tok_sum;
        if (v->remaining_tokens < 0)
            v->remaining_tokens = 0;
        if (rl->tok_n) {
            size_t newest = (rl->tok_head + rl->tok_n - 1) % rl->tok_cap;
            v->reset_tokens_ms = ceil_ms(rl->tok[newest].t + MINUTE_US - now);
        }
    }
}
