/* The I/O half of the fleet's shared state (relay_shared.h says what and
 * why; relay_fleet.c holds the scripts and the decisions).
 *
 * Connection life: start → connecting (AUTH, SELECT, SCRIPT LOAD of both
 * scripts, SUBSCRIBE, then the colour "init") → up.  Any failure on the way
 * or later (a refused connect, a disconnect, an error reply to the set-up,
 * a command unanswered for shared_timeout_ms) takes both connections down
 * and schedules a reconnect with exponential backoff.  Contexts are never
 * freed inside one of their own hiredis callbacks: going down is deferred to
 * a zero-delay timer, which frees them from the loop. */
#include "relay_shared.h"

#include "co_clock.h"
#include "co_log.h"
#include "co_mem.h"
#include "relay.h"
#include "relay_fleet.h"

#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHA_LEN      40
#define MAX_ARGS     8
#define BACKOFF_BASE 100  /* ms, the first reconnect delay */
#define BACKOFF_CAP  2000 /* ms */

enum op_kind {
    OP_SETUP,       /* AUTH, SELECT: only an error matters */
    OP_LOAD_RL,     /* SCRIPT LOAD of the rate-limit script */
    OP_LOAD_COLOUR, /* SCRIPT LOAD of the colour script */
    OP_RL,          /* one request's admission */
    OP_COLOUR,      /* read, init or cas */
};

enum colour_mode { M_READ, M_INIT, M_CAS };
static const char *const mode_names[] = {"read", "init", "cas"};

/* One command in flight; hiredis hands it back to on_reply (with a NULL
 * reply when the context is freed), which frees it. */
struct relay_shared_op {
    struct relay_shared *sh;
    enum op_kind kind;
    enum colour_mode mode;
    struct relay_shared_wait *w; /* OP_RL while its request still waits */
    int evaled;                  /* already resent as EVAL after NOSCRIPT */
    size_t argc;
    char *argv[MAX_ARGS]; /* the script's KEYS and ARGV, for a resend */
};

struct relay_shared {
    struct relay *r;
    struct relay_fleet_url url;
    int fail_open;
    uint64_t timeout_us;
    char prefix[64];
    char colour_key[192], channel[192];
    char replica[64];
    uint64_t seq;
    redisAsyncContext *cmd, *sub;
    int up;
    int down_scheduled;
    unsigned failures; /* consecutive connection failures, for the backoff */
    char sha_rl[SHA_LEN + 1], sha_colour[SHA_LEN + 1];
    uint64_t epoch; /* the fleet epoch our colour belongs to */
    int cas_inflight, cas_again, adopting;
    char cas_reason[32];
    unsigned pending; /* commands in flight on cmd */
    uint64_t progress_us;
    char down_reason[64];
    ev_timer kill, reconnect, poll;
    struct relay_shared_wait *waiting;
    /* Counters (metrics). */
    uint64_t n_shared, n_local, n_refused, n_timeouts, n_down, n_errors;
    uint64_t n_won, n_lost, n_adopted, n_local_switch;
};

static void schedule_down(struct relay_shared *sh, const char *why);
static void send_colour(struct relay_shared *sh, enum colour_mode mode);

/* ---- commands ------------------------------------------------------------ */

