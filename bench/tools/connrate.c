/* Connection-rate client and server for podnet's benchmark (bench/tools/connrate.ts compiles this into
 * a temp dir at bench time). Node's net is too slow to measure kernel-speed connection rates.
 *
 *   connrate server PORT THREADS      blocking accept loops on one listening socket; per
 *                                     connection: read 16 B, write 16 B, close (server closes
 *                                     first, so TIME_WAIT lands on the server and the client's
 *                                     ephemeral ports never run out).
 *   connrate client HOST PORT CLIENTS SECONDS
 *                                     CLIENTS threads: connect, write 16 B, read 16 B, read EOF,
 *                                     close; prints one JSON line with the totals.
 * IPv4 and IPv6 literals both work. Prints "listening" when the server is bound. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int listen_fd;
static const struct timeval io_timeout = { .tv_sec = 2, .tv_usec = 0 };

static int read_full(int fd, char *buf, int n) {
  int got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (int)r;
  }
  return 0;
}

static void *serve(void *arg) {
  (void)arg;
  char buf[16];
  memset(buf, 's', sizeof buf);
  for (;;) {
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0) { if (errno == EINTR || errno == ECONNABORTED) continue; perror("accept"); continue; }
    /* A client that vanished (its namespace deleted mid-run) must not hold this thread forever. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &io_timeout, sizeof io_timeout);
    if (read_full(fd, buf, 16) == 0) { ssize_t w = write(fd, buf, 16); (void)w; }
    close(fd);
  }
  return NULL;
}

static int server(int port, int threads) {
  listen_fd = socket(AF_INET6, SOCK_STREAM, 0);
  int one = 1, zero = 0;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any };
  if (bind(listen_fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
  if (listen(listen_fd, 4096) < 0) { perror("listen"); return 1; }
  printf("listening\n");
  fflush(stdout);
  pthread_t t;
  for (int i = 1; i < threads; i++) pthread_create(&t, NULL, serve, NULL);
  serve(NULL);
  return 0;
}

static struct sockaddr_storage target;
static socklen_t target_len;
static double deadline;
static atomic_long total_ok, total_err;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *client(void *arg) {
  (void)arg;
  char buf[16], rbuf[16];
  memset(buf, 'c', sizeof buf);
  long ok = 0, err = 0;
  while (now() < deadline) {
    int fd = socket(target.ss_family, SOCK_STREAM, 0);
    if (fd < 0) { err++; continue; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* A lost reply counts as an error instead of stalling the run past its deadline. */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &io_timeout, sizeof io_timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &io_timeout, sizeof io_timeout);
    if (connect(fd, (struct sockaddr *)&target, target_len) < 0 ||
        write(fd, buf, 16) != 16 || read_full(fd, rbuf, 16) != 0 || read(fd, rbuf, 1) != 0) {
      err++;
    } else {
      ok++;
    }
    close(fd);
  }
  atomic_fetch_add(&total_ok, ok);
  atomic_fetch_add(&total_err, err);
  return NULL;
}

static int run_client(const char *host, int port, int clients, double seconds) {
  memset(&target, 0, sizeof target);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&target;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&target;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET; a4->sin_port = htons(port); target_len = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6; a6->sin6_port = htons(port); target_len = sizeof *a6;
  } else {
    fprintf(stderr, "bad address %s\n", host);
    return 2;
  }
  pthread_t *ts = calloc(clients, sizeof *ts);
  double t0 = now();
  deadline = t0 + seconds;
  for (int i = 0; i < clients; i++) pthread_create(&ts[i], NULL, client, NULL);
  for (int i = 0; i < clients; i++) pthread_join(ts[i], NULL);
  double el = now() - t0;
  printf("{\"connections\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"perSec\":%.1f}\n",
         atomic_load(&total_ok), atomic_load(&total_err), el, atomic_load(&total_ok) / el);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "server") == 0) return server(atoi(argv[2]), atoi(argv[3]));
  if (argc == 6 && strcmp(argv[1], "client") == 0)
    return run_client(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]));
  fprintf(stderr, "usage: connrate server PORT THREADS | client HOST PORT CLIENTS SECONDS\n");
  return 2;
}
