/*
 * oci-ftrace-runc front door (installed as dist/bin/oci-ftrace-runc).
 *
 * Engines call the runtime many times per container, mostly for commands that create nothing
 * (state, list, start, delete, --version). For those, this program finds the real runtime with the
 * rules of bin/oci-ftrace-runc (_oft_locate_runtime) and src/runtime/locate.ts, and execs it under
 * its own name, without the cost of starting bash. Everything else goes, with the original
 * arguments, to the bash launcher bin/oci-ftrace-runc, which stays the authority: a command line
 * that may create a container, explain mode, a loop, and any case this program does not settle
 * exactly (a lookup error, whose message and runtime log line bash writes; a config file too large
 * for our buffer; PATH unset, where bash uses a default of its own; non-ASCII bytes around the
 * "runtime" key, which bash's regex reads by the locale). Handing over is never wrong, only slower.
 *
 * It writes nothing (but one line when even bash cannot be run), changes no environment variable
 * but OCI_FTRACE_LAUNCHER_PID (as the bash fast path exports it), leaves no descriptor open across
 * exec and allocates nothing but what setenv does.
 *
 * Built by scripts/build-launcher.mjs with -DOFT_PACKAGE_ROOT="<package root>".
 */
/* POSIX.1-2008 with XSI: glibc declares realpath only then. */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef OFT_PACKAGE_ROOT
#error "build with -DOFT_PACKAGE_ROOT=\"/path/to/package\" (scripts/build-launcher.mjs)"
#endif

#define SCRIPT_IN_ROOT "/bin/oci-ftrace-runc"
/* Where this binary sits in the package. */
#define FRONT_DOOR_DIR_IN_ROOT "/dist/bin"
#define MARKER "\n# oci-ftrace-runc launcher\n"
#define MARKER_WINDOW 512
#define DEFAULT_CONFIG "/etc/oci-ftrace/config.json"
#define PID_VARIABLE "OCI_FTRACE_LAUNCHER_PID"
/* Our config is a few hundred bytes; a larger file goes to bash rather than to the heap. */
#define CONFIG_BUFFER (64 * 1024)

static char **args;
static int arg_count;
/* The text of the config file (NUL-terminated), a PATH candidate, the bash launcher's path. */
static char config_text[CONFIG_BUFFER];
static char candidate[PATH_MAX];
static char script[PATH_MAX];

/* Only bash can settle this call: run it with the original arguments. Does not return. */
static void hand_over(void) __attribute__((noreturn));