static void op_free(struct relay_shared_op *op)
{
    for (size_t i = 0; i < op->argc; i++)
        free(op->argv[i]);
    free(op);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* Sends a command on cmd; the op is owned by hiredis from here (on failure
 * it is freed and the connection scheduled down). */
static int send_argv(struct relay_shared *sh, struct relay_shared_op *op, size_t argc,
                     const char **argv)
{
    size_t lens[MAX_ARGS + 3];
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (!sh->cmd ||
        redisAsyncCommandArgv(sh->cmd, on_reply, op, (int)argc, argv, lens) != REDIS_OK) {
        op_free(op);
        schedule_down(sh, "send failed");
        return -1;
    }
    if (sh->pending++ == 0)
        sh->progress_us = co_now_us();
    return 0;
}

/* EVALSHA of a loaded script, else EVAL with its text. */
static int send_script(struct relay_shared *sh, struct relay_shared_op *op)
{
    const char *argv[MAX_ARGS + 3];
    const char *sha = op->kind == OP_RL ? sh->sha_rl : sh->sha_colour;
    int eval = op->evaled || !sha[0];
    argv[0] = eval ? "EVAL" : "EVALSHA";
    argv[1] = eval ? (op->kind == OP_RL ? relay_fleet_rl_script : relay_fleet_colour_script) : sha;
    argv[2] = "1";
    for (size_t i = 0; i < op->argc; i++)
        argv[3 + i] = op->argv[i];
    return send_argv(sh, op, 3 + op->argc, argv);
}

static struct relay_shared_op *op_new(struct relay_shared *sh, enum op_kind kind, size_t argc,
                                      const char *const *args)
{
    struct relay_shared_op *op = co_calloc(1, sizeof *op);
    op->sh = sh;
    op->kind = kind;
    op->argc = argc;
    for (size_t i = 0; i < argc; i++)
        op->argv[i] = co_strdup(args[i]);
    return op;
}

static void send_plain(struct relay_shared *sh, enum op_kind kind, size_t argc, const char **argv)
{
    send_argv(sh, op_new(sh, kind, 0, NULL), argc, argv);
}

/* ---- events -------------------------------------------------------------- */

static void note_state(struct relay_shared *sh, const char *state, const char *reason)
{
    json_t *f =
        json_pack("{s:s, s:s, s:s, s:I}", "state", state, "fail", sh->fail_open ? "open" : "closed",
                  "replica", sh->replica, "epoch", (json_int_t)sh->epoch);
    if (reason)
        json_object_set_new(f, "reason", json_string(reason));
    relay_events_emit(sh->r->events, "shared", f);
}

static void note_switch(struct relay_shared *sh, const char *outcome, enum relay_env from,
                        enum relay_env to, const char *reason)
{
    json_t *f =
        json_pack("{s:s, s:I, s:s, s:s, s:s}", "outcome", outcome, "epoch", (json_int_t)sh->epoch,
                  "from", relay_env_name(from), "to", relay_env_name(to), "replica", sh->replica);
    if (reason)
        json_object_set_new(f, "reason", json_string(reason));
    relay_events_emit(sh->r->events, "shared_switch", f);
}

/* ---- rate limit ---------------------------------------------------------- */

static enum relay_shared_rl fallback(struct relay_shared *sh)
{
    if (sh->fail_open) {
        sh->n_local++;
        return RELAY_SHARED_LOCAL;
    }
    sh->n_refused++;
    return RELAY_SHARED_UNAVAILABLE;
}

static void unlink_wait(struct relay_shared_wait *w)
{
    struct relay_shared *sh = w->sh;
    ev_timer_stop(sh->r->loop, &w->timer);
    if (w->op)
        w->op->w = NULL;
    w->op = NULL;
    if (w->prev)
        w->prev->next = w->next;
    else
        sh->waiting = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

/* The verdict is in: wake the request up (MHD calls its handler again). */
static void decide(struct relay_shared_wait *w, enum relay_shared_rl outcome,
                   const struct relay_rl_verdict *v)
{
    if (w->state != 1)
        return;
    unlink_wait(w);
    w->state = 2;
    w->outcome = outcome;
    if (v)
        w->v = *v;
    MHD_resume_connection(w->conn);
    co_evhttp_kick(&w->sh->r->http);
}

/* Decides every request still waiting (Redis gone, or the relay exiting). */
static void decide_all(struct relay_shared *sh)
{
    while (sh->waiting) {
        struct relay_shared_wait *w = sh->waiting;
        if (w->state != 1)
            unlink_wait(w); /* never expected: keeps the loop finite */
        else
            decide(w, fallback(sh), NULL);
    }
}

static void on_wait_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct relay_shared_wait *w = t->data;
    struct relay_shared *sh = w->sh;
    sh->n_timeouts++;
    decide(w, fallback(sh), NULL);
    schedule_down(sh, "timeout");
}

enum relay_shared_rl relay_shared_limit(struct relay_shared *sh, struct relay_shared_wait *w,
                                        struct MHD_Connection *c, const char *client,
                                        struct relay_rl_verdict *v)
{
    const struct relay_config *cfg = &sh->r->cfg;
    if (w->state == 2) {
        if (w->outcome == RELAY_SHARED_DECIDED)
            *v = w->v;
        return w->outcome;
    }
    if (w->state == 1)
        return RELAY_SHARED_PENDING;
    char key[512], win[32], lim[32], member[96];
    if (!sh->up || relay_fleet_rl_key(sh->prefix, client, key, sizeof key) != 0)
        return fallback(sh);
    snprintf(win, sizeof win, "%llu", (unsigned long long)cfg->rate_limit_window_ms * 1000ULL);
    snprintf(lim, sizeof lim, "%llu", (unsigned long long)cfg->rate_limit_requests);
    snprintf(member, sizeof member, "%s:%llu", sh->replica, (unsigned long long)++sh->seq);
    const char *args[] = {key, win, lim, member};
    struct relay_shared_op *op = op_new(sh, OP_RL, 4, args);
    op->w = w;
    w->sh = sh;
    w->op = op;
    w->conn = c;
    w->state = 1;
    w->prev = NULL;
    w->next = sh->waiting;
    if (sh->waiting)
        sh->waiting->prev = w;
    sh->waiting = w;
    if (send_script(sh, op) != 0) {
        /* send_argv freed op; the wait is decided here, not suspended. */
        w->op = NULL;
        unlink_wait(w);
        w->state = 2;
        w->outcome = fallback(sh);
        return w->outcome;
    }
    ev_timer_init(&w->timer, on_wait_timeout, (double)sh->timeout_us / 1e6, 0.);
    w->timer.data = w;
    ev_timer_start(sh->r->loop, &w->timer);
    MHD_suspend_connection(c);
    w->r = sh->r;
    sh->r->inflight++;
    w->counted = 1;
    return RELAY_SHARED_PENDING;
}

void relay_shared_wait_release(struct relay_shared_wait *w)
{
    if (w->sh && w->state == 1)
        unlink_wait(w);
    w->state = 0;
    if (w->counted) {
        struct relay *r = w->r;
        w->counted = 0;
        r->inflight--;
        relay_request_ended(r);
    }
}

static void rl_reply(struct relay_shared *sh, struct relay_shared_op *op, const redisReply *rep)
{
    if (!op->w)
        return; /* timed out already: the fallback decided */
    struct relay_rl_verdict v;
    if (relay_fleet_rl_reply(rep, (uint64_t)sh->r->cfg.rate_limit_requests, &v) == 0) {
        sh->n_shared++;
        decide(op->w, RELAY_SHARED_DECIDED, &v);
        return;
    }
    if (rep) {
        sh->n_errors++;
        co_warn("shared: rate-limit script answered %s",
                rep->type == REDIS_REPLY_ERROR ? rep->str : "an unexpected reply");
    }
    decide(op->w, fallback(sh), NULL);
}

/* ---- colour -------------------------------------------------------------- */

static void send_colour(struct relay_shared *sh, enum colour_mode mode)
{
    const struct relay_switch *sw = &sh->r->sw;
    char epoch[32];
    snprintf(epoch, sizeof epoch, "%llu", (unsigned long long)sh->epoch);
    const char *args[] = {sh->colour_key,
                          mode_names[mode],
                          epoch,
                          relay_env_name(sw->active),
                          relay_env_name(sw->previous),
                          mode == M_CAS ? sh->cas_reason : "init",
                          sh->replica,
                          sh->channel};
    struct relay_shared_op *op = op_new(sh, OP_COLOUR, 8, args);
    op->mode = mode;
    if (mode == M_CAS)
        sh->cas_inflight = 1;
    if (send_script(sh, op) != 0 && mode == M_CAS)
        sh->cas_inflight = 0;
}

/* Takes the fleet's epoch, and its colour when ours differs: the switch is
 * recorded as any other (event, metrics) with the reason "shared". */
static void adopt(struct relay_shared *sh, const struct relay_fleet_colour *fc)
{
    struct relay *r = sh->r;
    sh->epoch = fc->epoch;
    if (r->sw.active == fc->active)
        return;
    enum relay_env before = r->sw.active;
    relay_switch_force(&r->sw, fc->active, co_now_us());
    sh->adopting = 1;
    relay_note_switch(r, before, fc->active, "shared", NULL);
    sh->adopting = 0;
    sh->n_adopted++;
    note_switch(sh, "adopted", before, fc->active, NULL);
}

static void became_up(struct relay_shared *sh)
{
    if (sh->up)
        return;
    sh->up = 1;
    sh->failures = 0;
    co_info("shared: connected to redis://%s:%d/%d as %s, epoch %llu", sh->url.host, sh->url.port,
            sh->url.db, sh->replica, (unsigned long long)sh->epoch);
    note_state(sh, "up", NULL);
}

static void colour_reply(struct relay_shared *sh, struct relay_shared_op *op, const redisReply *rep)
{
    struct relay *r = sh->r;
    if (op->mode == M_CAS)
        sh->cas_inflight = 0;
    if (!rep)
        return;
    struct relay_fleet_colour fc;
    if (relay_fleet_colour_reply(rep, &fc) != 0) {
        sh->n_errors++;
        co_warn("shared: colour script answered %s",
                rep->type == REDIS_REPLY_ERROR ? rep->str : "an unexpected reply");
        if (op->mode == M_INIT)
            schedule_down(sh, "colour init failed");
        return;
    }
    if (op->mode == M_CAS) {
        if (fc.wrote) {
            sh->epoch = fc.epoch;
            sh->n_won++;
            note_switch(sh, "won", r->sw.previous, fc.active, sh->cas_reason);
        } else {
            sh->n_lost++;
            note_switch(sh, "lost", r->sw.active, fc.active, sh->cas_reason);
            if (relay_fleet_decide(sh->epoch, r->sw.active, &fc) == RELAY_FLEET_ADOPT)
                adopt(sh, &fc);
        }
        /* We switched again while the proposal was in flight. */
        if (sh->cas_again || r->sw.active != fc.active) {
            sh->cas_again = 0;
            if (r->sw.active != fc.active && sh->up)
                send_colour(sh, M_CAS);
        }
        return;
    }
    if (sh->cas_inflight)
        return; /* our proposal's reply settles it */
    if (fc.wrote) {
        sh->epoch = fc.epoch; /* the store took ours */
    } else {
        switch (relay_fleet_decide(sh->epoch, r->sw.active, &fc)) {
        case RELAY_FLEET_ADOPT:
            adopt(sh, &fc);
            break;
        case RELAY_FLEET_PUSH:
            send_colour(sh, M_INIT);
            break;
        case RELAY_FLEET_KEEP:
            break;
        }
    }
    if (op->mode == M_INIT)
        became_up(sh);
}

void relay_shared_switched(struct relay_shared *sh, enum relay_env from, enum relay_env to,
                           const char *reason)
{
    if (!sh || sh->adopting)
        return;
    snprintf(sh->cas_reason, sizeof sh->cas_reason, "%s", reason);
    if (!sh->up) {
        sh->n_local_switch++;
        note_switch(sh, "local", from, to, reason);
        return;
    }
    if (sh->cas_inflight) {
        sh->cas_again = 1;
        return;
    }
    send_colour(sh, M_CAS);
}

/* ---- replies ------------------------------------------------------------- */

static void load_reply(struct relay_shared *sh, struct relay_shared_op *op, const redisReply *rep)
{
    if (!rep)
        return;
    if (rep->type != REDIS_REPLY_STRING || rep->len != SHA_LEN) {
        sh->n_errors++;
        co_warn("shared: SCRIPT LOAD answered %s",
                rep->type == REDIS_REPLY_ERROR ? rep->str : "an unexpected reply");
        schedule_down(sh, "script load failed");
        return;
    }
    memcpy(op->kind == OP_RL ? sh->sha_rl : sh->sha_colour, rep->str, SHA_LEN + 1);
    /* The colour script is loaded last: the set-up is over, sync. */
    if (op->kind == OP_LOAD_COLOUR)
        send_colour(sh, M_INIT);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct relay_shared_op *op = privdata;
    struct relay_shared *sh = op->sh;
    const redisReply *rep = reply;
    if (ac == sh->cmd) {
        sh->pending--;
        sh->progress_us = co_now_us();
    }
    /* The script cache was flushed (SCRIPT FLUSH): once more with its text,
     * and load it again for the next ones. */
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0 &&
        !op->evaled && ac == sh->cmd && (op->kind == OP_RL || op->kind == OP_COLOUR)) {
        op->evaled = 1;
        struct relay_shared_wait *w = op->w;
        char *sha = op->kind == OP_RL ? sh->sha_rl : sh->sha_colour;
        sha[0] = 0;
        const char *load[] = {"SCRIPT", "LOAD",
                              op->kind == OP_RL ? relay_fleet_rl_script
                                                : relay_fleet_colour_script};
        send_plain(sh, op->kind == OP_RL ? OP_LOAD_RL : OP_LOAD_COLOUR, 3, load);
        if (send_script(sh, op) != 0 && w) { /* op is freed */
            w->op = NULL;
            decide(w, fallback(sh), NULL);
        }
        return;
    }
    switch (op->kind) {
    case OP_SETUP:
        if (rep && rep->type == REDIS_REPLY_ERROR) {
            sh->n_errors++;
            co_warn("shared: set-up command refused: %s", rep->str);
            schedule_down(sh, "set-up refused");
        }
        break;
    case OP_LOAD_RL:
    case OP_LOAD_COLOUR:
        load_reply(sh, op, rep);
        break;
    case OP_RL:
        rl_reply(sh, op, rep);
        break;
    case OP_COLOUR:
        colour_reply(sh, op, rep);
        break;
    }
    op_free(op);
}

