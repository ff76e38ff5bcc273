/* Relay profiles: how to start a relay under test and how to reach it, as a
 * small JSON file under relays/ (docs/profiles.md).  A profile gives the
 * command (with {placeholders}), environment variables, an optional config
 * file template rendered into the scenario's work folder, the readiness
 * probe, which scenario relay settings it can express, and what the relay
 * can tell (an event log, an admin API, or nothing: the checks then use the
 * black-box view alone).
 *
 * A scenario setting the profile cannot express does not fail the checks
 * that depend on it: they become inconclusive (harness_profile_affects).
 *
 * Ownership: harness_profile_load returns a profile freed with
 * harness_profile_free; rendered strings are malloc'd for the caller. */
#ifndef HARNESS_PROFILE_H
#define HARNESS_PROFILE_H

#include "harness/obs.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HARNESS_PROFILE_MAX_ENV      16
#define HARNESS_PROFILE_MAX_SETTINGS 40
#define HARNESS_PROFILE_MAX_VARS     64
/* Most settings a relay cannot be given: every scenario relay key, plus the
 * admin API and the relay process. */
#define HARNESS_MAX_UNMAPPED 32
/* Largest profile or template file read (bytes). */
#define HARNESS_PROFILE_MAX_BYTES (256 * 1024)

enum harness_tells {
    HARNESS_TELLS_EVENTS = 1, /* writes the JSON-lines event log to {events} */
    HARNESS_TELLS_ADMIN = 2,  /* has the admin API (switch, rollback, weights) */
    HARNESS_TELLS_LOG = 4,    /* logs on its stderr (what log_level decides shows there) */
};

struct harness_profile {
    char file[512];
    char name[64];
    char description[512];
    char requires[128]; /* a program that must be on PATH, "" none */
    char *command;      /* with placeholders */
    int shell;          /* "shell": true: run by /bin/sh, values single-quoted (harness/spawn.h) */
    struct {
        char name[64];
        char *value; /* with placeholders */
    } env[HARNESS_PROFILE_MAX_ENV];
    int n_env;
    char config_file[128]; /* name of the rendered config in the work folder, "" none */
    char *config_template; /* its text (from "template" file or "template_lines") */
    int config_json;       /* the config is cutover-relay's JSON: runner defaults + scenario keys */
    char ready_path[128];  /* GET this path; any HTTP answer means ready */
    uint64_t ready_timeout_us;
    int stop_signal;  /* asks the relay to drain and exit (SIGTERM; nginx SIGQUIT, HAProxy SIGUSR1)
                       */
    int all_settings; /* every scenario relay key maps (cutover-relay) */
    char settings[HARNESS_PROFILE_MAX_SETTINGS][40];
    int n_settings;
    json_t *defaults;     /* values of settings when a scenario does not set them */
    int tells;            /* enum harness_tells bits */
    json_t *notes;        /* scenario name -> why it fails against this relay (scorecard) */
    char dir[512];        /* the profile's own folder, absolute: {profile_dir} */
    char *cwd;            /* the command's working folder, with placeholders ({profile_dir}) */
    char req_method[8];   /* the method its clients use ("" the scenario's, POST) */
    char req_path[128];   /* the chat path its clients use ("" the scenario's) */
    char api_key_env[64]; /* an environment variable that gets the upstream key ("" none) */
    /* Settings the relay has and cannot change (relay key -> value): checks
     * judge it against them; a scenario that needs another value is not
     * applicable to this relay (harness_profile_fixed_conflicts). */
    json_t *fixed;
    /* "shared": true: the relay takes a fleet's shared store ({redis_url},
     * or cutover-relay's config key "shared"); false: replicas run unshared. */
    int shared;
    /* "rate_limit_window": how its limiter counts ("sliding", "fixed",
     * "bucket"), "" not said: rate_limit then holds it only to what every
     * kind promises (harness/obs.h rl_kind). */
    char rl_kind[8];
    /* "rate_limit_burst": a bucket's size in requests (0 not said). */
    double rl_burst;
    /* The relay's endpoints for probe steps ("probes": docs/profiles.md):
     * paths, where /health names the active colour and each colour's health,
     * which counters stand for the harness's (harness/probe.h). */
    struct harness_probe_map probes;
};

/* One name -> value pair for rendering. */
struct harness_var {
    char name[40];
    char value[600];
};

struct harness_vars {
    struct harness_var v[HARNESS_PROFILE_MAX_VARS];
    int n;
};

