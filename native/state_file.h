// The flow table's state file (EngineOptions.stateFile, e.g. /run/podnet/flows): the flow
// records and both index entries of every flow, mapped MAP_SHARED so they survive the
// process. A restarted podnetd keeps every connection's backend and NAT state; the hash
// index, the stripe locks and the free list are rebuilt from the records (flow_table.cc),
// so a process killed in the middle of an insert or a removal leaves nothing half-linked.
//
// Layout: a 4 KiB header (magic, layout version, capacity, entry and record sizes), then
// capacity records, then 2 x capacity entries. A file of another layout or size is started
// afresh rather than misread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace podnet {

struct StateFile {
  void* base = nullptr;  // the whole mapping (munmap(base, bytes))
  size_t bytes = 0;
  void* records = nullptr;
  void* entries = nullptr;
  bool restored = false;  // the file held flows of the same layout
};

// Opens or creates the file and maps it; throws std::runtime_error naming the failed step.
StateFile map_state_file(const std::string& path, uint32_t capacity, size_t record_size, size_t entry_size);

}  // namespace podnet
