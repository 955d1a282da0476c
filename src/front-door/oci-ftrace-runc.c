/*
 * oci-ftrace-runc: the front door (dist/bin/oci-ftrace-runc), the product's only native code.
 *
 * Engines run it as their OCI runtime, many times per container. It does three things:
 *   1. The sniff: an argument that is exactly create, run, restore or exec means the call may
 *      create or enter a container; only then does it ask the host agent before exec'ing the
 *      runtime. Every other call (state, start, delete, --version, ...) is one exec, nothing more.
 *   2. The lookup of the real runtime: OCI_FTRACE_RUNTIME (an absolute path, or a name looked up
 *      on PATH), else runc, else crun on PATH. Only absolute PATH entries count (a runtime must not
 *      come from the caller's cwd); PATH unset means /usr/local/sbin:/usr/local/bin:/usr/sbin:
 *      /usr/bin:/sbin:/bin. This binary under any name (same st_dev/st_ino as /proc/self/exe) is
 *      skipped. The runtime is exec'd under its own name as argv[0] (runc and crun print it in
 *      usage and errors), with OCI_FTRACE_LAUNCHER_PID set to our pid: seeing our own pid there
 *      means a runtime ran us again in the same process (a loop), which we stop.
 *   3. The client of the host agent (a Node process, dist/bundle/agent/main.js), over a unix socket.
 *      Invoked as oci-ftrace-hook (argv[0], as the runtime execs our hooks) it is the hook.
 *
 * The agent's socket. This is the one place in the product that derives it; whoever starts the
 * agent passes it --socket, so the agent itself never computes it:
 *   directory  /run/oci-ftrace                  when the effective uid is 0 of the initial user
 *                                               namespace (host root),
 *              $XDG_RUNTIME_DIR/oci-ftrace      otherwise (a user; or uid 0 of a user namespace, as
 *                                               rootless podman runs the runtime), when
 *                                               XDG_RUNTIME_DIR is absolute,
 *              /tmp/oci-ftrace-<euid>           otherwise;
 *   name       agent.sock                       when OCI_FTRACE_CONFIG is unset or empty,
 *              agent-<h>.sock                   otherwise, h = 16 lowercase hex digits of the
 *              FNV-1a 64-bit hash (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of the
 *              config path's bytes, made absolute first by prefixing getcwd() and "/" when it is
 *              relative (only one "/" when the cwd is "/"); no symlink resolution, no normalisation.
 * Next to it: <socket>.facts (written by the agent: strict=0|1, log=<path>) and <socket>.lock (the
 * flock that lets exactly one front door start the agent).
 *
 * Wire format, both ways: a 4-byte big-endian length, then that many bytes of UTF-8 JSON; one
 * request and one reply per connection (src/agent/protocol.ts is the agent's side).
 *
 * It never writes to stdout; to stderr only its one-line errors and the agent's refusals. It
 * changes no environment variable but OCI_FTRACE_LAUNCHER_PID, leaves no descriptor of its own
 * open across exec (O_CLOEXEC everywhere), and allocates nothing but what setenv does: buffers are
 * static (untouched BSS pages cost nothing on the pass-through path).
 *
 * Built by scripts/build-front-door.mjs with -DOFT_NODE, -DOFT_AGENT and -DOFT_PACKAGE_ROOT.
 */
/* flock(2), close_range(2), pipe2(2) and F_DUPFD_CLOEXEC users need more than POSIX declares. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if !defined(OFT_NODE) || !defined(OFT_AGENT) || !defined(OFT_PACKAGE_ROOT)
#error "build with -DOFT_NODE=... -DOFT_AGENT=... -DOFT_PACKAGE_ROOT=... (scripts/build-front-door.mjs)"
#endif

/* Which package this binary was built from, for `strings` when a copy turns up somewhere. */
__attribute__((used)) static const char built_from[] = "oci-ftrace-runc front door of " OFT_PACKAGE_ROOT;

#define PID_VARIABLE "OCI_FTRACE_LAUNCHER_PID"
/* Set to 1, the front door prints the runtime it would exec and exits: how `oci-ftrace doctor`
 * learns it without a second copy of the lookup. No engine sets a variable of ours. */
#define WHICH_RUNTIME_VARIABLE "OCI_FTRACE_WHICH_RUNTIME"
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_LOG "/var/log/oci-ftrace/oci-ftrace.log"
#define HOOK_NAME "oci-ftrace-hook"
#define START_DEADLINE_MS 5000
#define PREPARE_REPLY_MS 10000
#define MAX_STATE (1 << 20)
#define MAX_REPLY (64 * 1024)
#define MAX_FACTS 4096
#define LOG_LINE_MAX (64 * 1024)
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

static char **args;
static int arg_count;
static char pid_text[24];
/* fd 2 was open when we started: only then is it the caller's stderr and never one of our own. */
static int stderr_open;

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                              */

/* Writes the whole of s to fd (a line to stderr or the log is one write whenever it can be). */
static void write_all(int fd, const char *s, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, s, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    s += n;
    len -= (size_t)n;
  }
}

