// sd_notify datagrams; see sd_notify.h.
#include "sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace podnet {

int sd_notify_send(const std::string& message) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return 1;
  size_t len = std::strlen(path);
  sockaddr_un sa{};
  if (len >= sizeof sa.sun_path) return -ENAMETOOLONG;
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path, len);
  if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  socklen_t sl = socklen_t(offsetof(sockaddr_un, sun_path) + len);
  ssize_t n = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), sl);
  int err = n < 0 ? -errno : 0;
  close(fd);
  return err;
}

}  // namespace podnet