/* The subscription's callback: the confirmation, then one call per message.
 * A message says the colour changed: read it (the payload, the new epoch, is
 * not needed, the read returns it). */
static void on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct relay_shared *sh = privdata;
    const redisReply *rep = reply;
    if (!rep || ac != sh->sub)
        return;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
        rep->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(rep->element[0]->str, "message") == 0 && sh->up && !sh->cas_inflight)
        send_colour(sh, M_READ);
}

/* ---- connection ---------------------------------------------------------- */

static void drop(struct relay_shared *sh)
{
    redisAsyncContext *c = sh->cmd, *s = sh->sub;
    sh->cmd = sh->sub = NULL;
    sh->pending = 0;
    sh->sha_rl[0] = sh->sha_colour[0] = 0;
    sh->cas_inflight = sh->cas_again = 0;
    /* Freeing calls every pending callback with a NULL reply: waiting
     * requests get the fallback's verdict now. */
    if (c)
        redisAsyncFree(c);
    if (s)
        redisAsyncFree(s);
}

static void on_kill(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct relay_shared *sh = t->data;
    int was_up = sh->up;
    sh->up = 0;
    sh->down_scheduled = 0;
    drop(sh);
    /* Requests whose command never went out still wait: decide them. */
    decide_all(sh);
    if (was_up || sh->n_down == 0) {
        /* Once per outage (and once when Redis is not there at start). */
        sh->n_down++;
        co_warn("shared: redis://%s:%d unavailable (%s); shared_fail=%s", sh->url.host,
                sh->url.port, sh->down_reason, sh->fail_open ? "open" : "closed");
        note_state(sh, "down", sh->down_reason);
    }
    unsigned n = sh->failures < 5 ? sh->failures : 5;
    double delay = (double)(BACKOFF_BASE << n) / 1000.0;
    if (delay > BACKOFF_CAP / 1000.0)
        delay = BACKOFF_CAP / 1000.0;
    sh->failures++;
    ev_timer_set(&sh->reconnect, delay, 0.);
    ev_timer_start(loop, &sh->reconnect);
}