/* Loads and validates a profile file.  Returns NULL with
 * "FILE: $.PATH: expected X, found Y (did you mean 'Z'?)" in err. */
struct harness_profile *harness_profile_load(const char *path, char *err, size_t errlen);
/* The same from a document (borrowed); file names it and anchors relative
 * template paths. */
struct harness_profile *harness_profile_from_json(const json_t *doc, const char *file, char *err,
                                                  size_t errlen);
void harness_profile_free(struct harness_profile **p);

/* Resolves a --relay argument: an existing file, or NAME looked up as
 * relays/NAME.json in the current directory and next to the executable
 * (../relays, ../../relays).  Returns 1 with the path in out, 0 when arg is
 * not a profile (a raw command). */
int harness_profile_find(const char *arg, char *out, size_t n);

/* How a --relay argument is taken (docs/profiles.md): a single word of
 * letters, digits, '-', '_' and '.' is a profile name; a word ending in
 * .json a profile file; anything else (spaces, slashes, placeholders) a raw
 * command.  Returns 1 with the profile path in out; 0 for a raw command;
 * -1 with "unknown profile 'ngnix' (did you mean nginx?)" in err for a
 * name or file that names no profile. */
int harness_profile_resolve(const char *arg, char *out, size_t n, char *err, size_t errlen);

/* Non-zero when the program the profile requires is on PATH (or none is
 * required); else why in err: "nginx is not installed; install it with
 * apt-get install nginx-light". */
int harness_profile_available(const struct harness_profile *p, char *err, size_t errlen);

void harness_vars_set(struct harness_vars *v, const char *name, const char *value);
/* Adds the profile's settings: defaults overridden by the scenario's relay
 * keys the profile maps (relay may be NULL). */
void harness_vars_settings(struct harness_vars *v, const struct harness_profile *p,
                           const json_t *relay);

/* A setting's value as a raw command's placeholder text: a scalar as
 * written, a list as "a,b", an object as "k=v,k2=v2" (cutover-relay's
 * --client-keys and --prices).  Returns 0, or -1 (out "") when it does not fit in n or an
 * item is itself a list. */
int harness_setting_text(const json_t *val, char *out, size_t n);
/* The relay-key placeholders of a raw --relay command (docs/profiles.md):
 * each {key} that cmd names takes the scenario's value (relay), else the
 * runner's placeholder of that name, else the value the runner gives the
 * relay in its config (given, may be NULL).  Returns 0, or -1 with "{key}
 * is relay setting 'key', which this scenario does not set ..." in err, or
 * "unknown placeholder {prot} (did you mean {port}?)" for a near miss of a
 * known name: a relay is never started with a setting's braces left in its
 * command.  Other {words} stay as written (braces of the command's own). */
int harness_vars_raw(struct harness_vars *v, const char *cmd, const json_t *relay,
                     const json_t *given, char *err, size_t errlen);
/* Replaces {name}, {name+N} and {name-N} (integer arithmetic on a numeric
 * value) from vars; a '{' not followed by [a-z0-9_]+ and '}' is literal
 * (nginx and HAProxy configs are full of braces).  Returns a malloc'd string,
 * or NULL with "unknown placeholder {x} (did you mean {y}?)" in err.  With
 * err NULL it never fails: an unknown placeholder stays as written (a raw
 * --relay command line may carry braces of its own). */
char *harness_render(const char *tmpl, const struct harness_vars *v, char *err, size_t errlen);

/* Scenario relay keys the profile cannot express, into out[0..cap) (the
 * names are borrowed from relay, or static); admin_used adds "admin API" when
 * the profile has none.  Returns how many. */
size_t harness_profile_unmapped(const struct harness_profile *p, const json_t *relay,
                                int admin_used, const char **out, size_t cap);
/* Scenario relay keys whose value differs from the profile's "fixed" one,
 * into out[0..cap) (borrowed from relay).  Returns how many: the checks they
 * affect are "not applicable to this relay (KEY is fixed at VALUE)". */
size_t harness_profile_fixed_conflicts(const struct harness_profile *p, const json_t *relay,
                                       const char **out, size_t cap);
/* "max_attempts is fixed at 3" for a fixed key. */
void harness_profile_fixed_why(const struct harness_profile *p, const char *key, char *out,
                               size_t n);
/* Non-zero when a check of kind depends on the relay setting key (its row's
 * settings in harness/checks.c) or key is a premise of every scenario (the
 * "admin API", client keys...): its verdict means nothing when key could not
 * be set. */
int harness_profile_affects(const char *key, const char *check_kind);

#endif
