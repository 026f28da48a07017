#include "flow_set.h"

#include <algorithm>
#include <cmath>

namespace labtel {

namespace {

size_t pow2_at_least(size_t x) {
  size_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

}  // namespace

BucketSet::BucketSet(size_t max_live) : max_live_(std::max<size_t>(max_live, 1)) {
  // Load stays <= 1/2 and, after a rehash, live <= 1/4: rehashes are
  // amortized O(1) per insert even with the table full of live entries.
  max_slots_ = pow2_at_least(4 * max_live_);
  slots_.assign(std::min<size_t>(256, max_slots_), Slot{0, kNever});
  mask_ = slots_.size() - 1;
}

void BucketSet::close_below(int64_t bucket, size_t removed) {
  if (bucket > live_from_) live_from_ = bucket;
  live_ -= std::min(removed, live_);
  if (live_ == 0) {  // nothing live: every slot reads as free, no probe chains to keep
    empty_below_ = live_from_;
    used_ = 0;
  }
}

// Probes past collisions and tombstones; grows or cleans the table when
// the load would pass 1/2.
BucketSet::Result BucketSet::insert_slow(uint64_t h, int64_t bucket) {
  size_t i = h & mask_;
  size_t tomb = SIZE_MAX;
  for (;;) {
    const Slot& s = slots_[i];
    if (s.bucket < empty_below_) break;
    if (s.bucket < live_from_) {
      if (tomb == SIZE_MAX) tomb = i;
    } else if (s.h == h && s.bucket == bucket) {
      return kFound;
    }
    i = (i + 1) & mask_;
  }
  if (live_ >= max_live_) return kFull;
  if (tomb != SIZE_MAX) {
    i = tomb;
  } else if (2 * (used_ + 1) > slots_.size()) {
    rehash();  // after it, live <= 1/4 of the slots: the retry finds room
    return insert_slow(h, bucket);
  } else {
    used_++;
  }
  slots_[i] = Slot{h, bucket};
  live_++;
  return kAdded;
}

// Drops tombstones, growing the table so that live entries fill <= 1/4.
void BucketSet::rehash() {
  size_t size = std::min(max_slots_, std::max(slots_.size(), pow2_at_least(4 * (live_ + 1))));
  std::vector<Slot> old(size, Slot{0, kNever});
  old.swap(slots_);
  mask_ = size - 1;
  for (const Slot& s : old) {
    if (s.bucket < live_from_ || s.bucket < empty_below_) continue;
    size_t i = s.h & mask_;
    while (slots_[i].bucket != kNever) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  empty_below_ = kNever + 1;
  used_ = live_;
}

FlowTable::FlowTable(uint32_t max_entries) : max_entries_(std::max<uint32_t>(max_entries, 1)) {
  max_slots_ = pow2_at_least(2 * max_entries_);
  slots_.assign(std::min<size_t>(1024, max_slots_), Slot{0, kFree, kNoMark});
  mask_ = slots_.size() - 1;
}

bool FlowTable::contains(uint64_t h) const {
  for (size_t i = h & mask_; slots_[i].last != kFree; i = (i + 1) & mask_)
    if (slots_[i].h == h) return true;
  return false;
}

// Inserts an absent flow, first making room (full table) or growing (load
// past 1/2, below the cap).
FlowTable::Touch FlowTable::add(uint64_t h, int64_t t, int64_t idle_ns, int64_t watch) {
  bool evicted = size_ >= max_entries_;
  if (evicted) evict(t, idle_ns, watch);
  else if (2 * (size_ + 1) > slots_.size() && slots_.size() < max_slots_) rebuild(slots_.size() * 2);
  size_t i = free_slot(h);
  slots_[i] = Slot{h, t, kNoMark};
  size_++;
  return Touch{static_cast<uint32_t>(i), true, evicted};
}

// Drops the flows idle longer than idle_ns and the longest-idle eighth of
// the table (at least one flow), then rebuilds it.
void FlowTable::evict(int64_t t, int64_t idle_ns, int64_t watch) {
  watched_.clear();
  size_t target = std::max<size_t>(1, max_entries_ / 8);
  lasts_.clear();
  for (const Slot& s : slots_)
    if (s.last != kFree) lasts_.push_back(s.last);
  target = std::min(target, lasts_.size());
  std::nth_element(lasts_.begin(), lasts_.begin() + static_cast<ptrdiff_t>(target - 1), lasts_.end());
  int64_t thr = lasts_[target - 1];
  size_t below = 0;
  for (int64_t x : lasts_) below += x < thr;
  size_t ties = target - below;  // flows last seen exactly at thr that go too
  for (Slot& s : slots_) {
    if (s.last == kFree) continue;
    bool go = t - s.last > idle_ns || s.last < thr || (s.last == thr && ties > 0);
    if (!go) continue;
    if (s.last == thr && ties > 0 && !(t - s.last > idle_ns)) ties--;
    if ((s.mark >> 2) == watch) watched_.push_back(s.h);
    s.last = kFree;
    size_--;
  }
  rebuild(slots_.size());
}

// Re-inserts every flow into a table of `size` slots.
void FlowTable::rebuild(size_t size) {
  spare_.assign(size, Slot{0, kFree, kNoMark});
  spare_.swap(slots_);
  mask_ = size - 1;
  for (const Slot& s : spare_)
    if (s.last != kFree) slots_[free_slot(s.h)] = s;
  std::vector<Slot>().swap(spare_);
}

uint64_t Hll::estimate() const {
  constexpr double m = 1 << kP;
  double sum = 0;
  int zeros = 0;
  for (uint8_t r : reg_) {
    sum += std::ldexp(1.0, -r);
    zeros += r == 0;
  }
  double e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
  if (e <= 2.5 * m && zeros) e = m * std::log(m / zeros);  // small range: linear counting
  return static_cast<uint64_t>(e + 0.5);
}

}  // namespace labtel
