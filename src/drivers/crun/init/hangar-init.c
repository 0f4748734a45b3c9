/*
 * hangar-init: the first process of a warm container (src/drivers/crun/warm.ts).
 *
 * A warm container is made before any machine asks for it: the runtime has done its whole
 * set-up (namespaces, mounts, pivot_root) and runs this program as the container's init, which
 * waits on stdin for the machine it is to become. The driver then writes one spec (the format
 * below), and this program applies what the runtime would have applied from config.json had it
 * known the machine (hostname, user, groups, working directory, capabilities, environment) and
 * execs the machine's command, which becomes the container's PID 1 as in a cold start.
 *
 * The outcome goes back through /dev/hangar-status, a FIFO the driver reads: it is opened
 * close-on-exec, so a successful exec shows as end-of-file with nothing written, and any failure
 * as one line of text (e.g. "executable file `x` not found in $PATH: ..."), as crun words it.
 *
 * Spec, on stdin until end-of-file: records `key NUL value NUL`, keys
 *   v          "1"
 *   hostname   the machine's hostname (sethostname in the container's UTS namespace)
 *   uid, gid   decimal
 *   groups     additional gids, comma-separated (may be empty)
 *   cwd        working directory; made (root, 0755) when missing, as crun does
 *   drop       a capability number to remove from every set (repeated): the ones only the
 *              init needs (CAP_SYS_ADMIN for sethostname and its umounts)
 *   arg        the command, one record per argument, in order
 *   env        KEY=value, one record each
 *   end        "" (a spec without it was cut short: the driver went away)
 * No spec at all (end-of-file at once) means the driver no longer wants this container: exit 125.
 *
 * Static, no allocation beyond the spec buffer, no dependencies: it must start in any image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STATUS_PATH "/dev/hangar-status"
#define SELF_PATH "/dev/hangar-init"
#define MAX_SPEC (64u << 20)
#define MAX_LIST 65536

static int status_fd = -1;

static void fail(const char *fmt, const char *arg, int err) {
  char msg[4096];
  int n = snprintf(msg, sizeof msg, fmt, arg);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
  if (err != 0) n += snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(err));
  if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
  msg[n++] = '\n';
  int fd = status_fd >= 0 ? status_fd : 2;
  ssize_t w = write(fd, msg, (size_t)n);
  (void)w;
  _exit(127);
}

static char *read_spec(size_t *len) {
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  if (buf == NULL) fail("hangar-init: out of memory", "", 0);
  for (;;) {
    if (n == cap) {
      if (cap >= MAX_SPEC) fail("hangar-init: the machine spec is larger than %s", "64 MiB", 0);
      cap *= 2;
      buf = realloc(buf, cap);
      if (buf == NULL) fail("hangar-init: out of memory", "", 0);
    }
    ssize_t r = read(0, buf + n, cap - n);
    if (r == 0) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      fail("hangar-init: cannot read the machine spec", "", errno);
    }
    n += (size_t)r;
  }
  *len = n;
  return buf;
}

static long number(const char *key, const char *v) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno != 0 || *v == '\0' || *end != '\0' || x < 0) fail("hangar-init: bad %s in the machine spec", key, 0);
  return x;
}

/* mkdir -p as root, mode 0755 (crun's behaviour for a missing process.cwd). */
static void make_dirs(const char *path) {
  char tmp[4096];
  if (strlen(path) >= sizeof tmp) fail("hangar-init: working directory %s is too long", path, 0);
  strcpy(tmp, path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) fail("hangar-init: cannot make working directory %s", path, errno);
    *p = '/';
  }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST) fail("hangar-init: cannot make working directory %s", path, errno);
}

