/* Who listens on a loopback port: the relay the runner started, or some
 * other process that took the port between harness_free_port and the
 * relay's bind (a busy machine hands ephemeral ports out fast).  Without
 * this, the ready probe took a stranger's answer for the relay's, the relay
 * died of "Address already in use", and every check judged the stranger. */
#ifndef HARNESS_PORTOWN_H
#define HARNESS_PORTOWN_H

#include <sys/types.h>

/* 1: a socket listening on TCP port (IPv4 or IPv6) belongs to a process
 * of process group pgid; 0: it belongs to none of them (another process's,
 * or a process we may not look into); -1: no listener found, or /proc
 * cannot be read (no answer either way). */
int harness_port_owner_in_group(int port, pid_t pgid);

#endif
