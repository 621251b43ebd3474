// Counter slot allocation for the service table; see service_table.h.
#include "service_table.h"

namespace podnet {

SlotPool::SlotPool(uint32_t capacity) : capacity_(capacity) {
  free_.reserve(capacity);
  for (uint32_t i = capacity; i-- > 0;) free_.push_back(i);
}

uint32_t SlotPool::take() {
  if (free_.empty()) return UINT32_MAX;
  uint32_t s = free_.back();
  free_.pop_back();
  return s;
}

void SlotPool::give(uint32_t slot) {
  if (slot < capacity_) free_.push_back(slot);
}

}  // namespace podnet
