/*
 * closedpaw-probe: a tiny static program that reports, from inside a pod, what
 * the sandbox really allows. Steps run in order, separated by "--"; each prints
 * one line starting with its name, so a test reads the pod log and decides.
 *
 *   info                       uid/gid, capability sets, uname, and the kernel log (gVisor's boot lines)
 *   connect HOST PORT [MS]     "connect HOST:PORT open" or "connect HOST:PORT blocked (reason)"
 *   write PATH                 "write PATH ok" or "write PATH failed (reason)"
 *   fill PATH MIB              writes MIB MiB to PATH, "fill PATH wrote N MiB" (stops at the first error)
 *   cat PATH                   the file, between "cat PATH begin" and "cat PATH end"
 *   sleep SECONDS|forever
 *   serve PORT [TEXT]          listens on 0.0.0.0:PORT, answers every connection with TEXT (never returns)
 *   isolation-check MS HOST:PORT...
 *                              proves the pod's egress policy is enforced before agent code runs: every
 *                              HOST:PORT (an address the policy denies, which accepts connections when
 *                              unfiltered) must refuse or drop a connection within MS milliseconds, else
 *                              it writes the reason to /dev/termination-log and exits 3 (fail closed).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define ATTEMPT_MS 250
#define RETRY_MS 50

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static void sleep_ms(long ms) {
  struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* 0 when a TCP connection to host:port was established within timeout_ms, else an errno. */
static int try_connect(const char *host, int port, int timeout_ms) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return EINVAL;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int result = 0;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    if (errno != EINPROGRESS) {
      result = errno;
    } else {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      int ready = poll(&p, 1, timeout_ms);
      if (ready == 0) {
        result = ETIMEDOUT;
      } else if (ready < 0) {
        result = errno;
      } else {
        socklen_t len = sizeof result;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &len) < 0) result = errno;
      }
    }
  }
  close(fd);
  return result;
}

static int split_target(const char *target, char *host, size_t host_size, int *port) {
  const char *colon = strrchr(target, ':');
  if (!colon || (size_t)(colon - target) >= host_size) return -1;
  memcpy(host, target, (size_t)(colon - target));
  host[colon - target] = '\0';
  *port = atoi(colon + 1);
  return *port > 0 && *port < 65536 ? 0 : -1;
}

static void print_status_field(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  if (!f) {
    printf("info %s unreadable (%s)\n", field, strerror(errno));
    return;
  }
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, field, strlen(field)) == 0) printf("info %s", line);
  }
  fclose(f);
}

static int step_info(void) {
  struct utsname u;
  printf("info uid=%d gid=%d euid=%d\n", (int)getuid(), (int)getgid(), (int)geteuid());
  print_status_field("CapEff:");
  print_status_field("CapPrm:");
  print_status_field("CapBnd:");
  print_status_field("NoNewPrivs:");
  if (uname(&u) == 0) printf("info uname %s %s %s\n", u.sysname, u.release, u.version);
  char log[16384];
  int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof log - 1);
  if (n < 0) {
    printf("info dmesg unavailable (%s)\n", strerror(errno));
  } else {
    log[n] = '\0';
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) printf("info dmesg %s\n", line);
  }
  return 0;
}

static int step_connect(const char *host, const char *port, const char *timeout) {
  int result = try_connect(host, atoi(port), timeout ? atoi(timeout) : 1000);
  if (result == 0) printf("connect %s:%s open\n", host, port);
  else printf("connect %s:%s blocked (%s)\n", host, port, strerror(result));
  return 0;
}

static int step_write(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, "x\n", 2) != 2) {
    printf("write %s failed (%s)\n", path, strerror(errno));
    if (fd >= 0) close(fd);
    return 0;
  }
  close(fd);
  printf("write %s ok\n", path);
  return 0;
}

static int step_fill(const char *path, const char *mib_text) {
  static char block[1 << 20];
  memset(block, 'x', sizeof block);
  long mib = atol(mib_text), written = 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    printf("fill %s failed (%s)\n", path, strerror(errno));
    return 0;
  }
  for (; written < mib; written++) {
    if (write(fd, block, sizeof block) != (ssize_t)sizeof block) {
      printf("fill %s stopped after %ld MiB (%s)\n", path, written, strerror(errno));
      close(fd);
      return 0;
    }
  }
  fsync(fd);
  close(fd);
  printf("fill %s wrote %ld MiB\n", path, written);
  return 0;
}