/* One line on stderr, printf-style; truncated (still one line) when absurdly long. */
__attribute__((format(printf, 1, 2))) static void complain(const char *format, ...) {
  char line[8192];
  va_list ap;
  int n;
  if (!stderr_open) return;
  va_start(ap, format);
  n = vsnprintf(line, sizeof line - 1, format, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = (int)(sizeof line - 2);
  line[n++] = '\n';
  write_all(STDERR_FILENO, line, (size_t)n);
}

/* A message into buf, cut short when it does not fit (snprintf, minus the truncation warnings:
 * cutting a message that names a long path is what we want). */
__attribute__((format(printf, 3, 4))) static void describe(char *buf, size_t size, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  if (vsnprintf(buf, size, format, ap) < 0) buf[0] = '\0';
  va_end(ap);
}

static void decimal(char *out, size_t size, unsigned long long n) {
  char digits[24];
  size_t len = 0;
  do {
    digits[len++] = (char)('0' + n % 10);
    n /= 10;
  } while (n > 0);
  if (len >= size) len = size - 1;
  for (size_t i = 0; i < len; i++) out[i] = digits[len - 1 - i];
  out[len] = '\0';
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

/* Joins a and b into out when the result fits; 0 on success. */
static int join(char *out, size_t size, const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la + lb + 1 > size) return -1;
  memcpy(out, a, la);
  memcpy(out + la, b, lb + 1);
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Output: one generator writes each message twice, once counting (the frame's length comes     */
/* first) and once for real, so a request of any size needs no heap.                          */

enum sink { COUNT, SOCKET, BUFFER };

struct out {
  enum sink sink;
  uint64_t total; /* COUNT: bytes so far */
  char *buf;      /* SOCKET: staging buffer; BUFFER: the result */
  size_t cap, len;
  int fd;           /* SOCKET */
  int64_t deadline; /* SOCKET */
  int error;        /* SOCKET: errno of the first failure (ETIMEDOUT for the deadline) */
  int overflow;     /* BUFFER: something did not fit */
};

/* Sends buf[0..len) on the non-blocking socket before the deadline; 0, or -1 with errno. */
static int send_all(int fd, const char *buf, size_t len, int64_t deadline) {
  while (len > 0) {
    /* MSG_NOSIGNAL: an agent that hangs up must not kill us with SIGPIPE. */
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      int64_t left = deadline - now_ms();
      if (left <= 0) {
        errno = ETIMEDOUT;
        return -1;
      }
      if (poll(&p, 1, (int)left) < 0 && errno != EINTR) return -1;
      continue;
    }
    return -1;
  }
  return 0;
}

static void flush_out(struct out *o) {
  if (o->sink == SOCKET && o->len > 0 && o->error == 0) {
    if (send_all(o->fd, o->buf, o->len, o->deadline) != 0) o->error = errno;
  }
  if (o->sink == SOCKET) o->len = 0;
}

static void emit(struct out *o, const char *p, size_t n) {
  switch (o->sink) {
  case COUNT:
    o->total += n;
    return;
  case BUFFER:
    if (o->overflow || n > o->cap - o->len) {
      o->overflow = 1;
      return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return;
  case SOCKET:
    while (n > 0 && o->error == 0) {
      size_t room = o->cap - o->len, take = n < room ? n : room;
      memcpy(o->buf + o->len, p, take);
      o->len += take;
      p += take;
      n -= take;
      if (o->len == o->cap) flush_out(o);
    }
    return;
  }
}

static void emit_str(struct out *o, const char *s) { emit(o, s, strlen(s)); }

static void emit_number(struct out *o, unsigned long long n) {
  char digits[24];
  decimal(digits, sizeof digits, n);
  emit_str(o, digits);
}

/* The bytes of a JSON string's body (RFC 8259): quote, backslash and control characters escaped,
 * bytes >= 0x80 as they are (argv need not be UTF-8; the agent decides what to make of it). */
static void emit_escaped(struct out *o, const char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c != '"' && c != '\\' && c >= 0x20) continue;
    emit(o, p + run, i - run);
    run = i + 1;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      emit(o, e, 2);
    } else {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      emit(o, e, 6);
    }
  }
  emit(o, p + run, n - run);
}

static void emit_string(struct out *o, const char *s) {
  emit(o, "\"", 1);
  emit_escaped(o, s, strlen(s));
  emit(o, "\"", 1);
}

/* ------------------------------------------------------------------------------------------ */
/* The runtime lookup                                                                         */

static char candidate[PATH_MAX];
/* The first lookup candidate that was this binary (for the loop message), or "". */
static char skipped_self[PATH_MAX];
static char lookup_error[PATH_MAX + 200];

static int is_this_binary(const struct stat *st) {
  static struct stat self;
  static int known = -1;
  if (known < 0) known = stat("/proc/self/exe", &self) == 0;
  return known && st->st_dev == self.st_dev && st->st_ino == self.st_ino;
}

/* 1: an executable regular file that is not us; 0: not a runtime; -1: us (remembered). */
static int runtime_kind(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  if (is_this_binary(&st)) {
    if (skipped_self[0] == '\0' && strlen(path) < sizeof skipped_self) strcpy(skipped_self, path);
    return -1;
  }
  return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0 ? 1 : 0;
}

/* The first runtime called name in an absolute entry of path, in candidate; NULL if none. */
static const char *find_on_path(const char *name, const char *path) {
  size_t name_len = strlen(name);
  for (const char *dir = path;; dir++) {
    const char *end = strchrnul(dir, ':');
    size_t len = (size_t)(end - dir);
    /* Empty and relative entries never count: a runtime must not come from the caller's cwd. */
    if (len > 0 && dir[0] == '/') {
      while (len > 0 && dir[len - 1] == '/') len--;
      /* Longer than PATH_MAX: no file has that name, so no runtime either. */
      if (len + 1 + name_len < sizeof candidate) {
        memcpy(candidate, dir, len);
        candidate[len] = '/';
        memcpy(candidate + len + 1, name, name_len + 1);
        if (runtime_kind(candidate) == 1) return candidate;
      }
    }
    if (*end == '\0') return NULL;
    dir = end;
  }
}

/* The real runtime, or NULL with lookup_error set. */
static const char *locate_runtime(void) {
  const char *configured = getenv("OCI_FTRACE_RUNTIME");
  const char *path = getenv("PATH");
  const char *found;
  if (path == NULL) path = DEFAULT_PATH;
  if (configured != NULL && configured[0] != '\0') {
    if (configured[0] == '/') {
      int kind = runtime_kind(configured);
      if (kind == 1) return configured;
      describe(lookup_error, sizeof lookup_error,
               kind < 0 ? "oci-ftrace-runc: runtime %s is oci-ftrace-runc itself, not a real runtime"
                        : "oci-ftrace-runc: runtime %s is not an executable file",
               configured);
      return NULL;
    }
    if (strchr(configured, '/') != NULL) {
      describe(lookup_error, sizeof lookup_error,
               "oci-ftrace-runc: runtime \"%s\" must be an absolute path or a name to look up on PATH", configured);
      return NULL;
    }
    found = find_on_path(configured, path);
    if (found == NULL) describe(lookup_error, sizeof lookup_error, "oci-ftrace-runc: runtime \"%s\" not found on PATH", configured);
    return found;
  }
  found = find_on_path("runc", path);
  if (found == NULL) found = find_on_path("crun", path);
  if (found == NULL) describe(lookup_error, sizeof lookup_error, "oci-ftrace-runc: neither runc nor crun found on PATH; set OCI_FTRACE_RUNTIME");
  return found;
}

/* ------------------------------------------------------------------------------------------ */
/* The agent's socket and facts                                                               */

static char socket_path[SUN_PATH_MAX];
static int socket_known;
/* OCI_FTRACE_CONFIG made absolute, or "". */
static char config_abs[PATH_MAX];
static char cwd[PATH_MAX];
static int cwd_known, cwd_errno;

