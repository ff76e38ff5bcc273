/* Linux /proc: the inode of each socket listening on the port
 * (/proc/net/tcp, tcp6), then the fds of every process in the group. */
#include "harness/portown.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_INODES 8

/* Inodes of the sockets listening (state 0A) on port in one table. */
static size_t listen_inodes(const char *table, int port, unsigned long *ino, size_t n, size_t cap)
{
    FILE *f = fopen(table, "r");
    if (!f)
        return n;
    char line[512];
    if (!fgets(line, sizeof line, f)) { /* the header */
        fclose(f);
        return n;
    }
    while (n < cap && fgets(line, sizeof line, f)) {
        char local[64], remote[64], st[8];
        unsigned long inode;
        /* sl local rem st tx:rx tr:tm retrnsmt uid timeout inode */
        if (sscanf(line, "%*s %63s %63s %7s %*s %*s %*s %*s %*s %lu", local, remote, st, &inode) !=
            4)
            continue;
        char *colon = strrchr(local, ':');
        if (!colon || strcmp(st, "0A") != 0)
            continue;
        if ((int)strtol(colon + 1, NULL, 16) == port && inode)
            ino[n++] = inode;
    }
    fclose(f);
    return n;
}

/* The process group of pid, -1 unknown (field 5 of /proc/PID/stat, after
 * the command name in parentheses, which may hold anything). */
static pid_t pgid_of(const char *pid)
{
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int pgrp;
    if (!p || sscanf(p + 1, " %*c %*d %d", &pgrp) != 1)
        return -1;
    return (pid_t)pgrp;
}

/* 1 when one of pid's open fds is one of the sockets. */
static int has_socket(const char *pid, const unsigned long *ino, size_t n)
{
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        char fd[600], target[64];
        snprintf(fd, sizeof fd, "%s/%s", path, e->d_name);
        ssize_t len = readlink(fd, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        unsigned long inode;
        if (sscanf(target, "socket:[%lu]", &inode) != 1)
            continue;
        for (size_t i = 0; i < n; i++)
            found |= inode == ino[i];
    }
    closedir(d);
    return found;
}

int harness_port_owner_in_group(int port, pid_t pgid)
{
    unsigned long ino[MAX_INODES];
    size_t n = listen_inodes("/proc/net/tcp", port, ino, 0, MAX_INODES);
    n = listen_inodes("/proc/net/tcp6", port, ino, n, MAX_INODES);
    if (!n)
        return -1;
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    int owned = 0;
    struct dirent *e;
    while (!owned && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (pgid_of(e->d_name) == pgid && has_socket(e->d_name, ino, n))
            owned = 1;
    }
    closedir(d);
    return owned;
}
