// systemd's readiness protocol (sd_notify(3)): one datagram to the unix socket named by
// $NOTIFY_SOCKET ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=..."). Node has no unix
// datagram sockets, so it lives here. Abstract socket names start with '@'.
#pragma once
#include <string>

namespace podnet {

// Returns 0 when sent, 1 when $NOTIFY_SOCKET is unset (not under systemd), or -errno.
int sd_notify_send(const std::string& message);

}  // namespace podnet