/*
 * Whether this process is in the initial user namespace: its uid_map is "0 0 4294967295" (the same
 * test as src/config/rootless.ts, whose agent then takes the pool). No /proc: as the uid says.
 */
static int in_initial_userns(void) {
  char buf[256];
  unsigned long inside, outside, count;
  int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
  ssize_t n;
  if (fd < 0) return 1;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 1;
  buf[n] = '\0';
  if (sscanf(buf, " %lu %lu %lu", &inside, &outside, &count) != 3) return 1;
  /* One line only: a second mapping means a namespace made by newuidmap. */
  if (strchr(buf, '\n') != NULL && strchr(buf, '\n')[1] != '\0') return 0;
  return inside == 0 && outside == 0 && count == 4294967295UL;
}

/*
 * socket_path from the rule in the header (config_abs must be set). 0, or -1 with why when the
 * path does not fit a sockaddr_un (a long XDG_RUNTIME_DIR).
 */
static int derive_socket(char *why, size_t why_size) {
  char dir[PATH_MAX], name[64];
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  int n;
  uid_t euid = geteuid();
  if (euid == 0 && in_initial_userns()) n = snprintf(dir, sizeof dir, "/run/oci-ftrace");
  else if (xdg != NULL && xdg[0] == '/') n = snprintf(dir, sizeof dir, "%s/oci-ftrace", xdg);
  else n = snprintf(dir, sizeof dir, "/tmp/oci-ftrace-%lu", (unsigned long)euid);
  if (n < 0 || (size_t)n >= sizeof dir) n = -1;
  if (config_abs[0] == '\0') {
    strcpy(name, "agent.sock");
  } else {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)config_abs; *p != '\0'; p++) {
      h ^= *p;
      h *= 0x100000001b3ULL;
    }
    snprintf(name, sizeof name, "agent-%016llx.sock", (unsigned long long)h);
  }
  if (n < 0 || snprintf(socket_path, sizeof socket_path, "%s/%s", dir, name) >= (int)sizeof socket_path) {
    describe(why, why_size, "the socket path %s/%s is longer than %zu bytes", n < 0 ? "(XDG_RUNTIME_DIR)" : dir, name,
             SUN_PATH_MAX - 1);
    socket_path[0] = '\0';
    return -1;
  }
  socket_known = 1;
  return 0;
}

