/*
 * Disk faults on demand, for tests of a real leadd process: preloaded (LD_PRELOAD), this library
 * makes fdatasync and fsync fail with EIO while the file named by LEADD_FAULT_SYNC exists, as a
 * disk does when it loses a write. Everything else is passed to the C library unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
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