static int step_cat(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    printf("cat %s failed (%s)\n", path, strerror(errno));
    return 0;
  }
  printf("cat %s begin\n", path);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
  printf("\ncat %s end\n", path);
  fclose(f);
  return 0;
}

static int step_sleep(const char *seconds) {
  printf("sleep %s\n", seconds);
  fflush(stdout);
  if (strcmp(seconds, "forever") == 0) {
    for (;;) pause();
  }
  sleep_ms(atol(seconds) * 1000L);
  return 0;
}

static int step_serve(const char *port, const char *text) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 64) < 0) {
    printf("serve %s failed (%s)\n", port, strerror(errno));
    return 1;
  }
  printf("serve %s listening\n", port);
  fflush(stdout);
  for (;;) {
    int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0) continue;
    dprintf(client, "%s\n", text ? text : "closedpaw-probe");
    close(client);
  }
}

static void fail_closed(const char *reason) {
  printf("isolation-check failed: %s\n", reason);
  fflush(stdout);
  int fd = open("/dev/termination-log", O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd >= 0) {
    dprintf(fd, "isolation not proven: %s\n", reason);
    close(fd);
  }
  exit(3);
}

static int step_isolation_check(int count, char **targets) {
  if (count < 2) fail_closed("usage: isolation-check MS HOST:PORT...");
  long within = atol(targets[0]);
  long started = now_ms();
  char reason[512];
  for (int i = 1; i < count; i++) {
    char host[64];
    int port, attempts = 0;
    if (split_target(targets[i], host, sizeof host, &port) < 0) {
      snprintf(reason, sizeof reason, "bad target %s (want IPv4:PORT)", targets[i]);
      fail_closed(reason);
    }
    for (;;) {
      attempts++;
      int result = try_connect(host, port, ATTEMPT_MS);
      if (result != 0) {
        printf("isolation-check %s blocked (%s) after %ld ms, %d attempts\n", targets[i], strerror(result),
               now_ms() - started, attempts);
        break;
      }
      if (now_ms() - started >= within) {
        snprintf(reason, sizeof reason, "%s still reachable after %ld ms (%d attempts): egress policy not enforced",
                 targets[i], now_ms() - started, attempts);
        fail_closed(reason);
      }
      sleep_ms(RETRY_MS);
    }
  }
  printf("isolation-check proven in %ld ms\n", now_ms() - started);
  return 0;
}

static int run_step(int argc, char **argv) {
  const char *name = argv[0];
  const char *a1 = argc > 1 ? argv[1] : NULL, *a2 = argc > 2 ? argv[2] : NULL, *a3 = argc > 3 ? argv[3] : NULL;
  if (strcmp(name, "info") == 0) return step_info();
  if (strcmp(name, "connect") == 0 && a2) return step_connect(a1, a2, a3);
  if (strcmp(name, "write") == 0 && a1) return step_write(a1);
  if (strcmp(name, "fill") == 0 && a2) return step_fill(a1, a2);
  if (strcmp(name, "cat") == 0 && a1) return step_cat(a1);
  if (strcmp(name, "sleep") == 0 && a1) return step_sleep(a1);
  if (strcmp(name, "serve") == 0 && a1) return step_serve(a1, a2);
  if (strcmp(name, "isolation-check") == 0) return step_isolation_check(argc - 1, argv + 1);
  fprintf(stderr, "closedpaw-probe: unknown or incomplete step '%s' (see the header of hack/images/probe.c)\n", name);
  return 2;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int start = 1;
  for (int i = 1; i <= argc; i++) {
    if (i == argc || strcmp(argv[i], "--") == 0) {
      if (i > start) {
        int status = run_step(i - start, argv + start);
        if (status != 0) return status;
      }
      start = i + 1;
    }
  }
  if (argc < 2) {
    fprintf(stderr, "usage: closedpaw-probe STEP [ARGS] [-- STEP [ARGS]]...\n");
    return 2;
  }
  return 0;
}