/* config_abs from OCI_FTRACE_CONFIG. 0, or -1 with why (a relative path without a cwd). */
static int absolute_config(char *why, size_t why_size) {
  const char *config = getenv("OCI_FTRACE_CONFIG");
  if (config == NULL || config[0] == '\0') return 0;
  if (config[0] == '/') {
    if (strlen(config) >= sizeof config_abs) goto too_long;
    strcpy(config_abs, config);
    return 0;
  }
  if (!cwd_known) {
    describe(why, why_size, "cannot make the config path %s absolute: getcwd: %s", config, strerror(cwd_errno));
    return -1;
  }
  /* cwd + "/" + path; no second "/" after the root (getcwd ends in "/" only there). */
  if (snprintf(config_abs, sizeof config_abs, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", config) >= (int)sizeof config_abs)
    goto too_long;
  return 0;
too_long:
  config_abs[0] = '\0';
  describe(why, why_size, "the config path is longer than %d bytes", PATH_MAX - 1);
  return -1;
}

struct facts {
  int strict;
  char log[PATH_MAX];
};

/* <socket>.facts, when we need it: what we do not understand is ignored, and so is a missing file. */
static void read_facts(struct facts *f) {
  char text[MAX_FACTS + 1], path[SUN_PATH_MAX + 8];
  size_t len = 0;
  int fd;
  struct stat st;
  f->strict = 0;
  f->log[0] = '\0';
  if (!socket_known || join(path, sizeof path, socket_path, ".facts") != 0) return;
  /* O_NONBLOCK: a FIFO planted there must not hang us; fstat then refuses it. */
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return;
  }
  while (len < MAX_FACTS) {
    ssize_t n = read(fd, text + len, MAX_FACTS - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  text[len] = '\0';
  for (char *line = text; line < text + len;) {
    char *end = memchr(line, '\n', (size_t)(text + len - line));
    /* A last line cut off by the size limit is not one we understand. */
    if (end == NULL && len == MAX_FACTS) break;
    if (end == NULL) end = text + len;
    *end = '\0';
    if (strcmp(line, "strict=1") == 0) f->strict = 1;
    else if (strcmp(line, "strict=0") == 0) f->strict = 0;
    else if (strncmp(line, "log=/", 5) == 0 && strlen(line + 4) < sizeof f->log) strcpy(f->log, line + 4);
    line = end + 1;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Our log line (fail-open paths only)                                                         */

static char log_line[LOG_LINE_MAX];

/*
 * Appends one JSON line saying why the container runs untraced, to the facts' log or the default.
 * Every error is ignored: the log is a courtesy, the container's start is what matters.
 */
static void log_untraced(const char *log_path, const char *why, const char *kind, const char *id, size_t id_len) {
  struct out o = {.sink = BUFFER, .buf = log_line, .cap = sizeof log_line - 1};
  struct timespec ts;
  int omitted = 0, fd;
  /* Room kept for the tail, so that the argv array is what gets cut when a line would not fit. */
  size_t tail = 64 + 6 * strlen(why) + 64;
  if (tail >= o.cap / 2) tail = o.cap / 2;
  clock_gettime(CLOCK_REALTIME, &ts);
  emit_str(&o, "{\"level\":40,\"time\":");
  emit_number(&o, (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)(ts.tv_nsec / 1000000));
  emit_str(&o, ",\"pid\":");
  emit_str(&o, pid_text);
  emit_str(&o, ",\"component\":\"front-door\"");
  if (kind != NULL) {
    emit_str(&o, ",\"kind\":");
    emit_string(&o, kind);
  }
  if (id != NULL) {
    emit_str(&o, ",\"id\":\"");
    /* Already the body of a JSON string (checked by find_container_id). */
    emit(&o, id, id_len);
    emit_str(&o, "\"");
  }
  emit_str(&o, ",\"argv\":[");
  for (int i = 1; i < arg_count; i++) {
    size_t mark = o.len;
    if (i > 1) emit_str(&o, ",");
    emit_string(&o, args[i]);
    if (o.overflow || o.len + tail > o.cap) {
      o.len = mark;
      o.overflow = 0;
      omitted = arg_count - i;
      break;
    }
  }
  emit_str(&o, "]");
  if (omitted > 0) {
    emit_str(&o, ",\"argvOmitted\":");
    emit_number(&o, (unsigned long long)omitted);
  }
  emit_str(&o, ",\"msg\":\"");
  emit_escaped(&o, why, strlen(why));
  emit_str(&o, "; the container runs untraced\"}\n");
  if (o.overflow) return;
  /* O_APPEND and one write: lines of concurrent front doors do not interleave. O_NONBLOCK: a FIFO
   * without a reader fails instead of hanging. No O_CREAT of directories: only the file, 0640. */
  fd = open(log_path[0] != '\0' ? log_path : DEFAULT_LOG, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640);
  if (fd < 0) return;
  if (write(fd, log_line, o.len) < 0) {
    /* nothing to do: see above */
  }
  close(fd);
}

/* ------------------------------------------------------------------------------------------ */
/* Starting the agent                                                                         */

/* What the start pipe carries from the intermediate child and the grandchild. */
struct start_report {
  int32_t tag; /* 'P': grandchild's pid in value; 'E': stage in value, errno in err */
  int32_t value;
  int32_t err;
};
enum { STAGE_FORK = 1, STAGE_EXEC = 2 };

static void report(int fd, int32_t tag, int32_t value, int32_t err) {
  struct start_report r = {tag, value, err};
  /* 12 bytes < PIPE_BUF: atomic, and a failure here only costs the detail in our message. */
  if (fd >= 0 && write(fd, &r, sizeof r) < 0) {
  }
}

/* The agent process itself: detached, clean, and then node. Does not return. */
static void become_agent(int report_fd, const char *config) __attribute__((noreturn));
static void become_agent(int report_fd, const char *config) {
  char *argv[8];
  int argc = 0, null_fd, w, closed;
  /* A fixed PATH, and where a rootless agent's defaults live (the user's runtime, data and config
   * directories; HOME for the rest): nothing else of the caller's environment. */
  static const char *const passed[] = {"HOME=", "XDG_RUNTIME_DIR=", "XDG_DATA_HOME=", "XDG_CONFIG_HOME="};
  static char *envp[2 + sizeof passed / sizeof passed[0]];
  size_t envc = 0;
  struct sigaction dfl;
  sigset_t none;

  /* Our own session: no terminal, no process group of the engine's, no SIGHUP when it goes. */
  setsid();
  /* The report pipe above 2, so that pointing 0-2 at /dev/null cannot overwrite it. */
  w = fcntl(report_fd, F_DUPFD_CLOEXEC, 3);
  /* Every descriptor but 0-2 (and the report pipe, which exec closes): nothing of the engine's
   * or ours (the lock above all: a held flock would block every later start) stays with the agent. */
  if (w < 0) closed = close_range(3, ~0U, 0) == 0;
  else closed = (w == 3 || close_range(3, (unsigned)w - 1, 0) == 0) && close_range((unsigned)w + 1, ~0U, 0) == 0;
  if (!closed) {
    /* close_range is Linux 5.9+ (or filtered by seccomp): close one by one up to the limit. */
    struct rlimit rl;
    long limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (1 << 20) ? (long)rl.rlim_cur : (1 << 20);
    for (long fd = 3; fd < limit; fd++)
      if (fd != w) close((int)fd);
  }
  /* Without O_CLOEXEC on purpose: dup2 targets 0-2, and if /dev/null lands on one of them itself
   * it must stay open across exec. */
  null_fd = open("/dev/null", O_RDWR | O_NOCTTY);
  if (null_fd >= 0) {
    for (int fd = 0; fd <= 2; fd++)
      if (null_fd != fd) dup2(null_fd, fd);
    if (null_fd > 2) close(null_fd);
  } else {
    /* Closed rather than the caller's: an engine reading our stdout until EOF must not wait on the agent. */
    for (int fd = 0; fd <= 2; fd++) close(fd);
  }
  /* Ignored signals and the signal mask survive exec: the agent starts with the defaults. */
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Not the caller's cwd (often a bundle that must be removable); a predictable umask. */
  if (chdir("/") != 0) {
  }
  umask(022);

  envp[envc++] = (char *)"PATH=" DEFAULT_PATH;
  for (size_t i = 0; i < sizeof passed / sizeof passed[0]; i++) {
    size_t len = strlen(passed[i]);
    for (char **e = environ; *e != NULL; e++) {
      if (strncmp(*e, passed[i], len) == 0) {
        envp[envc++] = *e;
        break;
      }
    }
  }
  envp[envc] = NULL;
  argv[argc++] = (char *)OFT_NODE;
  argv[argc++] = (char *)OFT_AGENT;
  argv[argc++] = (char *)"agent";
  argv[argc++] = (char *)"--socket";
  argv[argc++] = socket_path;
  if (config[0] != '\0') {
    argv[argc++] = (char *)"--config";
    argv[argc++] = (char *)config;
  }
  argv[argc] = NULL;
  execve(OFT_NODE, argv, envp);
  report(w, 'E', STAGE_EXEC, errno);
  _exit(127);
}

/*
 * Starts the agent, double-forked so that it is nobody's child of ours. 0 when node was exec'd
 * (*agent_pid set when known), else -1 with why.
 */
static int start_agent(const char *config, pid_t *agent_pid, int64_t deadline, char *why, size_t why_size) {
  int pipe_fds[2], status;
  struct start_report r[4];
  size_t got = 0;
  pid_t child;
  *agent_pid = 0;
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    describe(why, why_size, "cannot start the agent: pipe: %s", strerror(errno));
    return -1;
  }
  child = fork();
  if (child < 0) {
    describe(why, why_size, "cannot start the agent: fork: %s", strerror(errno));
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return -1;
  }
  if (child == 0) {
    pid_t grandchild = fork();
    if (grandchild == 0) become_agent(pipe_fds[1], config);
    if (grandchild < 0) report(pipe_fds[1], 'E', STAGE_FORK, errno);
    else report(pipe_fds[1], 'P', (int32_t)grandchild, 0);
    /* At once: the grandchild is reparented to init (or a subreaper), out of the engine's tree. */
    _exit(0);
  }
  close(pipe_fds[1]);
  /* ECHILD: the caller ignores SIGCHLD, so the kernel reaped it for us. */
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  /* EOF once the grandchild has exec'd (its end is O_CLOEXEC) or died. */
  while (got < sizeof r) {
    struct pollfd p = {.fd = pipe_fds[0], .events = POLLIN};
    int64_t left = deadline - now_ms();
    ssize_t n;
    if (left <= 0) break;
    if (poll(&p, 1, (int)left) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    n = read(pipe_fds[0], (char *)r + got, sizeof r - got);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(pipe_fds[0]);
  for (size_t i = 0; i < got / sizeof r[0]; i++) {
    if (r[i].tag == 'P') *agent_pid = (pid_t)r[i].value;
    if (r[i].tag == 'E') {
      if (r[i].value == STAGE_EXEC)
        describe(why, why_size, "cannot start the agent: cannot run %s: %s", OFT_NODE, strerror(r[i].err));
      else
        describe(why, why_size, "cannot start the agent: fork: %s", strerror(r[i].err));
      return -1;
    }
  }
  return 0;
}

/* False once pid has exited (gone, or a zombie not yet reaped by its new parent). */
static int still_running(pid_t pid) {
  char path[40], stat_text[512];
  ssize_t n;
  int fd;
  char *close_paren;
  snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT && errno != ESRCH;
  n = read(fd, stat_text, sizeof stat_text - 1);
  close(fd);
  if (n <= 0) return 1;
  stat_text[n] = '\0';
  close_paren = strrchr(stat_text, ')');
  return close_paren == NULL || close_paren[1] != ' ' || (close_paren[2] != 'Z' && close_paren[2] != 'X');
}

/* ------------------------------------------------------------------------------------------ */
/* Reaching the agent                                                                         */

/* A connected socket, or -1 with errno. Non-blocking: every wait below has a deadline. */
static int try_connect(void) {
  struct sockaddr_un addr;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
  for (;;) {
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
    if (errno != EINTR) break;
  }
  {
    int e = errno;
    close(fd);
    errno = e;
  }
  return -1;
}

/* mkdir -p of the socket's directory, new components 0700; then it must be a directory of ours. */
static int make_socket_dir(char *why, size_t why_size) {
  char dir[SUN_PATH_MAX];
  struct stat st;
  char *slash;
  strcpy(dir, socket_path);
  slash = strrchr(dir, '/');
  *slash = '\0';
  for (char *p = dir + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        describe(why, why_size, "cannot create %s: %s", dir, strerror(errno));
        return -1;
      }
      *p = saved;
      if (saved == '\0') break;
    }
  }
  /* /tmp/oci-ftrace-<uid> could have been made by someone else, to catch our requests. */
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
    describe(why, why_size, "%s is not a directory owned by uid %lu", dir, (unsigned long)geteuid());
    return -1;
  }
  return 0;
}

/*
 * A socket connected to the agent, starting it if nobody listens (one front door at a time, under
 * the lock), within START_DEADLINE_MS of the first attempt; -1 with why.
 */
/* may_start 0: connect to a running agent or give up (why stays ""), start none. */
static int reach_agent(const char *config, int may_start, char *why, size_t why_size) {
  int64_t deadline = now_ms() + START_DEADLINE_MS, pause = 1;
  char lock_path[SUN_PATH_MAX + 8];
  int lock_fd = -1, locked = 0, started = 0, fd = -1;
  pid_t agent = 0;
  why[0] = '\0';
  for (;;) {
    int e;
    fd = try_connect();
    if (fd >= 0) break;
    e = errno;
    /* EAGAIN: the listen backlog is full (the agent is busy); anything else is not a start matter. */
    if (e != ENOENT && e != ECONNREFUSED && e != EAGAIN) {
      describe(why, why_size, "cannot connect: %s", strerror(e));
      break;
    }
    if (!may_start && e != EAGAIN) break;
    if (!started && e != EAGAIN) {
      if (lock_fd < 0) {
        if (make_socket_dir(why, why_size) != 0) break;
        join(lock_path, sizeof lock_path, socket_path, ".lock");
        lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
        if (lock_fd < 0) {
          describe(why, why_size, "cannot open %s: %s", lock_path, strerror(errno));
          break;
        }
      }
      /* Non-blocking and polled, so that waiting for another starter keeps our own deadline. */
      if (flock(lock_fd, LOCK_EX | LOCK_NB) == 0) locked = 1;
      else if (errno != EWOULDBLOCK && errno != EINTR) {
        describe(why, why_size, "cannot lock %s: %s", lock_path, strerror(errno));
        break;
      }
      if (locked) {
        /* Whoever held the lock before us may have started it since our last attempt. */
        fd = try_connect();
        if (fd >= 0) break;
        if (start_agent(config, &agent, deadline, why, why_size) != 0) break;
        started = 1;
      }
    }
    if (started && agent > 0 && !still_running(agent)) {
      /* It may have found another agent already listening; otherwise it failed. */
      fd = try_connect();
      if (fd < 0) describe(why, why_size, "the agent (pid %ld) exited without listening", (long)agent);
      break;
    }
    if (now_ms() >= deadline) {
      describe(why, why_size, started ? "the agent did not listen within %d s" : "the agent is not listening and was not started within %d s",
               START_DEADLINE_MS / 1000);
      break;
    }
    sleep_ms(pause);
    pause = pause * 2 > 20 ? 20 : pause * 2;
  }
  /* After the first successful connect or the deadline: the next starter may go. */
  if (lock_fd >= 0) close(lock_fd);
  return fd;
}

/* ------------------------------------------------------------------------------------------ */
/* One exchange: the request, then the reply                                                  */

static char send_buffer[64 * 1024];
static char reply[MAX_REPLY + 1];

/*
 * Reads exactly len bytes before the deadline: 0; -2 when the deadline passed; -3 when the agent
 * reset or closed the connection before sending any of them; -1 with why.
 */
static int recv_exact(int fd, char *buf, size_t len, int64_t deadline, char *why, size_t why_size) {
  size_t got = 0;
  while (got < len) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int64_t left = deadline - now_ms();
    ssize_t n;
    if (left <= 0) return -2;
    if (poll(&p, 1, (int)left) < 0) {
      if (errno == EINTR) continue;
      describe(why, why_size, "cannot wait for the reply: %s", strerror(errno));
      return -1;
    }
    n = recv(fd, buf + got, len - got, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) {
      int e = errno;
      describe(why, why_size, "cannot read the reply: %s", strerror(e));
      return got == 0 && e == ECONNRESET ? -3 : -1;
    }
    if (n == 0) {
      describe(why, why_size, "the agent closed the connection without a whole reply");
      return got == 0 ? -3 : -1;
    }
    got += (size_t)n;
  }
  return 0;
}

typedef void (*generator)(struct out *);

/*
 * Sends the message gen writes and reads the reply into reply[], all within wait_ms. The reply's
 * length, or -1 with why; -3 when the agent dropped the connection before any reply (an agent
 * idling out closes its listener on connections not yet accepted: nothing was done with them).
 * Closes fd.
 */
static long exchange(int fd, generator gen, int64_t wait_ms, char *why, size_t why_size) {
  int64_t deadline = now_ms() + wait_ms;
  struct out count = {.sink = COUNT};
  struct out o = {.sink = SOCKET, .buf = send_buffer, .cap = sizeof send_buffer, .fd = fd, .deadline = deadline};
  unsigned char head[4];
  uint32_t n;
  int r;
  gen(&count);
  if (count.total > UINT32_MAX) {
    describe(why, why_size, "the request is too large");
    close(fd);
    return -1;
  }
  head[0] = (unsigned char)(count.total >> 24);
  head[1] = (unsigned char)(count.total >> 16);
  head[2] = (unsigned char)(count.total >> 8);
  head[3] = (unsigned char)count.total;
  emit(&o, (const char *)head, 4);
  gen(&o);
  flush_out(&o);
  if (o.error != 0) {
    r = o.error == ETIMEDOUT ? -2 : -1;
    describe(why, why_size, "cannot send the request: %s", strerror(o.error));
    goto failed;
  }
  if ((r = recv_exact(fd, (char *)head, 4, deadline, why, why_size)) != 0) {
    if (r == -3) {
      close(fd);
      return -3;
    }
    goto failed;
  }
  n = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
  if (n == 0 || n > MAX_REPLY) {
    describe(why, why_size, "malformed reply (a frame of %lu bytes)", (unsigned long)n);
    close(fd);
    return -1;
  }
  if ((r = recv_exact(fd, reply, n, deadline, why, why_size)) != 0) goto failed;
  close(fd);
  reply[n] = '\0';
  return (long)n;
failed:
  /* The deadline counts from the start of the exchange, sending included. */
  if (r == -2) describe(why, why_size, "no reply within %lld s", (long long)(wait_ms / 1000));
  close(fd);
  return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* The reply matcher: {"v":1,"<flag>":true} or {"v":1,"<flag>":false,"message":"..."}, members  */
/* in any order, JSON whitespace allowed; anything else is malformed.                          */

static char *skip_ws(char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int hex4(const char *p, const char *end) {
  int v = 0;
  if (end - p < 4) return -1;
  for (int i = 0; i < 4; i++) {
    int h = hex_value(p[i]);
    if (h < 0) return -1;
    v = v << 4 | h;
  }
  return v;
}

/*
 * Decodes the JSON string starting at *pp (just past its opening quote) in place: the text goes to
 * *out (at most as long as the source), its length to *out_len; *pp ends past the closing quote.
 * 0, or -1 when it is not a JSON string.
 */
static int decode_string(char **pp, const char *end, char **out, size_t *out_len) {
  char *r = *pp, *w = *pp;
  *out = w;
  while (r < end) {
    unsigned char c = (unsigned char)*r++;
    unsigned long cp;
    if (c == '"') {
      *out_len = (size_t)(w - *out);
      *pp = r;
      return 0;
    }
    if (c < 0x20) return -1;
    if (c != '\\') {
      *w++ = (char)c;
      continue;
    }
    if (r >= end) return -1;
    c = (unsigned char)*r++;
    switch (c) {
    case '"': case '\\': case '/': *w++ = (char)c; continue;
    case 'b': *w++ = '\b'; continue;
    case 'f': *w++ = '\f'; continue;
    case 'n': *w++ = '\n'; continue;
    case 'r': *w++ = '\r'; continue;
    case 't': *w++ = '\t'; continue;
    case 'u': break;
    default: return -1;
    }
    {
      int v = hex4(r, end);
      if (v < 0) return -1;
      r += 4;
      cp = (unsigned long)v;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF && end - r >= 6 && r[0] == '\\' && r[1] == 'u') {
      int low = hex4(r + 2, end);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)low - 0xDC00);
        r += 6;
      }
    }
    /* A lone surrogate has no UTF-8 form: the replacement character stands in for it. */
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    /* UTF-8 of at most 4 bytes for at least 6 of escape: w never overtakes r. */
    if (cp < 0x80) {
      *w++ = (char)cp;
    } else if (cp < 0x800) {
      *w++ = (char)(0xC0 | cp >> 6);
      *w++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *w++ = (char)(0xE0 | cp >> 12);
      *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
      *w++ = (char)(0x80 | (cp & 0x3F));
    } else {
      *w++ = (char)(0xF0 | cp >> 18);
      *w++ = (char)(0x80 | (cp >> 12 & 0x3F));
      *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
      *w++ = (char)(0x80 | (cp & 0x3F));
    }
  }
  return -1;
}

static int literal(char **pp, const char *end, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(end - *pp) < n || memcmp(*pp, word, n) != 0) return 0;
  *pp += n;
  return 1;
}

