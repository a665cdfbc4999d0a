#include "partition/batch_split.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

namespace tutti {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Drift tracking: weight of the newest run, runs before acting, and how far off is "drifted".
constexpr double kDriftAlpha = 0.3;
constexpr int kDriftMinSamples = 3;
constexpr double kDriftTolerance = 0.25;

// A relative margin under which two predicted times are the same plan (floating-point noise).
bool Better(double a, double b) { return a < b * (1 - 1e-9); }

Status CheckProcessors(std::span<const BatchSplitProcessor> processors, int64_t batch) {
  if (batch < 1) return InvalidArgument("batch split: batch must be >= 1, got ", batch);
  if (processors.empty()) return InvalidArgument("batch split: no processors");
  for (const auto& p : processors)
    if (!p.table) return InvalidArgument("batch split: processor '", p.name, "' has no batch profile table");
  bool any = false;
  for (const auto& p : processors) any |= p.usable;
  if (!any) return Unavailable("batch split: every processor is excluded");
  return Status::Ok();
}

Status NoFit(std::span<const BatchSplitProcessor> processors, int64_t batch) {
  std::string limits;
  for (const auto& p : processors) {
    if (!p.usable) continue;
    limits += StrCat(limits.empty() ? "" : ", ", p.name, ": ");
    limits += p.table->oom_batch() ? StrCat("out of memory at ", p.table->oom_batch()) : std::string("no limit");
  }
  return OutOfMemory("batch split: a batch of ", batch, " does not fit on these processors (", limits, ")");
}

// Item-by-item greedy over the processors in `use` (the seed's search): every next item goes to
// the processor whose share, grown by one, would end soonest.
Result<std::vector<int64_t>> GreedyShares(std::span<const BatchSplitProcessor> processors, const std::vector<char>& use,
                                          int64_t batch) {
  std::vector<int64_t> items(processors.size(), 0);
  for (int64_t i = 0; i < batch; ++i) {
    int best = -1;
    double best_us = kInf;
    for (size_t p = 0; p < processors.size(); ++p) {
      if (!use[p]) continue;
      double us = processors[p].ShareUs(items[p] + 1);
      if (us < best_us) best_us = us, best = static_cast<int>(p);
    }
    if (best < 0) return NoFit(processors, batch);
    ++items[static_cast<size_t>(best)];
  }
  return items;
}

// Item by item cannot see past a bump in a table (a batch size that runs faster than a smaller
// one, as a better kernel choice at a power of two can make it). So move blocks of items between
// any two processors -- off the one that ends last, or onto it when a larger share runs faster --
// while that ends the batch sooner. Every move lowers the predicted time, so this terminates.
void MoveBlocks(std::span<const BatchSplitProcessor> processors, std::vector<int64_t>& items) {
  const size_t n = processors.size();
  for (;;) {
    double best = 0;
    for (size_t p = 0; p < n; ++p) best = std::max(best, processors[p].ShareUs(items[p]));
    size_t best_from = n, best_to = n;
    int64_t best_k = 0;
    for (size_t from = 0; from < n; ++from) {
      for (size_t to = 0; to < n; ++to) {
        if (to == from) continue;
        double others = 0;
        for (size_t p = 0; p < n; ++p)
          if (p != from && p != to) others = std::max(others, processors[p].ShareUs(items[p]));
        if (!Better(others, best)) continue;
        for (int64_t k = 1; k <= items[from]; ++k) {
          const double t =
              std::max({others, processors[from].ShareUs(items[from] - k), processors[to].ShareUs(items[to] + k)});
          if (Better(t, best)) best = t, best_from = from, best_to = to, best_k = k;
        }
      }
    }
    if (best_to == n) return;
    items[best_from] -= best_k;
    items[best_to] += best_k;
  }
}

Result<std::vector<int64_t>> GreedyThenMove(std::span<const BatchSplitProcessor> processors, const std::vector<char>& use,
                                            int64_t batch) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<int64_t> items, GreedyShares(processors, use, batch));
  std::vector<BatchSplitProcessor> allowed(processors.begin(), processors.end());
  for (size_t p = 0; p < allowed.size(); ++p) allowed[p].usable = use[p];
  MoveBlocks(allowed, items);
  return items;
}

}  // namespace

std::vector<int64_t> BatchProfileSizes(int64_t max_batch) {
  std::set<int64_t> sizes;
  if (max_batch < 1) return {};
  for (int64_t p = 1; p <= max_batch; p *= 2)
    for (int64_t s : {p - 1, p, p + 1})
      if (s >= 1 && s <= max_batch) sizes.insert(s);
  sizes.insert(max_batch);
  return {sizes.begin(), sizes.end()};
}