static void schedule_down(struct relay_shared *sh, const char *why)
{
    if (sh->down_scheduled || ev_is_active(&sh->reconnect))
        return;
    sh->down_scheduled = 1;
    snprintf(sh->down_reason, sizeof sh->down_reason, "%s", why);
    ev_timer_set(&sh->kill, 0., 0.);
    ev_timer_start(sh->r->loop, &sh->kill);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct relay_shared *sh = ac->data;
    if (status == REDIS_OK)
        return;
    /* hiredis frees ac after this callback. */
    if (ac == sh->cmd)
        sh->cmd = NULL;
    if (ac == sh->sub)
        sh->sub = NULL;
    schedule_down(sh, ac->errstr[0] ? ac->errstr : "connect failed");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct relay_shared *sh = ac->data;
    if (ac != sh->cmd && ac != sh->sub)
        return; /* one we freed ourselves */
    if (ac == sh->cmd)
        sh->cmd = NULL;
    else
        sh->sub = NULL;
    schedule_down(sh, status == REDIS_OK ? "disconnected" : "connection lost");
}

static redisAsyncContext *open_ctx(struct relay_shared *sh)
{
    redisAsyncContext *ac = redisAsyncConnect(sh->url.host, sh->url.port);
    if (!ac)
        abort(); /* out of memory */
    ac->data = sh;
    if (ac->err) {
        co_debug("shared: connect: %s", ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    relay_fleet_reader_bound(ac->c.reader);
    redisLibevAttach(sh->r->loop, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

/* Commands queue in hiredis before the connection is made, and Redis runs
 * them in order: AUTH, SELECT, the two loads, then (from the second load's
 * reply) the colour init, whose reply makes us up. */
static void connect_now(struct relay_shared *sh)
{
    sh->cmd = open_ctx(sh);
    sh->sub = sh->cmd ? open_ctx(sh) : NULL;
    if (!sh->cmd || !sh->sub) {
        schedule_down(sh, "connect failed");
        return;
    }
    sh->progress_us = co_now_us();
    if (sh->url.password) {
        const char *auth[] = {"AUTH", sh->url.password};
        send_plain(sh, OP_SETUP, 2, auth);
        size_t lens[] = {4, strlen(sh->url.password)};
        redisAsyncCommandArgv(sh->sub, NULL, NULL, 2, auth, lens);
    }
    if (sh->url.db) {
        char db[16];
        snprintf(db, sizeof db, "%d", sh->url.db);
        const char *sel[] = {"SELECT", db};
        send_plain(sh, OP_SETUP, 2, sel);
    }
    const char *l1[] = {"SCRIPT", "LOAD", relay_fleet_rl_script};
    struct relay_shared_op *op = op_new(sh, OP_LOAD_RL, 0, NULL);
    if (send_argv(sh, op, 3, l1) != 0)
        return;
    const char *l2[] = {"SCRIPT", "LOAD", relay_fleet_colour_script};
    op = op_new(sh, OP_LOAD_COLOUR, 0, NULL);
    if (send_argv(sh, op, 3, l2) != 0)
        return;
    const char *subc[] = {"SUBSCRIBE", sh->channel};
    size_t sl[] = {9, strlen(sh->channel)};
    if (redisAsyncCommandArgv(sh->sub, on_message, sh, 2, subc, sl) != REDIS_OK)
        schedule_down(sh, "subscribe failed");
}

static void on_reconnect(struct ev_loop *loop, ev_timer *t, int revents)
{
    connect_now(t->data);
}

/* Polls the colour (the fallback of a lost message), and notices a stalled
 * Redis (paused, or its host gone) when no request is there to time out. */
static void on_poll(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct relay_shared *sh = t->data;
    uint64_t now = co_now_us();
    if (sh->cmd && sh->pending && now - sh->progress_us > sh->timeout_us) {
        schedule_down(sh, sh->up ? "stalled" : "set-up timeout");
        return;
    }
    if (sh->up && !sh->cas_inflight)
        send_colour(sh, M_READ);
}

/* ---- start and stop ------------------------------------------------------ */

struct relay_shared *relay_shared_start(struct relay *r, char *err, size_t errlen)
{
    const struct relay_config *c = &r->cfg;
    err[0] = 0;
    if (!c->shared || !*c->shared)
        return NULL;
    struct relay_shared *sh = co_calloc(1, sizeof *sh);
    sh->r = r;
    char why[128];
    if (relay_fleet_parse_url(c->shared, &sh->url, why, sizeof why) != 0) {
        snprintf(err, errlen, "shared: expected %s", why);
        goto fail;
    }
    if (sh->url.password)
        co_secret_add(sh->url.password);
    sh->fail_open = relay_fleet_fail_parse(c->shared_fail) != 0;
    sh->timeout_us = (uint64_t)c->shared_timeout_ms * 1000;
    snprintf(sh->prefix, sizeof sh->prefix, "%s", c->shared_prefix ? c->shared_prefix : "");
    if (relay_fleet_colour_key(sh->prefix, sh->colour_key, sizeof sh->colour_key) != 0 ||
        relay_fleet_channel(sh->prefix, sh->channel, sizeof sh->channel) != 0) {
        snprintf(err, errlen, "shared_prefix: expected at most 63 bytes");
        goto fail;
    }
    /* Unique in the fleet: members of the rate-limit sets carry it. */
    snprintf(sh->replica, sizeof sh->replica, "r%d-%08llx", (int)getpid(),
             (unsigned long long)(co_rng_next(&r->rng) & 0xffffffffULL));
    ev_timer_init(&sh->kill, on_kill, 0., 0.);
    sh->kill.data = sh;
    ev_timer_init(&sh->reconnect, on_reconnect, 0., 0.);
    sh->reconnect.data = sh;
    double every = (double)c->shared_poll_ms / 1000.0;
    ev_timer_init(&sh->poll, on_poll, every, every);
    sh->poll.data = sh;
    ev_timer_start(r->loop, &sh->poll);
    connect_now(sh);
    return sh;
fail:
    free(sh->url.password);
    free(sh);
    return NULL;
}

void relay_shared_stop(struct relay_shared **psh)
{
    struct relay_shared *sh = *psh;
    if (!sh)
        return;
    struct ev_loop *loop = sh->r->loop;
    ev_timer_stop(loop, &sh->kill);
    ev_timer_stop(loop, &sh->reconnect);
    ev_timer_stop(loop, &sh->poll);
    drop(sh);
    decide_all(sh);
    free(sh->url.password);
    free(sh);
    *psh = NULL;
}

/* ---- metrics ------------------------------------------------------------- */

json_t *relay_shared_json(const struct relay_shared *sh)
{
    if (!sh)
        return NULL;
    return json_pack("{s:b, s:s, s:s, s:I, s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:{s:I, s:I, s:I, "
                     "s:I}}",
                     "up", sh->up, "fail", sh->fail_open ? "open" : "closed", "replica",
                     sh->replica, "epoch", (json_int_t)sh->epoch, "rate_limit", "shared",
                     (json_int_t)sh->n_shared, "local", (json_int_t)sh->n_local, "refused",
                     (json_int_t)sh->n_refused, "timeouts", (json_int_t)sh->n_timeouts, "down",
                     (json_int_t)sh->n_down, "errors", (json_int_t)sh->n_errors, "switches", "won",
                     (json_int_t)sh->n_won, "lost", (json_int_t)sh->n_lost, "adopted",
                     (json_int_t)sh->n_adopted, "local", (json_int_t)sh->n_local_switch);
}

void relay_shared_prometheus(const struct relay_shared *sh, struct co_buf *out)
{
    if (!sh)
        return;
    co_buf_printf(out,
                  "# HELP cutover_shared_up 1 while the shared store (Redis) is in use\n"
                  "# TYPE cutover_shared_up gauge\ncutover_shared_up %d\n"
                  "# HELP cutover_shared_epoch The fleet colour epoch this replica follows\n"
                  "# TYPE cutover_shared_epoch gauge\ncutover_shared_epoch %llu\n",
                  sh->up, (unsigned long long)sh->epoch);
    co_buf_printf(out,
                  "# HELP cutover_shared_rate_limit_total Rate-limit decisions by where they "
                  "were taken\n"
                  "# TYPE cutover_shared_rate_limit_total counter\n"
                  "cutover_shared_rate_limit_total{source=\"shared\"} %llu\n"
                  "cutover_shared_rate_limit_total{source=\"local\"} %llu\n"
                  "cutover_shared_rate_limit_total{source=\"refused\"} %llu\n",
                  (unsigned long long)sh->n_shared, (unsigned long long)sh->n_local,
                  (unsigned long long)sh->n_refused);
    co_buf_printf(out,
                  "# HELP cutover_shared_timeouts_total Shared-store commands unanswered in "
                  "time\n"
                  "# TYPE cutover_shared_timeouts_total counter\n"
                  "cutover_shared_timeouts_total %llu\n"
                  "# HELP cutover_shared_down_total Times the shared store became unavailable\n"
                  "# TYPE cutover_shared_down_total counter\ncutover_shared_down_total %llu\n"
                  "# HELP cutover_shared_errors_total Error replies from the shared store\n"
                  "# TYPE cutover_shared_errors_total counter\ncutover_shared_errors_total %llu\n",
                  (unsigned long long)sh->n_timeouts, (unsigned long long)sh->n_down,
                  (unsigned long long)sh->n_errors);
    co_buf_printf(out,
                  "# HELP cutover_shared_switches_total Colour switches through the shared "
                  "store by outcome\n"
                  "# TYPE cutover_shared_switches_total counter\n"
                  "cutover_shared_switches_total{outcome=\"won\"} %llu\n"
                  "cutover_shared_switches_total{outcome=\"lost\"} %llu\n"
                  "cutover_shared_switches_total{outcome=\"adopted\"} %llu\n"
                  "cutover_shared_switches_total{outcome=\"local\"} %llu\n",
                  (unsigned long long)sh->n_won, (unsigned long long)sh->n_lost,
                  (unsigned long long)sh->n_adopted, (unsigned long long)sh->n_local_switch);
}
