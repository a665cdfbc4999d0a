#include "partition/batch_split_executor.h"

#include <chrono>
#include <filesystem>

#include "runtime/input_check.h"
#include "runtime/session.h"

namespace tutti {

// One per processor: the only thread that runs that processor's compiled model (executables are
// not re-entrant), pinned to its cores so profiles and runs measure the cores they name.
struct BatchSplitExecutor::Worker {
  std::thread thread;
  std::mutex mu;  // guards tasks, stop
  std::condition_variable cv;
  std::deque<std::shared_ptr<std::packaged_task<Status()>>> tasks;
  bool stop = false;
};

namespace {

double NowUs() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Range {
  int64_t offset = 0, items = 0;
};

}  // namespace

BatchSplitExecutor::BatchSplitExecutor(std::shared_ptr<const Graph> graph, BatchSplitOptions options)
    : graph_(std::move(graph)), options_(std::move(options)) {}

BatchSplitExecutor::~BatchSplitExecutor() {
  for (auto& w : workers_) {
    std::lock_guard<std::mutex> lock(w->mu);
    w->stop = true;
    w->cv.notify_all();
  }
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

Result<std::unique_ptr<BatchSplitExecutor>> BatchSplitExecutor::Create(Graph graph, std::vector<ProcessorSpec> processors,
                                                                       BatchSplitOptions options) {
  if (processors.empty()) return InvalidArgument("batch split: no processors given");
  TUTTI_RETURN_IF_ERROR(PrepareGraph(graph, options.optimize));
  for (ValueId v : graph.inputs()) {
    const Value& in = graph.value(v);
    if (!in.info.shape || in.info.shape->empty())
      return InvalidArgument("batch split: input '", in.name, "' has no leading batch dimension");
  }
  std::unique_ptr<BatchSplitExecutor> x(
      new BatchSplitExecutor(std::make_shared<const Graph>(std::move(graph)), std::move(options)));
  x->model_key_ = ProfileStore::ModelKey(x->graph_->Fingerprint());
  if (!x->options_.profile_file.empty()) {
    TUTTI_ASSIGN_OR_RETURN(x->store_, ProfileStore::Load(x->options_.profile_file));
  }
  for (ProcessorSpec& spec : processors) {
    for (const auto& p : x->processors_)
      if (p->name() == spec.name) return InvalidArgument("batch split: two processors are named '", spec.name, "'");
    TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<Processor> p, Processor::Create(std::move(spec)));
    TUTTI_RETURN_IF_ERROR(CheckBackendSupports(*x->graph_, p->backend()).WithContext(StrCat("processor '", p->name(), "'")));
    x->compiled_.push_back(std::make_unique<CompiledModel>(x->graph_, p->backend(), p->compile_options()));
    x->processors_.push_back(std::move(p));
  }
  x->tables_.resize(x->processors_.size());
  for (size_t i = 0; i < x->processors_.size(); ++i) {
    x->workers_.push_back(std::make_unique<Worker>());
    Worker* w = x->workers_.back().get();
    const Processor* proc = x->processors_[i].get();
    w->thread = std::thread([w, proc] {
      (void)proc->PinCurrentThread();  // unpinned still runs correctly; profiles then say so by their times
      std::unique_lock<std::mutex> lock(w->mu);
      for (;;) {
        w->cv.wait(lock, [w] { return w->stop || !w->tasks.empty(); });
        if (w->tasks.empty()) return;
        auto task = std::move(w->tasks.front());
        w->tasks.pop_front();
        lock.unlock();
        (*task)();
        lock.lock();
      }
    });
  }
  return x;
}

std::future<Status> BatchSplitExecutor::Post(int p, std::function<Status()> task) {
  auto packaged = std::make_shared<std::packaged_task<Status()>>([task = std::move(task)]() -> Status {
    try {
      return task();
    } catch (const std::bad_alloc&) {
      return OutOfMemory("host allocation failed");
    } catch (const std::exception& e) {
      return Internal("exception: ", e.what());
    }
  });
  std::future<Status> done = packaged->get_future();
  Worker& w = *workers_[static_cast<size_t>(p)];
  std::lock_guard<std::mutex> lock(w.mu);
  w.tasks.push_back(std::move(packaged));
  w.cv.notify_one();
  return done;
}

void BatchSplitExecutor::InjectFailure(int processor, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  injected_[processor] = std::move(status);
}

Status BatchSplitExecutor::RunShare(int p, std::span<const Tensor> inputs, std::vector<Tensor>& outputs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = injected_.find(p);
    if (it != injected_.end()) return it->second;
  }
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  TUTTI_ASSIGN_OR_RETURN(Executable * exe, compiled_[static_cast<size_t>(p)]->Get(shapes));
  return exe->Run(inputs, outputs);
}