void BatchProfileTable::RecordOutOfMemory(int64_t batch) {
  if (oom_batch_ == 0 || batch < oom_batch_) oom_batch_ = batch;
  for (auto it = points_.lower_bound(oom_batch_); it != points_.end();) it = points_.erase(it);
}

bool BatchProfileTable::Fits(int64_t batch) const {
  if (batch < 1 || points_.empty()) return false;
  if (oom_batch_ == 0) return true;
  return batch < oom_batch_ && batch <= points_.rbegin()->first;
}

double BatchProfileTable::LatencyUs(int64_t batch) const {
  if (!Fits(batch)) return kInf;
  auto hi = points_.lower_bound(batch);
  if (hi != points_.end() && hi->first == batch) return hi->second;
  if (hi == points_.begin()) return hi->second;  // below the smallest size measured
  auto lo = std::prev(hi);
  if (hi == points_.end())  // above the largest: its time per item
    return lo->second * static_cast<double>(batch) / static_cast<double>(lo->first);
  const double t = static_cast<double>(batch - lo->first) / static_cast<double>(hi->first - lo->first);
  return lo->second + t * (hi->second - lo->second);
}

double BatchProfileTable::BestItemsPerUs() const {
  double best = 0;
  for (const auto& [b, us] : points_)
    if (us > 0) best = std::max(best, static_cast<double>(b) / us);
  return best;
}

bool BatchProfileTable::Observe(int64_t batch, double latency_us) {
  const double predicted = LatencyUs(batch);
  if (!std::isfinite(predicted) || predicted <= 0 || !(latency_us > 0)) return false;
  const double ratio = latency_us / predicted;
  drift_ = drift_samples_ == 0 ? ratio : kDriftAlpha * ratio + (1 - kDriftAlpha) * drift_;
  if (++drift_samples_ < kDriftMinSamples) return false;
  if (drift_ <= 1 + kDriftTolerance && drift_ >= 1 / (1 + kDriftTolerance)) return false;
  for (auto& [b, us] : points_) us *= drift_;
  drift_ = 1;
  drift_samples_ = 0;
  ++refreshes_;
  return true;
}

Result<BatchProfileTable> ProfileBatchTable(const std::function<Status(int64_t)>& run, int64_t max_batch,
                                            const ProfilerOptions& options) {
  if (max_batch < 1) return InvalidArgument("batch profile: maximum batch must be >= 1, got ", max_batch);
  // Every size is a new input shape, and backends settle on a new shape only after a run or two:
  // the first compiles for it, and the GPU backend captures its CUDA graph on the second (a capture
  // costs as much as several runs). Timing either one made the H200's tables twice too slow at
  // large batches, so the planner gave the CPU shares that made the whole slower (2026-12-02).
  ProfilerOptions at_new_size = options;
  at_new_size.warmup_runs = std::max(options.warmup_runs, kWarmupRunsPerBatchSize);
  BatchProfileTable table;
  for (int64_t b : BatchProfileSizes(max_batch)) {
    auto us = ProfileMedianUs([&] { return run(b); }, at_new_size);
    if (!us.ok() && us.status().code() == StatusCode::kOutOfMemory) {
      table.RecordOutOfMemory(b);
      break;
    }
    if (!us.ok()) return us.status().WithContext(StrCat("batch profile at batch ", b));
    table.Record(b, *us);
  }
  if (table.empty()) return OutOfMemory("batch profile: even batch 1 ran out of memory");
  return table;
}

void PutBatchTable(ProfileStore& store, const std::string& model, const std::string& processor,
                   const BatchProfileTable& table) {
  for (const auto& [b, us] : table.points()) store.Put({model, StrCat("batch=", b), processor}, {us, 1});
  if (table.oom_batch()) store.Put({model, StrCat("batch=", table.oom_batch(), "/oom"), processor}, {0, 0});
}

std::optional<BatchProfileTable> FindBatchTable(const ProfileStore& store, const std::string& model,
                                                const std::string& processor) {
  BatchProfileTable table;
  int64_t oom = 0;
  for (const auto& [key, entry] : store.entries()) {
    const auto& [m, sub, proc] = key;
    if (m != model || proc != processor || sub.rfind("batch=", 0) != 0) continue;
    long long b = 0;
    int used = 0;
    if (std::sscanf(sub.c_str() + 6, "%lld%n", &b, &used) != 1 || b < 1) continue;
    const std::string rest = sub.substr(6 + static_cast<size_t>(used));
    if (rest == "/oom") oom = oom == 0 ? b : std::min<int64_t>(oom, b);
    else if (rest.empty()) table.Record(b, entry.latency_us);
  }
  if (oom) table.RecordOutOfMemory(oom);
  if (table.empty()) return std::nullopt;
  return table;
}

double BatchSplitProcessor::TransferUs(int64_t items) const {
  return items <= 0 ? 0 : transfer_fixed_us + transfer_us_per_item * static_cast<double>(items);
}

