// The profile file: measured latencies reused across runs, so a second `tutti workload` starts
// scheduling with good estimates instead of profiling again. Keyed by model content
// (Graph::Fingerprint, so an edited model is profiled afresh), candidate subgraph and processor
// (ProcessorSpec::ProfileKey: device, cores, threads).
//
//   {"format": "tutti-profile", "version": 1,
//    "entries": [{"model": "9f1c...", "subgraph": "0-3", "processor": "cpu/threads=1/cores=0",
//                 "latency_us": 812.5, "samples": 20}]}
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "core/status.h"

namespace tutti {

struct ProfileEntry {
  double latency_us = 0;
  int samples = 0;
};

class ProfileStore {
 public:
  using Key = std::tuple<std::string, std::string, std::string>;  // model, subgraph, processor

  // A missing file is an empty store; a malformed one is an error naming the file and field.
  static Result<ProfileStore> Load(const std::string& path);
  Status Save(const std::string& path) const;

  static std::string ModelKey(uint64_t fingerprint);             // 16 hex digits
  static std::string SubgraphKey(int first_unit, int end_unit);  // "0-3" (end exclusive)

  const ProfileEntry* Find(const Key& key) const;
  void Put(const Key& key, ProfileEntry entry) { entries_[key] = entry; }
  size_t size() const { return entries_.size(); }
  const std::map<Key, ProfileEntry>& entries() const { return entries_; }

 private:
  std::map<Key, ProfileEntry> entries_;
};

}  // namespace tutti
