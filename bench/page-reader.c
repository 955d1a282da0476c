/*
 * The cheapest reader of one CPU's trace_pipe_raw there is, for bench/collector.mjs: pages copied
 * out and dropped, nothing decoded, read as the agent's drain reads them. It waits in poll() for the
 * kernel's wake-up (the instance's buffer_percent), then reads page after page until a read comes
 * back with less than half a page of events: it has caught up with the page the kernel is writing,
 * and reading on would copy a few events a time out of that page (measured: the writer ran 2.9x
 * slower under a reader that did). A read of 0 (caught up, not EAGAIN) waits for the next wake-up
 * too. `cat` is not such a reader: it takes that 0 for the end of the file and stops reading.
 *
 *   page-reader PATH        (until SIGTERM)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The page header (events/header_page): u64 timestamp, then the commit word, whose low bits are the
 * length of the events in the page. */
#define COMMIT_OFFSET 8
#define COMMIT_LENGTH_MASK 0x3fffffffu

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: page-reader PATH\n");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  int fd = open(argv[1], O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    perror(argv[1]);
    return 1;
  }
  long page_size = sysconf(_SC_PAGESIZE);
  static char page[1 << 16];
  if (page_size <= 0 || page_size > (long)sizeof page) page_size = 4096;
  struct pollfd p = {.fd = fd, .events = POLLIN};
  while (!stop) {
    if (poll(&p, 1, 100) < 0 && errno != EINTR) {
      perror("poll");
      return 1;
    }
    while (!stop) {
      ssize_t n = read(fd, page, (size_t)page_size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN) {
        perror("read");
        return 1;
      }
      if (n <= COMMIT_OFFSET + 8) break;
      uint64_t commit;
      memcpy(&commit, page + COMMIT_OFFSET, sizeof commit);
      if ((commit & COMMIT_LENGTH_MASK) < (uint64_t)page_size / 2) break;
    }
  }
  return 0;
}
