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
 *              init needs (CAP_SYS_ADMIN for sethostname and its umounts, CAP_NET_ADMIN for eth0)
 *   file.path, file.mode, file.data
 *              one file of the machine's `files[]` (repeated, the three in this order): written
 *              into the root as root, its parents made (0755) when missing, mode decimal, data
 *              base64. What src/drivers/crun/rootfs.ts `writeMachineFiles` does for a cold start.
 *   net.mac, net.alias, net.addr, net.gw
 *              optional, all four or none: eth0 gets the MAC, the alias (Hangar's label), the
 *              address as a /64 without duplicate address detection, is brought up, and gets a
 *              default route via the gateway. What src/net/plan.ts `planMachine` does with `ip`.
 *   arg        the command, one record per argument, in order
 *   env        KEY=value, one record each
 *   end        "" (a spec without it was cut short: the driver went away)
 * No spec at all (end-of-file at once) means the driver no longer wants this container: exit 125.
 *
 * Static, no allocation beyond the spec buffer, no dependencies: it must start in any image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <grp.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STATUS_PATH "/dev/hangar-status"
#define SELF_PATH "/dev/hangar-init"
#define MAX_SPEC (64u << 20)
#define MAX_LIST 65536
#define MAX_FILES 1024

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

/* mkdir -p as root, mode 0755 (crun's behaviour for a missing process.cwd; the parents of files[]). */
static void make_dirs(const char *path) {
  char tmp[4096];
  if (strlen(path) >= sizeof tmp) fail("hangar-init: directory %s is too long", path, 0);
  strcpy(tmp, path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) fail("hangar-init: cannot make directory %s", path, errno);
    *p = '/';
  }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST) fail("hangar-init: cannot make directory %s", path, errno);
}

/* ---- files[] */

struct file_rec {
  const char *path;
  long mode;
  char *data; /* base64, decoded in place */
};

static int b64(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

/* Decodes base64 in place; returns the length, or -1 when it is not base64. */
static long unbase64(char *s) {
  long out = 0;
  unsigned acc = 0;
  int bits = 0;
  for (char *p = s; *p; p++) {
    if (*p == '=' || *p == '\n' || *p == '\r') continue;
    int v = b64((unsigned char)*p);
    if (v < 0) return -1;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      s[out++] = (char)((acc >> bits) & 0xff);
    }
  }
  return out;
}

static void write_file(struct file_rec *f) {
  char dir[4096];
  if (f->path[0] != '/' || strlen(f->path) >= sizeof dir) fail("hangar-init: files: %s must be an absolute path", f->path, 0);
  strcpy(dir, f->path);
  char *slash = strrchr(dir, '/');
  if (slash != dir) {
    *slash = '\0';
    make_dirs(dir);
  }
  long n = unbase64(f->data);
  if (n < 0) fail("hangar-init: files: %s: raw_value is not base64", f->path, 0);
  /* As a cold start: symlinks are followed (inside the root: this runs after pivot_root), and
     the file found is replaced by a new one, so its old owner and mode do not stay. */
  char real[PATH_MAX];
  const char *target = f->path;
  if (realpath(f->path, real) != NULL) {
    target = real;
    unlink(real);
  }
  int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)(f->mode & 07777));
  if (fd < 0) fail("hangar-init: files: cannot write %s", f->path, errno);
  for (long off = 0; off < n;) {
    ssize_t w = write(fd, f->data + off, (size_t)(n - off));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("hangar-init: files: cannot write %s", f->path, errno);
    }
    off += w;
  }
  if (fchmod(fd, (mode_t)(f->mode & 07777)) != 0) fail("hangar-init: files: cannot set the mode of %s", f->path, errno);
  close(fd);
}

/* ---- eth0 over rtnetlink: one request at a time, each acknowledged. */

struct nlreq {
  struct nlmsghdr h;
  union {
    struct ifinfomsg link;
    struct ifaddrmsg addr;
    struct rtmsg route;
  } u;
  char attrs[512];
};

static void add_attr(struct nlreq *r, unsigned short type, const void *data, size_t len) {
  size_t at = NLMSG_ALIGN(r->h.nlmsg_len);
  struct rtattr *a = (struct rtattr *)((char *)r + at);
  if (at + RTA_SPACE(len) > sizeof *r) fail("hangar-init: netlink request too large", "", 0);
  a->rta_type = type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  r->h.nlmsg_len = (unsigned)(at + RTA_SPACE(len));
}

/* An empty request of `type` whose payload (ifinfomsg, ifaddrmsg or rtmsg) is `payload` bytes. */
static void begin(struct nlreq *r, unsigned short type, unsigned short flags, size_t payload) {
  memset(r, 0, sizeof *r);
  r->h.nlmsg_len = NLMSG_LENGTH(payload);
  r->h.nlmsg_type = type;
  r->h.nlmsg_flags = flags;
}

/* A link request for `ifindex`: RTM_NEWLINK on an existing link changes it. */
static void begin_link(struct nlreq *r, int ifindex) {
  begin(r, RTM_NEWLINK, 0, sizeof r->u.link);
  r->u.link.ifi_family = AF_UNSPEC;
  r->u.link.ifi_index = ifindex;
}