Status BatchSplitExecutor::SaveTables() {
  if (options_.profile_file.empty()) return Status::Ok();
  for (size_t p = 0; p < processors_.size(); ++p)
    if (!tables_[p].empty()) PutBatchTable(store_, model_key_, processors_[p]->spec().ProfileKey(), tables_[p]);
  return store_.Save(options_.profile_file);
}

Status BatchSplitExecutor::Profile(int64_t max_batch) {
  if (max_batch < 1) return InvalidArgument("batch profile: maximum batch must be >= 1, got ", max_batch);
  bool measured = false;
  for (int p = 0; p < processor_count(); ++p) {
    const std::string key = processors_[static_cast<size_t>(p)]->spec().ProfileKey();
    std::optional<BatchProfileTable> stored;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stored = FindBatchTable(store_, model_key_, key);
    }
    if (stored && stored->Covers(max_batch)) {
      std::lock_guard<std::mutex> lock(mu_);
      tables_[static_cast<size_t>(p)] = *stored;
      continue;
    }
    // One processor at a time, so no profile shares the machine with another.
    Result<BatchProfileTable> table = Internal("not profiled");
    Status ran = Post(p, [&]() -> Status {
                   table = ProfileBatchTableWithZeros(
                       *graph_, [&](std::span<const Tensor> in, std::vector<Tensor>& out) { return RunShare(p, in, out); },
                       max_batch, options_.profiler);
                   return table.status();
                 }).get();
    if (!ran.ok()) return ran.WithContext(StrCat("profiling processor '", processors_[static_cast<size_t>(p)]->name(), "'"));
    std::lock_guard<std::mutex> lock(mu_);
    tables_[static_cast<size_t>(p)] = std::move(table).value();
    measured = true;
  }
  if (!measured) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  return SaveTables();
}

std::vector<BatchSplitProcessor> BatchSplitExecutor::PlannerProcessors() const {
  std::vector<BatchSplitProcessor> out;
  for (size_t p = 0; p < processors_.size(); ++p) out.push_back({processors_[p]->name(), &tables_[p]});
  return out;
}

Result<BatchSplitPlan> BatchSplitExecutor::Plan(int64_t batch, BatchSplitSearch search) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t p = 0; p < tables_.size(); ++p)
    if (tables_[p].empty())
      return FailedPrecondition("batch split: processor '", processors_[p]->name(), "' has no batch table (Profile first)");
  auto procs = PlannerProcessors();
  return PlanBatchSplit(procs, batch, {search, {}});
}

Result<std::vector<Tensor>> BatchSplitExecutor::RunOn(int processor, std::span<const Tensor> inputs) {
  if (processor < 0 || processor >= processor_count()) return InvalidArgument("no processor ", processor);
  TUTTI_RETURN_IF_ERROR(CheckInputs(*graph_, inputs).status());
  std::vector<Tensor> outputs;
  TUTTI_RETURN_IF_ERROR(Post(processor, [&] { return RunShare(processor, inputs, outputs); }).get());
  return outputs;
}