int main(void) {
  size_t len;
  char *spec = read_spec(&len);
  if (len == 0) return 125;
  if (spec[len - 1] != '\0') fail("hangar-init: the machine spec was cut short", "", 0);

  const char *hostname = NULL, *cwd = "/", *groups = "";
  long uid = 0, gid = 0;
  int version = 0, ended = 0;
  static char *argv[MAX_LIST + 1], *envp[MAX_LIST + 1];
  static long drops[64];
  size_t argc = 0, envc = 0, ndrop = 0;
  for (char *p = spec; p < spec + len;) {
    char *key = p;
    p += strlen(p) + 1;
    if (p >= spec + len) fail("hangar-init: record %s has no value", key, 0);
    char *val = p;
    p += strlen(p) + 1;
    if (strcmp(key, "v") == 0) version = (int)number(key, val);
    else if (strcmp(key, "hostname") == 0) hostname = val;
    else if (strcmp(key, "uid") == 0) uid = number(key, val);
    else if (strcmp(key, "gid") == 0) gid = number(key, val);
    else if (strcmp(key, "groups") == 0) groups = val;
    else if (strcmp(key, "cwd") == 0) cwd = val;
    else if (strcmp(key, "drop") == 0) {
      if (ndrop == 64) fail("hangar-init: too many capabilities to drop", "", 0);
      drops[ndrop++] = number(key, val);
    } else if (strcmp(key, "arg") == 0) {
      if (argc == MAX_LIST) fail("hangar-init: too many arguments", "", 0);
      argv[argc++] = val;
    } else if (strcmp(key, "env") == 0) {
      if (envc == MAX_LIST) fail("hangar-init: too many environment variables", "", 0);
      envp[envc++] = val;
    } else if (strcmp(key, "end") == 0) ended = 1;
    else fail("hangar-init: unknown record %s in the machine spec", key, 0);
  }
  if (!ended) fail("hangar-init: the machine spec was cut short", "", 0);
  if (version != 1) fail("hangar-init: machine spec version is not 1", "", 0);
  if (argc == 0) fail("hangar-init: the machine has no command", "", 0);
  argv[argc] = NULL;
  envp[envc] = NULL;

  // The driver opens its end once it has written the spec; from here on failures go there.
  status_fd = open(STATUS_PATH, O_WRONLY | O_CLOEXEC);
  if (status_fd < 0) fail("hangar-init: cannot open " STATUS_PATH, "", errno);

  // The machine's stdin is /dev/null, as with a cold start (the monitor gives the runtime that).
  int null = open("/dev/null", O_RDONLY);
  if (null < 0 || dup2(null, 0) < 0) fail("hangar-init: cannot open /dev/null", "", errno);
  if (null != 0) close(null);

  // The two helper mounts leave no trace in the machine's /dev.
  if (umount2(STATUS_PATH, MNT_DETACH) != 0) fail("hangar-init: cannot unmount " STATUS_PATH, "", errno);
  if (umount2(SELF_PATH, MNT_DETACH) != 0) fail("hangar-init: cannot unmount " SELF_PATH, "", errno);
  unlink(STATUS_PATH);
  unlink(SELF_PATH);

  if (hostname != NULL && sethostname(hostname, strlen(hostname)) != 0) fail("hangar-init: cannot set hostname %s", hostname, errno);

  struct stat st;
  if (stat(cwd, &st) != 0) {
    if (errno != ENOENT) fail("hangar-init: cannot stat working directory %s", cwd, errno);
    make_dirs(cwd);
  }

  for (size_t i = 0; i < ndrop; i++) {
    if (prctl(PR_CAPBSET_DROP, drops[i], 0, 0, 0) != 0) fail("hangar-init: cannot drop a capability from the bounding set", "", errno);
  }
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &hdr, data) != 0) fail("hangar-init: capget", "", errno);
  for (size_t i = 0; i < ndrop; i++) {
    long c = drops[i];
    unsigned bit = 1u << (c % 32);
    data[c / 32].effective &= ~bit;
    data[c / 32].permitted &= ~bit;
    data[c / 32].inheritable &= ~bit;
  }
  if (syscall(SYS_capset, &hdr, data) != 0) fail("hangar-init: capset", "", errno);

  static gid_t gids[MAX_LIST];
  size_t ngids = 0;
  for (const char *g = groups; *g != '\0';) {
    char *end;
    errno = 0;
    unsigned long x = strtoul(g, &end, 10);
    if (errno != 0 || end == g || (*end != ',' && *end != '\0') || ngids == MAX_LIST) fail("hangar-init: bad groups %s in the machine spec", groups, 0);
    gids[ngids++] = (gid_t)x;
    g = *end == ',' ? end + 1 : end;
  }
  if (setgroups(ngids, gids) != 0) fail("hangar-init: setgroups", "", errno);
  if (setgid((gid_t)gid) != 0) fail("hangar-init: setgid", "", errno);
  if (setuid((uid_t)uid) != 0) fail("hangar-init: setuid", "", errno);
  if (chdir(cwd) != 0) fail("hangar-init: cannot enter working directory %s", cwd, errno);

  // execvp searches the PATH of the environment it runs in: the machine's.
  clearenv();
  for (size_t i = 0; i < envc; i++) {
    if (putenv(envp[i]) != 0) fail("hangar-init: cannot set environment variable %s", envp[i], errno);
  }
  execvp(argv[0], argv);
  int err = errno;
  if (strchr(argv[0], '/') == NULL && err == ENOENT) fail("executable file `%s` not found in $PATH", argv[0], err);
  fail("cannot exec `%s`", argv[0], err);
  return 127;
}