static void talk(int fd, struct nlreq *r, const char *what) {
  static unsigned seq;
  r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  r->h.nlmsg_seq = ++seq;
  if (send(fd, r, r->h.nlmsg_len, 0) < 0) fail("hangar-init: %s: netlink send", what, errno);
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("hangar-init: %s: netlink receive", what, errno);
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != r->h.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR) continue;
      int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      if (err != 0) fail("hangar-init: %s", what, -err);
      return;
    }
  }
}

static void configure_eth0(const char *mac, const char *alias, const char *addr, const char *gw) {
  unsigned char hw[6];
  struct in6_addr a6, g6;
  if (sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &hw[0], &hw[1], &hw[2], &hw[3], &hw[4], &hw[5]) != 6) fail("hangar-init: bad MAC %s", mac, 0);
  if (inet_pton(AF_INET6, addr, &a6) != 1) fail("hangar-init: bad address %s", addr, 0);
  if (inet_pton(AF_INET6, gw, &g6) != 1) fail("hangar-init: bad gateway %s", gw, 0);
  int ifindex = (int)if_nametoindex("eth0");
  if (ifindex == 0) fail("hangar-init: no eth0 in the machine's network namespace", "", errno);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) fail("hangar-init: netlink socket", "", errno);
  struct nlreq r;

  // MAC and label while eth0 is down, then up: the kernel applies the address before the flags.
  begin_link(&r, ifindex);
  add_attr(&r, IFLA_ADDRESS, hw, sizeof hw);
  add_attr(&r, IFLA_IFALIAS, alias, strlen(alias));
  talk(fd, &r, "set eth0 MAC and label");

  begin(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof r.u.addr);
  r.u.addr.ifa_family = AF_INET6;
  r.u.addr.ifa_prefixlen = 64;
  r.u.addr.ifa_flags = IFA_F_NODAD;
  r.u.addr.ifa_index = (unsigned)ifindex;
  add_attr(&r, IFA_LOCAL, &a6, sizeof a6);
  add_attr(&r, IFA_ADDRESS, &a6, sizeof a6);
  unsigned flags = IFA_F_NODAD;
  add_attr(&r, IFA_FLAGS, &flags, sizeof flags);
  talk(fd, &r, "add the address to eth0");

  begin_link(&r, ifindex);
  r.u.link.ifi_flags = IFF_UP;
  r.u.link.ifi_change = IFF_UP;
  talk(fd, &r, "bring eth0 up");

  begin(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof r.u.route);
  r.u.route.rtm_family = AF_INET6;
  r.u.route.rtm_table = RT_TABLE_MAIN;
  r.u.route.rtm_protocol = RTPROT_BOOT;
  r.u.route.rtm_scope = RT_SCOPE_UNIVERSE;
  r.u.route.rtm_type = RTN_UNICAST;
  add_attr(&r, RTA_GATEWAY, &g6, sizeof g6);
  add_attr(&r, RTA_OIF, &ifindex, sizeof ifindex);
  talk(fd, &r, "add the default route");
  close(fd);
}

int main(void) {
  size_t len;
  char *spec = read_spec(&len);
  if (len == 0) return 125;
  if (spec[len - 1] != '\0') fail("hangar-init: the machine spec was cut short", "", 0);

  const char *hostname = NULL, *cwd = "/", *groups = "";
  const char *net_mac = NULL, *net_alias = NULL, *net_addr = NULL, *net_gw = NULL;
  long uid = 0, gid = 0;
  int version = 0, ended = 0;
  static char *argv[MAX_LIST + 1], *envp[MAX_LIST + 1];
  static long drops[64];
  size_t argc = 0, envc = 0, ndrop = 0, nfiles = 0;
  static struct file_rec files[MAX_FILES];
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
    } else if (strcmp(key, "file.path") == 0) {
      if (nfiles == MAX_FILES) fail("hangar-init: too many files", "", 0);
      files[nfiles].path = val;
      files[nfiles].mode = -1;
      files[nfiles++].data = NULL;
    } else if (strcmp(key, "file.mode") == 0 || strcmp(key, "file.data") == 0) {
      if (nfiles == 0) fail("hangar-init: %s before file.path", key, 0);
      if (key[5] == 'm') files[nfiles - 1].mode = number(key, val);
      else files[nfiles - 1].data = val;
    } else if (strcmp(key, "net.mac") == 0) net_mac = val;
    else if (strcmp(key, "net.alias") == 0) net_alias = val;
    else if (strcmp(key, "net.addr") == 0) net_addr = val;
    else if (strcmp(key, "net.gw") == 0) net_gw = val;
    else if (strcmp(key, "end") == 0) ended = 1;
    else fail("hangar-init: unknown record %s in the machine spec", key, 0);
  }
  if (!ended) fail("hangar-init: the machine spec was cut short", "", 0);
  if (version != 1) fail("hangar-init: machine spec version is not 1", "", 0);
  if (argc == 0) fail("hangar-init: the machine has no command", "", 0);
  int nets = (net_mac != NULL) + (net_alias != NULL) + (net_addr != NULL) + (net_gw != NULL);
  if (nets != 0 && nets != 4) fail("hangar-init: the machine spec has only part of eth0's configuration", "", 0);
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

  for (size_t i = 0; i < nfiles; i++) {
    if (files[i].mode < 0 || files[i].data == NULL) fail("hangar-init: files: %s lacks its mode or data", files[i].path, 0);
    write_file(&files[i]);
  }

  if (nets == 4) configure_eth0(net_mac, net_alias, net_addr, net_gw);

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