Result<BatchSplitResult> BatchSplitExecutor::Run(std::span<const Tensor> inputs, const BatchSplitRequest& request) {
  const double t0 = NowUs();
  TUTTI_RETURN_IF_ERROR(CheckInputs(*graph_, inputs).status().WithContext("batch split"));
  TUTTI_ASSIGN_OR_RETURN(const int64_t batch, CommonBatch(*graph_, inputs));
  BatchSplitResult result;
  TUTTI_ASSIGN_OR_RETURN(result.outputs, output_shapes_.Allocate(*graph_, inputs, batch));

  // The planner works on a snapshot of the tables: online observations may rescale them meanwhile.
  std::vector<BatchProfileTable> tables;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tables = tables_;
  }
  std::vector<BatchSplitProcessor> procs;
  for (size_t p = 0; p < processors_.size(); ++p) {
    if (tables[p].empty())
      return FailedPrecondition("batch split: processor '", processors_[p]->name(), "' has no batch table (Profile first)");
    procs.push_back({processors_[p]->name(), &tables[p]});
  }
  TUTTI_ASSIGN_OR_RETURN(result.plan, PlanBatchSplit(procs, batch, request));

  // Rounds: run every share concurrently; the ranges whose processor failed are re-planned over
  // the processors that have not failed, until none is left over or no processor is.
  struct Attempt {
    int processor;
    Range range;
    std::vector<Tensor> ins, outs;
    double us = 0;
    std::future<Status> done;
  };
  std::vector<BatchShare> round = result.plan.shares;
  bool first = true;
  while (!round.empty()) {
    std::vector<std::unique_ptr<Attempt>> attempts;
    for (const BatchShare& s : round) {
      auto a = std::make_unique<Attempt>();
      a->processor = s.processor;
      a->range = {s.offset, s.items};
      a->ins = SliceRows(inputs, s.offset, s.items);
      a->outs = SliceRows(result.outputs, s.offset, s.items);
      Attempt* raw = a.get();
      a->done = Post(s.processor, [this, raw] {
        const double start = NowUs();
        Status st = RunShare(raw->processor, raw->ins, raw->outs);
        raw->us = NowUs() - start;
        return st;
      });
      attempts.push_back(std::move(a));
    }
    // Every attempt ends before any is looked at: the workers write through these slices.
    std::vector<Status> statuses;
    for (auto& a : attempts) statuses.push_back(a->done.get());
    std::vector<Range> failed;
    for (size_t k = 0; k < attempts.size(); ++k) {
      const auto& a = attempts[k];
      const Status& st = statuses[k];
      if (first) result.measured_us.push_back(st.ok() ? a->us : -1);
      const std::string& name = processors_[static_cast<size_t>(a->processor)]->name();
      if (!st.ok()) {
        result.failures.push_back(name + ": " + st.message());
        procs[static_cast<size_t>(a->processor)].usable = false;
        failed.push_back(a->range);
        continue;
      }
      TUTTI_ASSIGN_OR_RETURN(const bool in_place,
                             StoreShareRows(result.outputs, a->outs, a->range.offset, a->range.items, name));
      result.in_place &= in_place;
      std::lock_guard<std::mutex> lock(mu_);
      if (tables_[static_cast<size_t>(a->processor)].Observe(a->range.items, a->us)) (void)SaveTables();
    }
    first = false;
    round.clear();
    for (const Range& r : failed) {
      ++result.reruns;
      auto plan = PlanBatchSplitGreedy(procs, r.items);
      if (!plan.ok()) {
        std::string why;
        for (const auto& f : result.failures) why += (why.empty() ? "" : "; ") + f;
        return plan.status().WithContext(StrCat("batch split: items ", r.offset, "-", r.offset + r.items - 1,
                                                " could not be re-run after failures (", why, ")"));
      }
      for (BatchShare s : plan->shares) {
        s.offset += r.offset;
        round.push_back(s);
      }
    }
  }
  result.wall_us = NowUs() - t0;
  return result;
}

}  // namespace tutti
