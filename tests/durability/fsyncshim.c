/* An LD_PRELOAD shim for the durability tests: it logs every fsync and fdatasync of the
 * process it is loaded into, and can slow them down or make the store's writes fail, so a
 * test can see when a hub answers relative to its disk.
 *
 * Environment:
 *   FSYNCSHIM_LOG    file that gets one line per fsync/fdatasync:
 *                    "<start ns> <end ns> <call> <result> <errno> <path>" (CLOCK_MONOTONIC,
 *                    the same clock as Python's time.monotonic_ns(); the path from
 *                    /proc/self/fd). The line is written before the call returns.
 *   FSYNCSHIM_CTL    a directory the test writes control files into:
 *                      delay_ms  each fsync/fdatasync sleeps this long first
 *                      fail      while it exists, the store's files (paths that contain
 *                                FSYNCSHIM_MATCH, not its -shm) fail: "EIO" makes fsync and
 *                                fdatasync fail (a write-back error), "ENOSPC" makes pwrite
 *                                fail (a full disk)
 *   FSYNCSHIM_MATCH  the part of a path that names the store (e.g. "tablehub.db")
 *   FSYNCSHIM_WRITES file that gets one line per pwrite: "<ns> <offset> <count> <path>" (what
 *                    the benchmarks attribute the bytes a process writes to, file by file)
 *   FSYNCSHIM_WALPAGES file that gets one line per WAL frame header written (a 24-byte
 *                    pwrite to a "-wal" file): "<ns> <page number> <db pages if a commit
 *                    frame, else 0> <path>" (which b-tree's pages each commit wrote)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fn)(int);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void path_of(int fd, char *out, size_t size) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, size - 1);
    out[n < 0 ? 0 : n] = '\0';
}

/* the contents of a control file (trimmed), or "" when it does not exist */
static void control(const char *name, char *out, size_t size) {
    out[0] = '\0';
    const char *dir = getenv("FSYNCSHIM_CTL");
    if (dir == NULL) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = syscall(SYS_read, fd, out, size - 1);
    syscall(SYS_close, fd);
    if (n < 0) n = 0;
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) out[--n] = '\0';
}

/* the errno a store file's sync (or write) fails with now, or 0 */
static int failing(const char *path, int is_sync) {
    const char *match = getenv("FSYNCSHIM_MATCH");
    if (match == NULL || *match == '\0' || strstr(path, match) == NULL) return 0;
    size_t len = strlen(path);
    if (len >= 4 && strcmp(path + len - 4, "-shm") == 0) return 0;
    char how[32];
    control("fail", how, sizeof how);
    if (is_sync && strcmp(how, "EIO") == 0) return EIO;
    if (!is_sync && strcmp(how, "ENOSPC") == 0) return ENOSPC;
    return 0;
}

static void log_line(long long start, long long end, const char *call, int rc, int err,
                     const char *path) {
    const char *file = getenv("FSYNCSHIM_LOG");
    if (file == NULL) return;
    char line[4352];
    int n = snprintf(line, sizeof line, "%lld %lld %s %d %d %s\n", start, end, call, rc, err,
                     path);
    if (n <= 0) return;
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                          0600);
    if (fd < 0) return;
    syscall(SYS_write, fd, line, (size_t)n); /* one append: lines never interleave */
    syscall(SYS_close, fd);
}

static int traced(const char *call, int fd) {
    static sync_fn real_fsync, real_fdatasync;
    sync_fn real;
    if (strcmp(call, "fsync") == 0) {
        if (real_fsync == NULL) real_fsync = (sync_fn)dlsym(RTLD_NEXT, "fsync");
        real = real_fsync;
    } else {
        if (real_fdatasync == NULL) real_fdatasync = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
        real = real_fdatasync;
    }
    char path[4096];
    path_of(fd, path, sizeof path);
    long long start = now_ns();
    char delay[32];
    control("delay_ms", delay, sizeof delay);
    long ms = strtol(delay, NULL, 10);
    if (ms > 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    int err = failing(path, 1);
    int rc;
    if (err != 0) {
        rc = -1;
    } else {
        rc = real(fd);
        err = rc == 0 ? 0 : errno;
    }
    log_line(start, now_ns(), call, rc, err, path);
    errno = err;
    return rc;
}

int fsync(int fd) { return traced("fsync", fd); }

int fdatasync(int fd) { return traced("fdatasync", fd); }

/* One line appended to the log `file` (opened each time: no descriptor kept in the process),
 * through raw syscalls so that the shim's own writes are not logged. */
static void append_line(const char *file, const char *line, int n, size_t size) {
    if (n >= (int)size) n = (int)size - 1;
    int out = (int)syscall(SYS_openat, AT_FDCWD, file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                           0600);
    if (out >= 0 && n > 0) {
        syscall(SYS_write, out, line, (size_t)n);
        syscall(SYS_close, out);
    }
}

static ssize_t checked_pwrite(const char *name, int fd, const void *buf, size_t count,
                              off_t offset) {
    static pwrite_fn real_pwrite, real_pwrite64;
    pwrite_fn *slot = strcmp(name, "pwrite") == 0 ? &real_pwrite : &real_pwrite64;
    if (*slot == NULL) *slot = (pwrite_fn)dlsym(RTLD_NEXT, name);
    const char *dir = getenv("FSYNCSHIM_CTL");
    if (dir != NULL) {
        char path[4096];
        path_of(fd, path, sizeof path);
        int err = failing(path, 0);
        if (err != 0) {
            errno = err;
            return -1;
        }
    }
    ssize_t rc = (*slot)(fd, buf, count, offset);
    const char *writes = getenv("FSYNCSHIM_WRITES");
    if (writes != NULL && rc > 0) {
        char path[4096], line[4352];
        path_of(fd, path, sizeof path);
        int n = snprintf(line, sizeof line, "%lld %lld %zd %s\n", now_ns(), (long long)offset, rc,
                         path);
        append_line(writes, line, n, sizeof line);
    }
    const char *walpages = getenv("FSYNCSHIM_WALPAGES");
    if (walpages != NULL && rc == 24 && count == 24) {
        char path[4096], line[4352];
        path_of(fd, path, sizeof path);
        size_t len = strlen(path);
        if (len > 4 && strcmp(path + len - 4, "-wal") == 0) {
            const unsigned char *h = buf;  /* big-endian: page number, then db size */
            unsigned long pgno = ((unsigned long)h[0] << 24) | ((unsigned long)h[1] << 16) |
                                 ((unsigned long)h[2] << 8) | h[3];
            unsigned long size = ((unsigned long)h[4] << 24) | ((unsigned long)h[5] << 16) |
                                 ((unsigned long)h[6] << 8) | h[7];
            int n = snprintf(line, sizeof line, "%lld %lu %lu %s\n", now_ns(), pgno, size, path);
            append_line(walpages, line, n, sizeof line);
        }
    }
    return rc;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    return checked_pwrite("pwrite", fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    return checked_pwrite("pwrite64", fd, buf, count, offset);
}
