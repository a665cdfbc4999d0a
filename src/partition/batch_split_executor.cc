#include "partition/batch_split_executor.h"

#include <chrono>
#include <cstring>
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

Result<BatchSplitSearch> ParseBatchSplitSearch(const std::string& s) {
  if (s == "greedy") return BatchSplitSearch::kGreedy;
  if (s == "exact") return BatchSplitSearch::kExact;
  return InvalidArgument("batch split search must be greedy or exact, got '", s, "'");
}

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

Result<std::vector<Tensor>> BatchSplitExecutor::ZeroInputs(int64_t batch) const {
  std::vector<Tensor> inputs;
  for (ValueId v : graph_->inputs()) {
    const Value& in = graph_->value(v);
    Shape shape{batch};
    for (size_t d = 1; d < in.info.shape->size(); ++d) {
      const Dim& dim = (*in.info.shape)[d];
      if (!dim.known())
        return InvalidArgument("batch profile: input '", in.name, "' dim ", d, " (", dim.symbol,
                               ") is symbolic; only the leading batch dim may be");
      shape.push_back(dim.value);
    }
    TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Zeros(in.info.dtype, shape));
    inputs.push_back(std::move(t));
  }
  return inputs;
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
    if (stored && (stored->oom_batch() || stored->points().rbegin()->first >= max_batch)) {
      std::lock_guard<std::mutex> lock(mu_);
      tables_[static_cast<size_t>(p)] = *stored;
      continue;
    }
    // One processor at a time, so no profile shares the machine with another.
    Result<BatchProfileTable> table = Internal("not profiled");
    Status ran = Post(p, [&]() -> Status {
                   table = ProfileBatchTable(
                       [&](int64_t b) -> Status {
                         TUTTI_ASSIGN_OR_RETURN(std::vector<Tensor> in, ZeroInputs(b));
                         std::vector<Tensor> out;
                         return RunShare(p, in, out);
                       },
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
  return search == BatchSplitSearch::kExact ? PlanBatchSplitExact(procs, batch) : PlanBatchSplitGreedy(procs, batch);
}

Result<std::vector<Tensor>> BatchSplitExecutor::RunOn(int processor, std::span<const Tensor> inputs) {
  if (processor < 0 || processor >= processor_count()) return InvalidArgument("no processor ", processor);
  TUTTI_RETURN_IF_ERROR(CheckInputs(*graph_, inputs).status());
  std::vector<Tensor> outputs;
  TUTTI_RETURN_IF_ERROR(Post(processor, [&] { return RunShare(processor, inputs, outputs); }).get());
  return outputs;
}

Result<std::vector<TensorInfo>> BatchSplitExecutor::OutputInfo(const std::vector<Shape>& shapes, int64_t batch) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = output_info_.find(shapes);
    if (it != output_info_.end()) return it->second;
  }
  TUTTI_ASSIGN_OR_RETURN(Graph specialised, SpecializeForInputs(*graph_, shapes));
  std::vector<TensorInfo> info;
  for (ValueId v : specialised.outputs()) {
    const Value& out = specialised.value(v);
    std::optional<Shape> shape = out.info.shape ? ToConcrete(*out.info.shape) : std::nullopt;
    if (!shape || shape->empty() || (*shape)[0] != batch)
      return InvalidArgument("batch split: output '", out.name, "' is not batch-major (shape ",
                             out.info.shape ? SymbolicShapeToString(*out.info.shape) : std::string("unknown"),
                             " at batch ", batch, ")");
    info.push_back(out.info);
  }
  std::lock_guard<std::mutex> lock(mu_);
  output_info_[shapes] = info;
  return info;
}

Result<BatchSplitResult> BatchSplitExecutor::Run(std::span<const Tensor> inputs, const BatchSplitRequest& request) {
  const double t0 = NowUs();
  TUTTI_RETURN_IF_ERROR(CheckInputs(*graph_, inputs).status().WithContext("batch split"));
  const int64_t batch = inputs.empty() ? 0 : inputs[0].dim(0);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].rank() < 1 || inputs[i].dim(0) != batch)
      return InvalidArgument("batch split: every input needs the same leading batch dim; input '",
                             graph_->value(graph_->inputs()[i]).name, "' has shape ", ShapeToString(inputs[i].shape()),
                             ", the first has batch ", batch);
  if (batch < 1) return InvalidArgument("batch split: empty batch");

  // Output shapes at this batch, so the output tensors exist before any share runs (inferred once
  // per input-shape signature).
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  TUTTI_ASSIGN_OR_RETURN(std::vector<TensorInfo> out_info, OutputInfo(shapes, batch));
  BatchSplitResult result;
  for (const TensorInfo& info : out_info) {
    TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(info.dtype, *ToConcrete(*info.shape)));
    result.outputs.push_back(std::move(t));
  }

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
  if (!request.shares.empty()) {
    TUTTI_ASSIGN_OR_RETURN(result.plan, PlanFromShares(procs, request.shares, "given"));
    if (result.plan.batch != batch)
      return InvalidArgument("batch split: the given shares cover ", result.plan.batch, " items, the batch has ", batch);
  } else {
    auto plan = request.search == BatchSplitSearch::kExact ? PlanBatchSplitExact(procs, batch)
                                                           : PlanBatchSplitGreedy(procs, batch);
    if (!plan.ok()) return plan.status();
    result.plan = std::move(plan).value();
  }

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
      for (const Tensor& t : inputs) a->ins.push_back(t.SliceOuter(s.offset, s.offset + s.items));
      for (const Tensor& t : result.outputs) a->outs.push_back(t.SliceOuter(s.offset, s.offset + s.items));
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
      // Rows that did not land in place (an executable that returned its own tensor) are copied.
      for (size_t i = 0; i < a->outs.size(); ++i) {
        Tensor slice = result.outputs[i].SliceOuter(a->range.offset, a->range.offset + a->range.items);
        if (a->outs[i].raw_data() == slice.raw_data()) continue;
        if (a->outs[i].shape() != slice.shape() || a->outs[i].dtype() != slice.dtype())
          return Internal("batch split: processor '", name, "' returned output ", i, " as ",
                          a->outs[i].DebugString(), ", expected ", slice.DebugString());
        std::memcpy(slice.raw_data(), a->outs[i].raw_data(), slice.nbytes());
        result.in_place = false;
      }
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
