// The flow table's state file; see state_file.h.
#include "state_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace podnet {

namespace {

struct StateHeader {
  char magic[8];
  uint32_t layout;
  uint32_t capacity;
  uint32_t entry_size;
  uint32_t record_size;
};

constexpr char kMagic[8] = {'P', 'O', 'D', 'N', 'E', 'T', 'F', 'T'};
constexpr uint32_t kLayout = 2;
constexpr size_t kHeaderBytes = 4096;

}  // namespace

StateFile map_state_file(const std::string& path, uint32_t capacity, size_t record_size, size_t entry_size) {
  size_t rec_bytes = size_t(capacity) * record_size;
  size_t ent_bytes = size_t(capacity) * 2 * entry_size;
  size_t total = kHeaderBytes + rec_bytes + ent_bytes;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  struct stat st{};
  fstat(fd, &st);
  StateHeader want{};
  std::memcpy(want.magic, kMagic, 8);
  want.layout = kLayout;
  want.capacity = capacity;
  want.entry_size = uint32_t(entry_size);
  want.record_size = uint32_t(record_size);
  StateHeader have{};
  bool reuse = size_t(st.st_size) == total && pread(fd, &have, sizeof have, 0) == ssize_t(sizeof have) &&
               std::memcmp(&have, &want, sizeof want) == 0;
  if (!reuse) {
    // Another layout or size: start empty rather than misread old flows.
    if (ftruncate(fd, 0) < 0 || ftruncate(fd, off_t(total)) < 0 ||
        pwrite(fd, &want, sizeof want, 0) != ssize_t(sizeof want)) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error("size " + path + ": " + std::strerror(e));
    }
  }
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw std::runtime_error("mmap " + path + ": " + std::strerror(errno));
  StateFile f;
  f.base = p;
  f.bytes = total;
  f.records = static_cast<uint8_t*>(p) + kHeaderBytes;
  f.entries = static_cast<uint8_t*>(p) + kHeaderBytes + rec_bytes;
  f.restored = reuse;
  return f;
}

}  // namespace podnet
