/*
 * podnet CNI shim: the binary a runtime execs for every pod when podnetd runs. It forwards the
 * call (CNI_* and PODNET_* variables + stdin) to podnetd's CNI server on a unix socket and
 * prints the answer, so a pod pays a C exec instead of a Node.js start-up. When no server
 * listens (podnetd not running) it execs the Node plugin instead, with stdin untouched.
 * Wire format: see src/cni/server.ts. Build: src/cni/shim/build.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef PODNET_FALLBACK
#define PODNET_FALLBACK "/opt/podnet/bin/podnet"
#endif
#define DEFAULT_SOCKET "/run/podnet/cni.sock"

extern char **environ;

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    p += w; n -= (size_t)w;
  }
  return 0;
}

/* The call was (maybe) half done when the server failed: the runtime must retry (spec code 11),
 * never run it a second time through the fallback. */
static int try_again(const char *why) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"podnet CNI server: %s\"}\n", why);
  write_all(1, buf, (size_t)n);
  return 1;
}

static void fallback(char **argv) {
  const char *alt = getenv("PODNET_CNI_FALLBACK");
  const char *path = alt && *alt ? alt : PODNET_FALLBACK;
  argv[0] = (char *)path;
  execv(path, argv);
  char buf[512];
  int n = snprintf(buf, sizeof buf, "{\"cniVersion\":\"1.0.0\",\"code\":5,\"msg\":\"no podnet CNI server and cannot exec %s: %s\"}\n", path, strerror(errno));
  write_all(1, buf, (size_t)n);
  _exit(1);
}

int main(int argc, char **argv) {
  (void)argc;
  const char *sock_path = getenv("PODNET_CNI_SOCKET");
  if (!sock_path || !*sock_path) sock_path = DEFAULT_SOCKET;

  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(sock_path) >= sizeof addr.sun_path) fallback(argv);
  strcpy(addr.sun_path, sock_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) fallback(argv);

  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "CNI_", 4) != 0 && strncmp(*e, "PODNET_", 7) != 0) continue;
    if (write_all(fd, *e, strlen(*e) + 1) != 0) return try_again("write failed");
  }
  if (write_all(fd, "", 1) != 0) return try_again("write failed");

  char buf[65536];
  for (;;) {
    ssize_t r = read(0, buf, sizeof buf);
    if (r < 0) { if (errno == EINTR) continue; break; }
    if (r == 0) break;
    if (write_all(fd, buf, (size_t)r) != 0) return try_again("write failed");
  }
  shutdown(fd, SHUT_WR);

  /* "<exit code>\n" then stdout verbatim. */
  int code = -1;
  int in_header = 1;
  int header_val = 0;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0) { if (errno == EINTR) continue; return try_again("read failed"); }
    if (r == 0) break;
    ssize_t i = 0;
    while (in_header && i < r) {
      char c = buf[i++];
      if (c == '\n') { in_header = 0; code = header_val; }
      else if (c >= '0' && c <= '9') header_val = header_val * 10 + (c - '0');
      else return try_again("malformed reply");
    }
    if (!in_header && i < r && write_all(1, buf + i, (size_t)(r - i)) != 0) return 1;
  }
  if (code < 0) return try_again("no reply");
  return code;
}
