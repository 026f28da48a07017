// Bounded hash structures for the bucketizer. Items are identified by a
// 64-bit keyed hash (collision odds ~n^2/2^65: for 10^6 items, 3e-8), which
// keeps every slot 16-24 bytes and every lookup one probe run.
//   BucketSet: distinct items per open bucket, all open buckets in one
//     table; closing a bucket is O(1) (slots of closed buckets read as free).
//   FlowTable: flows seen recently, with an idle timeout and a hard cap:
//     when full, the idle-expired flows and the longest-idle eighth of the
//     table are evicted at once (one O(table) pass per table/8 new flows).
//   Hll: a HyperLogLog sketch for a bucket whose distinct items overflow
//     its BucketSet.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace labtel {

// 64x64->128 multiply folded to 64 bits: the mixing step of the hashes.
inline uint64_t fold_mul(uint64_t a, uint64_t b) {
  unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

// __builtin_prefetch that the optimizer keeps. A function that only
// prefetches has no side effects as GCC sees it: its IPA pass marks it pure
// and drops every call to it whose body it can see (the bucketizer's
// prefetches were gone from every build but the addon's, which called
// prefetch() through the PLT only because it could be interposed). The empty
// volatile asm is the side effect that keeps it.
inline void prefetch_line(const void* p) {
  __builtin_prefetch(p);
  asm volatile("" : : "r"(p));
}

// A bijective 64-bit mixer (splitmix64's finalizer).
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

class BucketSet {
 public:
  enum Result { kFound, kAdded, kFull };

  // At most max_live live entries (all open buckets together).
  explicit BucketSet(size_t max_live);

  // Adds (h, bucket) unless present. kFull: absent and no room.
  Result insert(uint64_t h, int64_t bucket) {
    // Fast case, free of data-dependent branches: h is in, or belongs in,
    // one of its first two slots, and there is room.
    size_t i0 = h & mask_, i1 = (i0 + 1) & mask_;
    Slot& s0 = slots_[i0];
    Slot& s1 = slots_[i1];
    unsigned free0 = s0.bucket < empty_below_, free1 = s1.bucket < empty_below_;
    unsigned match0 = unsigned(s0.h == h) & unsigned(s0.bucket == bucket);
    unsigned match1 = unsigned(s1.h == h) & unsigned(s1.bucket == bucket);
    unsigned found = (free0 ^ 1u) & (match0 | match1);
    unsigned ok = (free0 | match0 | match1 | free1) & (found | (unsigned(live_ < max_live_) & unsigned(2 * (used_ + 1) <= slots_.size())));
    if (__builtin_expect(ok, 1)) {
      Slot& s = (free0 | match0) ? s0 : s1;
      s.h = h;
      s.bucket = bucket;
      live_ += !found;
      used_ += !found;
      return found ? kFound : kAdded;
    }
    return insert_slow(h, bucket);
  }

  // Buckets below `bucket` closed; `removed` live entries belonged to them.
  void close_below(int64_t bucket, size_t removed);

  // Calls f(h) for each item of `bucket` (seeding a sketch; O(table)).
  template <class F>
  void for_bucket(int64_t bucket, F f) const {
    if (bucket < live_from_) return;
    for (const Slot& s : slots_)
      if (s.bucket == bucket) f(s.h);
  }

  void prefetch(uint64_t h) const { prefetch_line(&slots_[h & mask_]); }
  size_t live() const { return live_; }
  size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    uint64_t h;
    int64_t bucket;  // < empty_below_: free; < live_from_: tombstone; else live
  };
  static constexpr int64_t kNever = INT64_MIN;
  Result insert_slow(uint64_t h, int64_t bucket);
  void rehash();

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int64_t empty_below_ = kNever + 1;
  int64_t live_from_ = kNever + 1;
  size_t live_ = 0;
  size_t used_ = 0;  // live + tombstones
  size_t max_live_;
  size_t max_slots_;
};

class FlowTable {
 public:
  static constexpr int64_t kNoMark = INT64_MIN;
  struct Touch {
    uint32_t slot;  // valid until the next touch()
    bool fresh;     // new: absent (now added), or idle for more than idle_ns
    bool evicted;   // adding it evicted flows (see watched_evictions())
  };

  explicit FlowTable(uint32_t max_entries);

  // Looks flow h up at packet time t, adding it (with mark kNoMark) when
  // absent; a full table first evicts. Evicted flows whose mark >> 2 equals
  // `watch` are listed in watched_evictions().
  Touch touch(uint64_t h, int64_t t, int64_t idle_ns, int64_t watch) {
    size_t i = h & mask_;
    for (;;) {
      Slot& s = slots_[i];
      if (s.last == kFree) break;
      if (s.h == h) {
        bool fresh = t - s.last > idle_ns;
        if (t > s.last) s.last = t;
        return Touch{static_cast<uint32_t>(i), fresh, false};
      }
      i = (i + 1) & mask_;
    }
    return add(h, t, idle_ns, watch);
  }
  void prefetch(uint64_t h) const { prefetch_line(&slots_[h & mask_]); }
  // A caller's per-flow word (the bucketizer: bucket * 4 + direction of the
  // packet that last counted it).
  int64_t& mark(uint32_t slot) { return slots_[slot].mark; }
  const std::vector<uint64_t>& watched_evictions() const { return watched_; }
  // Calls f(h, mark) for every flow (O(table)).
  template <class F>
  void for_each(F f) const {
    for (const Slot& s : slots_)
      if (s.last != kFree) f(s.h, s.mark);
  }

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  bool contains(uint64_t h) const;

 private:
  static constexpr int64_t kFree = INT64_MIN;  // packet times never reach it
  struct Slot {
    uint64_t h;
    int64_t last;  // packet time last seen; kFree marks an empty slot
    int64_t mark;
  };
  Touch add(uint64_t h, int64_t t, int64_t idle_ns, int64_t watch);
  void evict(int64_t t, int64_t idle_ns, int64_t watch);
  void rebuild(size_t size);
  size_t free_slot(uint64_t h) const {
    size_t i = h & mask_;
    while (slots_[i].last != kFree) i = (i + 1) & mask_;
    return i;
  }

  std::vector<Slot> slots_;
  std::vector<Slot> spare_;      // rebuild target
  std::vector<int64_t> lasts_;   // evict() scratch
  std::vector<uint64_t> watched_;
  size_t mask_ = 0;
  size_t size_ = 0;
  size_t max_entries_;
  size_t max_slots_;
};

// HyperLogLog with 4096 registers: about 1.6% standard error.
class Hll {
 public:
  Hll() { clear(); }
  void clear() { std::memset(reg_, 0, sizeof reg_); }
  void add(uint64_t h) {
    uint64_t w = h << kP;
    uint8_t rank = w ? static_cast<uint8_t>(__builtin_clzll(w) + 1) : static_cast<uint8_t>(64 - kP + 1);
    uint8_t& r = reg_[h >> (64 - kP)];
    if (rank > r) r = rank;
  }
  uint64_t estimate() const;

 private:
  static constexpr int kP = 12;
  uint8_t reg_[1 << kP];
};

}  // namespace labtel