static int is_space(char c) {
  /* [[:space:]] in the C locale; bytes >= 0x80 are checked for by the callers. */
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Writes s (no stdio: nothing to flush, nothing to set up). */
static void say(const char *s) {
  size_t left = strlen(s);
  while (left > 0) {
    ssize_t n = write(STDERR_FILENO, s, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    s += n;
    left -= (size_t)n;
  }
}

/*
 * bin/oci-ftrace-runc of the package this binary was built in: <root>/dist/bin/<us> resolved
 * through symlinks (npm links bins), else the root compiled in (a copy of this binary elsewhere).
 */
static const char *bash_launcher(void) {
  char exe[PATH_MAX];
  const size_t dir_len = sizeof FRONT_DOOR_DIR_IN_ROOT - 1;
  if (realpath("/proc/self/exe", exe) != NULL) {
    const char *slash = strrchr(exe, '/');
    size_t len = (size_t)(slash - exe);
    if (len >= dir_len && memcmp(slash - dir_len, FRONT_DOOR_DIR_IN_ROOT, dir_len) == 0) {
      struct stat st;
      len -= dir_len;
      if (len + sizeof SCRIPT_IN_ROOT <= sizeof script) {
        memcpy(script, exe, len);
        memcpy(script + len, SCRIPT_IN_ROOT, sizeof SCRIPT_IN_ROOT);
        if (stat(script, &st) == 0 && S_ISREG(st.st_mode)) return script;
      }
    }
  }
  return OFT_PACKAGE_ROOT SCRIPT_IN_ROOT;
}

static void hand_over(void) {
  const char *path = bash_launcher();
  static char *no_args[2];
  char **argv = args;
  /* argc is 0 only when our caller passed no argv at all: there is no argv[0] slot to reuse. */
  if (arg_count < 1) argv = no_args;
  /* bash's $0 comes from the path the kernel runs the script by; argv[0] says the same. */
  argv[0] = (char *)path;
  execv(path, argv);
  {
    const char *why = strerror(errno);
    say("oci-ftrace-runc: cannot run the launcher ");
    say(path);
    say(": ");
    say(why);
    say("\n");
  }
  _exit(1);
}

/* Ourselves, by device and inode: /proc/self/exe under any name (a symlink or hard link to us). */
static int is_this_binary(const struct stat *st) {
  static struct stat self;
  static int known = -1;
  if (known < 0) known = stat("/proc/self/exe", &self) == 0;
  return known && st->st_dev == self.st_dev && st->st_ino == self.st_ino;
}

/* A script whose first 512 bytes hold the marker as a whole line (bin/oci-ftrace-runc or a copy). */
static int has_marker(const char *path) {
  /* One byte in front for the "\n" that lets the marker match on the first line, one behind for NUL. */
  char head[1 + MARKER_WINDOW + 1];
  size_t len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return 0;
  while (len < MARKER_WINDOW) {
    ssize_t n = read(fd, head + 1 + len, MARKER_WINDOW - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  head[0] = '\n';
  head[1 + len] = '\0';
  if (len < 2 || head[1] != '#' || head[2] != '!') return 0;
  /* Bytes as locate.ts reads them, NULs included: the marker holds no NUL, so searching each
   * NUL-free run (strstr stops at a NUL) finds what its includes() finds. */
  for (size_t at = 0; at <= len; at += strlen(head + at) + 1) {
    if (strstr(head + at, MARKER) != NULL) return 1;
  }
  return 0;
}

/* An executable regular file (following symlinks) that is not one of our launchers. */
static int is_runtime(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) != 0) return 0;
  return !is_this_binary(&st) && !has_marker(path);
}

/* The first runtime called NAME in an absolute PATH entry, in candidate; NULL when there is none. */
static const char *find_on_path(const char *name, const char *path) {
  size_t name_len = strlen(name);
  for (const char *dir = path;; dir++) {
    const char *end = strchr(dir, ':');
    size_t len = end != NULL ? (size_t)(end - dir) : strlen(dir);
    /* Empty and relative entries never count: a runtime must not come from the caller's cwd. */
    if (len > 0 && dir[0] == '/') {
      if (dir[len - 1] == '/') len--;
      /* Longer than PATH_MAX: no file has that name, so not a runtime either. */
      if (len + 1 + name_len < sizeof candidate) {
        memcpy(candidate, dir, len);
        candidate[len] = '/';
        memcpy(candidate + len + 1, name, name_len + 1);
        if (is_runtime(candidate)) return candidate;
      }
    }
    if (end == NULL) return NULL;
    dir = end;
  }
}

/*
 * The config file's text into config_text, as the bash launcher reads it (read -r -d ''): up to
 * the first NUL byte; a missing, non-regular or unreadable file reads as empty. Returns 0, or -1
 * when the file is larger than the buffer or a read fails (bash then reads it itself).
 */
static int read_config(void) {
  const char *path = getenv("OCI_FTRACE_CONFIG");
  struct stat st;
  size_t len = 0;
  int fd;
  config_text[0] = '\0';
  if (path == NULL || path[0] == '\0') path = DEFAULT_CONFIG;
  /* bash: [[ -f $config ]]. stat first, so that a FIFO or device is never opened. */
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return 0;
  while (len < sizeof config_text - 1) {
    ssize_t n = read(fd, config_text + len, sizeof config_text - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  config_text[len] = '\0';
  if (len == sizeof config_text - 1 && memchr(config_text, '\0', len) == NULL) return -1;
  return 0;
}

/*
 * The leftmost match of "runtime"[[:space:]]*:[[:space:]]*"([^"\\]*)" in config_text: its group,
 * NUL-terminated in place, or "" when nothing matches. At each start the match is forced (a space
 * run is all spaces, the group stops at the first quote or backslash), so trying starts left to
 * right finds what regexec finds. Hands over to bash when a byte >= 0x80 sits where the match
 * would read it: bash's [[:space:]] and [^...] follow its locale there.
 */
static const char *configured_in_file(void) {
  static const char key[] = "\"runtime\"";
  for (char *p = config_text; (p = strstr(p, key)) != NULL; p++) {
    char *q = p + sizeof key - 1, *value;
    while (is_space(*q)) q++;
    if ((unsigned char)*q >= 0x80) hand_over();
    if (*q != ':') continue;
    q++;
    while (is_space(*q)) q++;
    if ((unsigned char)*q >= 0x80) hand_over();
    if (*q != '"') continue;
    value = ++q;
    while (*q != '\0' && *q != '"' && *q != '\\') {
      if ((unsigned char)*q >= 0x80) hand_over();
      q++;
    }
    if (*q != '"') continue;
    *q = '\0';
    return value;
  }
  return "";
}

/*
 * The real runtime, by the rules of _oft_locate_runtime: OCI_FTRACE_RUNTIME, else the config's
 * "runtime", else runc, else crun on PATH. NULL for anything bash must report (or look up).
 */
static const char *locate_runtime(void) {
  const char *configured = getenv("OCI_FTRACE_RUNTIME");
  const char *path = getenv("PATH");
  const char *found;
  if (configured == NULL || configured[0] == '\0') {
    if (read_config() != 0) return NULL;
    configured = configured_in_file();
  }
  if (configured[0] == '/') return is_runtime(configured) ? configured : NULL;
  if (strchr(configured, '/') != NULL) return NULL;
  /* bash fills an unset PATH with a default compiled into it; only bash knows that one. */
  if (path == NULL) return NULL;
  if (configured[0] != '\0') return find_on_path(configured, path);
  found = find_on_path("runc", path);
  return found != NULL ? found : find_on_path("crun", path);
}

/* n in decimal, as bash writes $$. */
static void decimal(char *out, size_t size, unsigned long n) {
  char digits[24];
  size_t len = 0;
  do {
    digits[len++] = (char)('0' + n % 10);
    n /= 10;
  } while (n > 0 && len < sizeof digits);
  if (len >= size) len = size - 1;
  for (size_t i = 0; i < len; i++) out[i] = digits[len - 1 - i];
  out[len] = '\0';
}

int main(int argc, char **argv) {
  const char *explain = getenv("OCI_FTRACE_LAUNCHER_EXPLAIN");
  const char *guard = getenv(PID_VARIABLE);
  const char *runtime, *name;
  char pid[24];
  args = argv;
  arg_count = argc;
  decimal(pid, sizeof pid, (unsigned long)getpid());

  if (explain != NULL && explain[0] != '\0') hand_over();
  /* Same pid: a runtime exec'd straight back into us; bash stops the loop with its message. */
  if (guard != NULL && strcmp(guard, pid) == 0) hand_over();
  /* Without one of these words the command line cannot create a container (the bash fast path). */
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "create") == 0 || strcmp(argv[i], "run") == 0 || strcmp(argv[i], "restore") == 0) hand_over();
  }

  runtime = locate_runtime();
  if (runtime == NULL) hand_over();
  if (setenv(PID_VARIABLE, pid, 1) != 0) hand_over();
  /* The runtime's own name as argv[0]: runc and crun print it in usage and errors. */
  name = strrchr(runtime, '/');
  argv[0] = (char *)(name != NULL ? name + 1 : runtime);
  execv(runtime, argv);

  /* bash tries again and says why it failed, or runs a script without #! as bash does. Without
   * our variable: to bash, its value being our pid would mean a loop. */
  if (guard != NULL) setenv(PID_VARIABLE, guard, 1);
  else unsetenv(PID_VARIABLE);
  hand_over();
}
