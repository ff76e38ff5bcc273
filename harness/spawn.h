/* How the runner turns a relay command into a process, with no shell between
 * its inputs and the process (docs/profiles.md, "How a relay is started").
 *
 * A command is split into words once, by a small documented rule (blanks
 * separate words; '...' is literal; "..." is literal except \" and \\; a
 * backslash outside quotes takes the next character as it is), and no
 * expansion of any kind happens: no variables, no globs, no $(...).  The
 * {placeholders} are then replaced inside each word, so a value with a space
 * or a '$' stays one argument and is never parsed again.
 *
 * A command that needs a shell says so: a profile with "shell": true, or a
 * raw --relay command with an unquoted shell operator (| ; & < > ` $ ( )
 * or a newline).  It then runs as /bin/sh -c SCRIPT, where every substituted
 * value is single-quoted, under a small supervisor process that stays the
 * process group leader, reaps the group and stops it when the runner dies.
 *
 * Ownership: the argv and strings returned are malloc'd for the caller
 * (harness_argv_free). */
#ifndef HARNESS_SPAWN_H
#define HARNESS_SPAWN_H

#include "harness/profile.h"

#include <stddef.h>
#include <sys/types.h>

#define HARNESS_ARGV_MAX 256

/* Splits cmd into words (see above).  Returns the number of words with a
 * NULL-terminated malloc'd vector in *argv, or -1 with "unterminated '...'
 * quote at column N" in err. */
int harness_argv_split(const char *cmd, char ***argv, char *err, size_t errlen);
void harness_argv_free(char ***argv);

/* The first unquoted shell operator of cmd (its column from 1), or 0 when
 * cmd is a plain command the splitter takes as is.  A command that starts
 * with a shell builtin or reserved word (exec, cd, if...) or a VAR=value
 * assignment needs a shell too: 1. */
size_t harness_cmd_shell_syntax(const char *cmd);
/* Non-zero when a command that needs a shell has only redirections and
 * expansions (no | ; & ( ) or newline, and it does not start with a builtin
 * or reserved word): "exec " in front of it then makes the relay itself the
 * shell's process. */
int harness_cmd_can_exec(const char *cmd);

/* s as one sh word: kept as is when it has only [A-Za-z0-9_./:,=+@%-] (so
 * {port+1} arithmetic still works), else in single quotes with each ' as
 * '\''.  Malloc'd. */
char *harness_sh_quote(const char *s);

/* Renders a command into an argument vector: split, then every word
 * rendered through harness_render (strict 0: unknown placeholders stay as
 * written, as for raw --relay commands).  Returns argc, or -1 with err. */
int harness_argv_render(const char *cmd, const struct harness_vars *v, int strict, char ***argv,
                        char *err, size_t errlen);
/* Renders a shell script: placeholders replaced by harness_sh_quote'd
 * values.  Malloc'd, or NULL with err. */
char *harness_script_render(const char *cmd, const struct harness_vars *v, char *err,
                            size_t errlen);

/* The program argv0 would run, as execvp finds it: itself when it has a
 * '/', else the first executable on PATH.  Returns 0 with the path in out,
 * or -1. */
int harness_which(const char *argv0, char *out, size_t n);
/* "apt-get install nginx-light" for a program we know, else NULL. */
const char *harness_install_hint(const char *program);
/* Why program cannot run, for a person: "nginx is not installed (not on
 * PATH); install it with apt-get install nginx-light", or "... is in
 * /usr/sbin, which is not on PATH". */
void harness_missing_program(const char *program, char *out, size_t n);

struct harness_spawn {
    char *const *argv;  /* argv mode: execvp(argv[0], argv) */
    const char *script; /* shell mode (argv NULL): /bin/sh -c script, supervised */
    const char *out_path, *err_path;
    char *const *env;         /* "NAME=value" to add, NULL-terminated or NULL */
    const char *const *unset; /* variables to remove, NULL-terminated or NULL */
    int stop_signal;          /* what the supervisor sends the group when the runner dies */
    const char *cwd;          /* the folder it runs in (a profile's "cwd"); NULL or "": ours */
    /* argv mode: the parent-death signal (0: SIGTERM, so a relay such as
     * nginx's master ends its own workers).  SIGKILL for a program that may
     * be stopped (SIGSTOP, a "pause" step) when the runner dies: a stopped
     * process keeps a SIGTERM pending, and only the kernel's orphaned-group
     * SIGCONT, which a subreaper or a shared session can withhold, would
     * wake it. */
    int death_signal;
};

/* Forks the relay in a process group of its own, with a parent-death signal
 * (the relay does not outlive the runner, even after SIGKILL), stdin from
 * /dev/null and stdout/stderr into the given files.  Returns the pid (the
 * group id); -1 with "cannot start 'nginx': No such file or directory" in
 * err when exec failed (the child is reaped then). */
pid_t harness_spawn(const struct harness_spawn *s, char *err, size_t errlen);

#endif