double BatchSplitProcessor::ShareUs(int64_t items) const {
  if (items <= 0) return 0;
  if (!usable || !table) return kInf;
  return table->LatencyUs(items) + TransferUs(items);
}

Result<BatchSplitPlan> PlanFromShares(std::span<const BatchSplitProcessor> processors, std::span<const int64_t> items,
                                      std::string search) {
  if (items.size() != processors.size())
    return InvalidArgument("batch split: ", items.size(), " shares for ", processors.size(), " processors");
  BatchSplitPlan plan;
  plan.search = std::move(search);
  for (size_t p = 0; p < processors.size(); ++p) {
    const BatchSplitProcessor& proc = processors[p];
    if (items[p] < 0) return InvalidArgument("batch split: negative share for '", proc.name, "'");
    if (items[p] == 0) {
      if (proc.usable) plan.left_out.push_back(static_cast<int>(p));
      continue;
    }
    if (!proc.usable) return InvalidArgument("batch split: share for excluded processor '", proc.name, "'");
    BatchShare s;
    s.processor = static_cast<int>(p);
    s.offset = plan.batch;
    s.items = items[p];
    s.compute_us = proc.table ? proc.table->LatencyUs(s.items) : kInf;
    s.transfer_us = proc.TransferUs(s.items);
    if (!std::isfinite(s.compute_us))
      return OutOfMemory("batch split: a share of ", s.items, " does not fit on '", proc.name, "'",
                         proc.table && proc.table->oom_batch() ? StrCat(" (out of memory at ", proc.table->oom_batch(), ")")
                                                               : std::string());
    plan.batch += s.items;
    plan.predicted_us = std::max(plan.predicted_us, s.us());
    plan.shares.push_back(s);
  }
  return plan;
}

Result<BatchSplitPlan> PlanBatchSplitGreedy(std::span<const BatchSplitProcessor> processors, int64_t batch) {
  TUTTI_RETURN_IF_ERROR(CheckProcessors(processors, batch));
  std::vector<char> use(processors.size());
  for (size_t p = 0; p < processors.size(); ++p) use[p] = processors[p].usable;
  TUTTI_ASSIGN_OR_RETURN(std::vector<int64_t> items, GreedyThenMove(processors, use, batch));
  TUTTI_ASSIGN_OR_RETURN(BatchSplitPlan best, PlanFromShares(processors, items, "greedy"));
  // Item by item, a processor with a large fixed cost (a launch, a transfer) can still be given a
  // few items that end after everything else. Which processors to leave out: every subset of the
  // usable ones when there are few (2^8 greedy runs at most), else dropping one at a time while
  // that is predicted faster.
  std::vector<size_t> usable;
  for (size_t p = 0; p < processors.size(); ++p)
    if (processors[p].usable) usable.push_back(p);
  if (usable.size() <= 8) {
    for (uint32_t mask = 1; mask + 1 < (1u << usable.size()); ++mask) {
      std::vector<char> subset(processors.size(), 0);
      for (size_t i = 0; i < usable.size(); ++i) subset[usable[i]] = (mask >> i) & 1;
      auto other = GreedyThenMove(processors, subset, batch);
      if (!other.ok()) continue;
      auto plan = PlanFromShares(processors, *other, "greedy");
      if (plan.ok() && Better(plan->predicted_us, best.predicted_us)) best = std::move(plan).value();
    }
    return best;
  }
  for (bool improved = true; improved;) {
    improved = false;
    for (const BatchShare& s : std::vector<BatchShare>(best.shares)) {
      if (best.shares.size() < 2) break;
      std::vector<char> fewer = use;
      fewer[static_cast<size_t>(s.processor)] = 0;
      auto other = GreedyThenMove(processors, fewer, batch);
      if (!other.ok()) continue;
      auto plan = PlanFromShares(processors, *other, "greedy");
      if (plan.ok() && Better(plan->predicted_us, best.predicted_us)) {
        best = std::move(plan).value();
        use = fewer;
        improved = true;
        break;
      }
    }
  }
  return best;
}