/*
 * Matches reply[0..len) against the two shapes for flag_key ("go" or "ok"): 1 true, 0 false (with
 * the decoded message in *message), -1 malformed.
 */
static int match_reply(size_t len, const char *flag_key, char **message, size_t *message_len) {
  char *p = reply;
  const char *end = reply + len;
  int saw_v = 0, flag = -1, saw_message = 0;
  p = skip_ws(p, end);
  if (p >= end || *p++ != '{') return -1;
  for (;;) {
    char *key;
    size_t key_len;
    p = skip_ws(p, end);
    if (p >= end || *p++ != '"' || decode_string(&p, end, &key, &key_len) != 0) return -1;
    p = skip_ws(p, end);
    if (p >= end || *p++ != ':') return -1;
    p = skip_ws(p, end);
    if (key_len == 1 && key[0] == 'v' && !saw_v) {
      if (!literal(&p, end, "1")) return -1;
      saw_v = 1;
    } else if (key_len == strlen(flag_key) && memcmp(key, flag_key, key_len) == 0 && flag < 0) {
      if (literal(&p, end, "true")) flag = 1;
      else if (literal(&p, end, "false")) flag = 0;
      else return -1;
    } else if (key_len == 7 && memcmp(key, "message", 7) == 0 && !saw_message) {
      if (p >= end || *p++ != '"' || decode_string(&p, end, message, message_len) != 0) return -1;
      saw_message = 1;
    } else {
      return -1;
    }
    /* After a value: a comma and another member, or the end of the object (this also rejects
     * "1" followed by more digits, as in "v":10). */
    p = skip_ws(p, end);
    if (p >= end) return -1;
    if (*p == ',') {
      p++;
      continue;
    }
    if (*p++ != '}') return -1;
    break;
  }
  if (skip_ws(p, end) != end || !saw_v || flag < 0 || saw_message != (flag == 0)) return -1;
  return flag;
}

