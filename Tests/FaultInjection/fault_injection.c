/*
 * Disk faults on demand, for tests of a real leadd process: preloaded (LD_PRELOAD), this library
 * makes fdatasync and fsync fail with EIO while the file named by LEADD_FAULT_SYNC exists, as a
 * disk does when it loses a write. While the file named by LEADD_FAULT_WRITE_STALL exists,
 * writes to the store's files (a path containing "leadd.db": the database and its log) wait, as
 * on a disk that hangs; a file of that name with ".waiting" appended exists while a write waits,
 * so a test can see that the stall has begun. The file named by LEADD_FAULT_CLOCK, when it exists,
 * holds a number of milliseconds added to the wall clock (CLOCK_REALTIME), negative for a step
 * back, as when an administrator or a bad time server sets the clock. Everything else is passed
 * to the C library unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#include "fault_injection.h"

static int sync_fails(void) {
    const char *trigger = getenv("LEADD_FAULT_SYNC");
    return trigger != NULL && access(trigger, F_OK) == 0;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (sync_fails()) {
        errno = EIO;
        return -1;
    }
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return real(fd);
}

int fsync(int fd) {
    static int (*real)(int);
    if (sync_fails()) {
        errno = EIO;
        return -1;
    }
    if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}

/* True for a descriptor of the store's files; read from /proc only while a stall is asked for. */
static int is_store_file(int fd) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t length = readlink(link, path, sizeof path - 1);
    if (length <= 0) return 0;
    path[length] = 0;
    return strstr(path, "leadd.db") != NULL;
}

static void wait_while_stalled(int fd) {
    const char *stall = getenv("LEADD_FAULT_WRITE_STALL");
    if (stall == NULL || access(stall, F_OK) != 0 || !is_store_file(fd)) return;
    char waiting[4096];
    snprintf(waiting, sizeof waiting, "%s.waiting", stall);
    int marker = open(waiting, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (marker >= 0) close(marker);
    while (access(stall, F_OK) == 0) usleep(10000);
    unlink(waiting);
}

ssize_t pwrite64(int fd, const void *buffer, size_t count, off_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    wait_while_stalled(fd);
    if (real == NULL) real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    return real(fd, buffer, count, offset);
}

ssize_t pwrite(int fd, const void *buffer, size_t count, off_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    wait_while_stalled(fd);
    if (real == NULL) real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    return real(fd, buffer, count, offset);
}

static long long clock_offset_ms;
static long long clock_read_at_ns;

/* The step asked for, read again at most every 20 ms of the monotonic clock. */
static long long clock_offset(void) {
    const char *path = getenv("LEADD_FAULT_CLOCK");
    if (path == NULL) return 0;
    struct timespec mono;
    if (clock_gettime(CLOCK_MONOTONIC, &mono) != 0) return 0;
    long long now = (long long)mono.tv_sec * 1000000000LL + mono.tv_nsec;
    if (now - __atomic_load_n(&clock_read_at_ns, __ATOMIC_ACQUIRE) > 20000000LL) {
        long long offset = 0;
        FILE *file = fopen(path, "re");
        if (file != NULL) {
            if (fscanf(file, "%lld", &offset) != 1) offset = 0;
            fclose(file);
        }
        __atomic_store_n(&clock_offset_ms, offset, __ATOMIC_RELEASE);
        __atomic_store_n(&clock_read_at_ns, now, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&clock_offset_ms, __ATOMIC_ACQUIRE);
}

int clock_gettime(clockid_t id, struct timespec *time) {
    static int (*real)(clockid_t, struct timespec *);
    if (real == NULL) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int result = real(id, time);
    if (result != 0 || (id != CLOCK_REALTIME && id != CLOCK_REALTIME_COARSE)) return result;
    long long offset = clock_offset();
    if (offset == 0) return result;
    long long ns = (long long)time->tv_sec * 1000000000LL + time->tv_nsec + offset * 1000000LL;
    time->tv_sec = ns / 1000000000LL;
    time->tv_nsec = ns % 1000000000LL;
    return result;
}