Result<BatchSplitPlan> PlanBatchSplitExact(std::span<const BatchSplitProcessor> processors, int64_t batch) {
  TUTTI_RETURN_IF_ERROR(CheckProcessors(processors, batch));
  if (batch > kMaxExactBatch)
    return InvalidArgument("batch split: the exact search is limited to batches of ", kMaxExactBatch, ", got ", batch);
  const size_t n = processors.size(), B = static_cast<size_t>(batch);
  // cost[p][s]: share of s items on processor p.
  std::vector<std::vector<double>> cost(n, std::vector<double>(B + 1));
  for (size_t p = 0; p < n; ++p)
    for (size_t s = 0; s <= B; ++s) cost[p][s] = processors[p].ShareUs(static_cast<int64_t>(s));
  // span[b], sum[b]: best (slowest share, then total busy time as a tie-break) for b items over
  // processors 0..p; choice[p][b]: processor p's share in it.
  std::vector<double> span(cost[0]), sum(cost[0]);
  std::vector<std::vector<uint32_t>> choice(n, std::vector<uint32_t>(B + 1, 0));
  for (size_t b = 0; b <= B; ++b) choice[0][b] = static_cast<uint32_t>(b);
  for (size_t p = 1; p < n; ++p) {
    std::vector<double> next_span(B + 1, kInf), next_sum(B + 1, kInf);
    for (size_t b = 0; b <= B; ++b) {
      for (size_t s = 0; s <= b; ++s) {
        const double c = cost[p][s];
        if (!std::isfinite(c)) continue;
        const double m = std::max(span[b - s], c), t = sum[b - s] + c;
        if (Better(m, next_span[b]) || (!Better(next_span[b], m) && t < next_sum[b])) {
          next_span[b] = m;
          next_sum[b] = t;
          choice[p][b] = static_cast<uint32_t>(s);
        }
      }
    }
    span.swap(next_span);
    sum.swap(next_sum);
  }
  if (!std::isfinite(span[B])) return NoFit(processors, batch);
  std::vector<int64_t> items(n, 0);
  size_t left = B;
  for (size_t p = n; p-- > 0;) {
    items[p] = choice[p][left];
    left -= static_cast<size_t>(items[p]);
  }
  return PlanFromShares(processors, items, "exact");
}

Result<BatchSplitPlan> PlanBatchSingle(std::span<const BatchSplitProcessor> processors, int64_t batch) {
  TUTTI_RETURN_IF_ERROR(CheckProcessors(processors, batch));
  size_t best = processors.size();
  for (size_t p = 0; p < processors.size(); ++p)
    if (std::isfinite(processors[p].ShareUs(batch)) &&
        (best == processors.size() || processors[p].ShareUs(batch) < processors[best].ShareUs(batch)))
      best = p;
  if (best == processors.size()) return NoFit(processors, batch);
  std::vector<int64_t> items(processors.size(), 0);
  items[best] = batch;
  return PlanFromShares(processors, items, "single");
}

Result<BatchSplitPlan> PlanBatchEqual(std::span<const BatchSplitProcessor> processors, int64_t batch) {
  TUTTI_RETURN_IF_ERROR(CheckProcessors(processors, batch));
  int64_t n = 0;
  for (const auto& p : processors) n += p.usable;
  std::vector<int64_t> items(processors.size(), 0);
  int64_t k = 0;
  for (size_t p = 0; p < processors.size(); ++p)
    if (processors[p].usable) items[p] = batch / n + (k++ < batch % n ? 1 : 0);
  return PlanFromShares(processors, items, "equal");
}

Result<BatchSplitSearch> ParseBatchSplitSearch(const std::string& s) {
  if (s == "greedy") return BatchSplitSearch::kGreedy;
  if (s == "exact") return BatchSplitSearch::kExact;
  return InvalidArgument("batch split search must be greedy or exact, got '", s, "'");
}

Result<BatchSplitPlan> PlanBatchSplit(std::span<const BatchSplitProcessor> processors, int64_t batch,
                                      const BatchSplitRequest& request) {
  if (request.shares.empty())
    return request.search == BatchSplitSearch::kExact ? PlanBatchSplitExact(processors, batch)
                                                      : PlanBatchSplitGreedy(processors, batch);
  TUTTI_ASSIGN_OR_RETURN(BatchSplitPlan plan, PlanFromShares(processors, request.shares, "given"));
  if (plan.batch != batch)
    return InvalidArgument("batch split: the given shares cover ", plan.batch, " items, the batch has ", batch);
  return plan;
}

std::string DescribeBatchSplitPlan(const BatchSplitPlan& plan, std::span<const BatchSplitProcessor> processors) {
  auto name = [&](int p) {
    return p >= 0 && static_cast<size_t>(p) < processors.size() ? processors[static_cast<size_t>(p)].name : "?";
  };
  std::string out = StrCat(plan.search, ": ", plan.batch, " items in ", plan.predicted_us / 1000, " ms predicted\n");
  for (const BatchShare& s : plan.shares) {
    out += StrCat("  ", name(s.processor), "  items ", s.offset, "-", s.offset + s.items - 1, " (", s.items, ")  ",
                  s.us() / 1000, " ms");
    if (s.transfer_us > 0) out += StrCat(" (", s.transfer_us / 1000, " ms transfer)");
    out += "\n";
  }
  const bool searched = plan.search == "greedy" || plan.search == "exact";
  for (int p : plan.left_out)
    out += StrCat("  ", name(p), searched ? "  left out: a share would not make the batch faster\n" : "  no share\n");
  return out;
}

}  // namespace tutti