/* ------------------------------------------------------------------------------------------ */
/* Normal mode: the prepare request                                                           */

static const char *chosen_runtime;
static char start_time[24];

/* Field 22 of /proc/self/stat (start time in clock ticks), or "" when it cannot be read. */
static void read_start_time(void) {
  char text[1024];
  size_t len = 0;
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  start_time[0] = '\0';
  if (fd < 0) return;
  while (len < sizeof text - 1) {
    ssize_t n = read(fd, text + len, sizeof text - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  text[len] = '\0';
  {
    /* The command name (field 2) may hold spaces and parentheses: count from the last ")". */
    char *p = strrchr(text, ')');
    int field = 2;
    if (p == NULL) return;
    p++;
    while (*p != '\0' && field < 22) {
      if (*p++ == ' ') field++;
    }
    for (size_t i = 0; field == 22 && p[i] >= '0' && p[i] <= '9' && i < sizeof start_time - 1; i++) {
      start_time[i] = p[i];
      start_time[i + 1] = '\0';
    }
  }
}

static void write_prepare(struct out *o) {
  emit_str(o, "{\"v\":1,\"kind\":\"prepare\",\"pid\":");
  emit_str(o, pid_text);
  emit_str(o, ",\"start\":");
  emit_string(o, start_time);
  emit_str(o, ",\"cwd\":");
  emit_string(o, cwd_known ? cwd : "");
  emit_str(o, ",\"runtime\":");
  emit_string(o, chosen_runtime);
  emit_str(o, ",\"config\":");
  emit_string(o, config_abs);
  emit_str(o, ",\"argv\":[");
  for (int i = 1; i < arg_count; i++) {
    if (i > 1) emit_str(o, ",");
    emit_string(o, args[i]);
  }
  emit_str(o, "]}");
}

/* Unreachable, timed out or malformed: strict refuses the container, else it runs untraced. */
static void prepare_failed(const char *why) {
  struct facts f;
  read_facts(&f);
  if (f.strict) {
    complain("oci-ftrace-runc: cannot reach the oci-ftrace agent at %s: %s; strict mode refuses the container", socket_path, why);
    exit(1);
  }
  log_untraced(f.log, why, NULL, NULL, 0);
}

/*
 * Asks the agent before a call that may create or enter a container; returns to exec the runtime.
 * enters_only: the call can only enter one (exec). Only an agent traces containers, so with none
 * running there is nothing to join: no agent is started for it (an exec probe every few seconds
 * on a host tracing nothing would pay an agent's start each time), and nothing is logged.
 */
static void prepare(const char *runtime, int enters_only) {
  char why[1024];
  char *message = NULL;
  size_t message_len = 0;
  long len;
  int fd, go;
  chosen_runtime = runtime;
  /* getcwd fails for a deleted cwd or one longer than PATH_MAX; the request then says "" and the
   * agent, which checks every request, decides (strict refuses, else the container runs untraced). */
  cwd_known = getcwd(cwd, sizeof cwd) != NULL && cwd[0] == '/';
  cwd_errno = cwd_known ? 0 : errno != 0 ? errno : ENOENT;
  if (absolute_config(why, sizeof why) != 0 || derive_socket(why, sizeof why) != 0) {
    prepare_failed(why);
    return;
  }
  read_start_time();
  fd = reach_agent(config_abs, !enters_only, why, sizeof why);
  if (fd < 0) {
    if (enters_only && why[0] == '\0') return;
    prepare_failed(why);
    return;
  }
  len = exchange(fd, write_prepare, PREPARE_REPLY_MS, why, sizeof why);
  /* Dropped unanswered by an agent on its way out: once more, with whichever agent is next. */
  if (len == -3 && (fd = reach_agent(config_abs, !enters_only, why, sizeof why)) >= 0) len = exchange(fd, write_prepare, PREPARE_REPLY_MS, why, sizeof why);
  if (len < 0) {
    prepare_failed(why);
    return;
  }
  go = match_reply((size_t)len, "go", &message, &message_len);
  if (go == 1) return;
  if (go < 0) {
    prepare_failed("malformed reply");
    return;
  }
  /* The agent's refusal, as it wrote it (it also wrote the runtime's --log line). */
  if (stderr_open) {
    write_all(STDERR_FILENO, message, message_len);
    write_all(STDERR_FILENO, "\n", 1);
  }
  exit(1);
}

/* ------------------------------------------------------------------------------------------ */
/* Hook mode: argv = oci-ftrace-hook KIND SOCKET WAIT_SECONDS CONFIG, the state on stdin        */

static char state[MAX_STATE + 1];
static size_t state_len;
static const char *hook_kind;

static void write_hook(struct out *o) {
  emit_str(o, "{\"v\":1,\"kind\":\"");
  emit_str(o, hook_kind);
  emit_str(o, "\",\"state\":");
  emit(o, state, state_len);
  emit_str(o, "}");
}

/* The body of the state's first "id":"..." string, when it is a plain JSON string body. */
static const char *find_container_id(size_t *id_len) {
  const char *end = state + state_len;
  for (char *p = state; (p = memmem(p, (size_t)(end - p), "\"id\"", 4)) != NULL; p++) {
    char *q = skip_ws(p + 4, end), *v;
    if (q >= end || *q != ':') continue;
    q = skip_ws(q + 1, end);
    if (q >= end || *q != '"') continue;
    v = ++q;
    /* Copied into our log as it is: it must be a well-formed string body, and short. */
    while (q < end && *q != '"' && q - v < 1024) {
      if ((unsigned char)*q < 0x20) return NULL;
      if (*q != '\\') {
        q++;
        continue;
      }
      if (end - q < 2 || strchr("\"\\/bfnrtu", q[1]) == NULL || q[1] == '\0') return NULL;
      if (q[1] == 'u' && hex4(q + 2, end) < 0) return NULL;
      q += q[1] == 'u' ? 6 : 2;
    }
    if (q >= end || *q != '"') return NULL;
    *id_len = (size_t)(q - v);
    return v;
  }
  return NULL;
}

static int hook_main(int argc, char **argv) {
  char why[1024];
  char *message = NULL;
  size_t message_len = 0;
  long wait_seconds = 0, len;
  int fd, ok;
  const char *config;
  if (argc != 5) {
    complain(HOOK_NAME ": usage: " HOOK_NAME " record|report SOCKET WAIT_SECONDS CONFIG (got %d arguments)", argc - 1);
    return 1;
  }
  hook_kind = argv[1];
  config = argv[4];
  if (strcmp(hook_kind, "record") != 0 && strcmp(hook_kind, "report") != 0) {
    complain(HOOK_NAME ": the kind must be record or report, not \"%s\"", hook_kind);
    return 1;
  }
  if (argv[2][0] != '/' || strlen(argv[2]) >= sizeof socket_path) {
    complain(HOOK_NAME ": the socket must be an absolute path shorter than %zu bytes, not \"%s\"", SUN_PATH_MAX, argv[2]);
    return 1;
  }
  for (const char *p = argv[3]; *p != '\0' && wait_seconds <= 3600; p++) {
    if (*p < '0' || *p > '9') {
      wait_seconds = -1;
      break;
    }
    wait_seconds = wait_seconds * 10 + (*p - '0');
  }
  if (wait_seconds < 1 || wait_seconds > 3600) {
    complain(HOOK_NAME ": WAIT_SECONDS must be a number from 1 to 3600, not \"%s\"", argv[3]);
    return 1;
  }
  /* The agent runs in "/": a relative config would name another file there. */
  if (config[0] != '\0' && config[0] != '/') {
    complain(HOOK_NAME ": the config must be an absolute path or \"\", not \"%s\"", config);
    return 1;
  }
  strcpy(socket_path, argv[2]);
  socket_known = 1;

  /* The runtime's state: all of stdin (one byte more than the limit tells a larger one apart). */
  for (;;) {
    ssize_t n = read(STDIN_FILENO, state + state_len, sizeof state - state_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      complain("oci-ftrace %s: cannot read the state on stdin: %s", hook_kind, strerror(errno));
      return 1;
    }
    if (n == 0) break;
    state_len += (size_t)n;
    if (state_len > MAX_STATE) {
      complain("oci-ftrace %s: the state on stdin is larger than %d bytes", hook_kind, MAX_STATE);
      return 1;
    }
  }
  while (state_len > 0 && (state[state_len - 1] == ' ' || state[state_len - 1] == '\n' || state[state_len - 1] == '\r' ||
                           state[state_len - 1] == '\t'))
    state_len--;
  if (state_len == 0) {
    complain("oci-ftrace %s: no state on stdin", hook_kind);
    return 1;
  }

  fd = reach_agent(config, 1, why, sizeof why);
  len = fd < 0 ? -1 : exchange(fd, write_hook, wait_seconds * 1000, why, sizeof why);
  /* Dropped unanswered by an agent on its way out: once more, with whichever agent is next. */
  if (len == -3 && (fd = reach_agent(config, 1, why, sizeof why)) >= 0) len = exchange(fd, write_hook, wait_seconds * 1000, why, sizeof why);
  ok = len < 0 ? -1 : match_reply((size_t)len, "ok", &message, &message_len);
  if (ok == 1) return 0;
  if (ok == 0) {
    if (stderr_open) {
      char head[64];
      int n = snprintf(head, sizeof head, "oci-ftrace %s: ", hook_kind);
      write_all(STDERR_FILENO, head, (size_t)n);
      write_all(STDERR_FILENO, message, message_len);
      write_all(STDERR_FILENO, "\n", 1);
    }
    return 1;
  }
  if (len >= 0) strcpy(why, "malformed reply");
  {
    struct facts f;
    size_t id_len = 0;
    const char *id;
    read_facts(&f);
    if (f.strict) {
      complain("oci-ftrace %s: cannot reach the oci-ftrace agent at %s: %s", hook_kind, socket_path, why);
      return 1;
    }
    id = find_container_id(&id_len);
    log_untraced(f.log, why, hook_kind, id, id_len);
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
  const char *guard, *runtime;
  static char *no_args[2];
  int sniffed = 0, creates = 0;
  args = argv;
  arg_count = argc;
  stderr_open = fcntl(STDERR_FILENO, F_GETFD) != -1;
  decimal(pid_text, sizeof pid_text, (unsigned long long)getpid());

  if (argc >= 1 && strcmp(base_name(argv[0]), HOOK_NAME) == 0) return hook_main(argc, argv);

  /* The sniff: without one of these words the command line cannot create or enter a container. */
  for (int i = 1; i < argc && !sniffed; i++) {
    const char *a = argv[i];
    creates = strcmp(a, "create") == 0 || strcmp(a, "run") == 0 || strcmp(a, "restore") == 0;
    sniffed = creates || strcmp(a, "exec") == 0;
  }

  runtime = locate_runtime();
  {
    const char *which = getenv(WHICH_RUNTIME_VARIABLE);
    if (which != NULL && strcmp(which, "1") == 0) {
      if (runtime == NULL) {
        complain("%s", lookup_error);
        return 1;
      }
      write_all(STDOUT_FILENO, runtime, strlen(runtime));
      write_all(STDOUT_FILENO, "\n", 1);
      return 0;
    }
  }
  /* Our own pid: a runtime exec'd us again in this process. It is the copy or link of us that
   * the lookup skipped, when there is one (a copy of us exec'd as "the runtime" skips itself),
   * else the runtime we found (a script that execs us). */
  guard = getenv(PID_VARIABLE);
  if (guard != NULL && strcmp(guard, pid_text) == 0 && (skipped_self[0] != '\0' || runtime != NULL)) {
    complain("oci-ftrace-runc: runtime %s runs oci-ftrace-runc again; set OCI_FTRACE_RUNTIME to the real runc or crun",
             skipped_self[0] != '\0' ? skipped_self : runtime);
    return 1;
  }
  if (runtime == NULL) {
    complain("%s", lookup_error);
    return 1;
  }

  if (sniffed) prepare(runtime, !creates);

  if (setenv(PID_VARIABLE, pid_text, 1) != 0) {
    complain("oci-ftrace-runc: cannot run %s: %s", runtime, strerror(errno));
    return 1;
  }
  /* argc is 0 only when our caller passed no argv at all: there is no argv[0] slot to reuse. */
  if (argc < 1) argv = no_args;
  argv[0] = (char *)base_name(runtime);
  execv(runtime, argv);
  {
    int e = errno;
    complain("oci-ftrace-runc: cannot run %s: %s", runtime, strerror(e));
    return e == EACCES ? 126 : e == ENOENT ? 127 : 1;
  }
}
