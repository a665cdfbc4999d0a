// `tutti plan MODEL --split batch|spatial ...`: print how a model would be split over processors,
// without serving it. Each kind of split lives in its own file; this only delegates.
#include "tools/batch_split_cli.h"
#include "tools/plan_spatial.h"

namespace tutti::cli {
namespace {

int PlanBody(Args& args) {
  const std::string split = args.GetOr("split", "");
  if (split == "batch") return RunPlanBatch(args);
  if (split == "spatial") return RunPlanSpatial(args);
  return ReportError(InvalidArgument("plan needs --split batch or --split spatial, got '", split, "'"));
}

}  // namespace

TUTTI_REGISTER_COMMAND(
    "plan", "show how a model is split over processors (--split batch | spatial)",
    "usage: tutti plan MODEL --split batch --batch B --processors LIST [options]\n"
    "       tutti plan MODEL --split spatial --processors LIST [options]   (see tutti plan-spatial --help)\n"
    "batch split (one batch shared by several processors, each share sized by its batch profile table):\n"
    "  --processors LIST       cpu, cpu:CORES (e.g. cpu:0,cpu:1: one processor per core), cuda, cuda:N\n"
    "  --batch B               the batch to split (also --input NAME=FILE, --dim SYMBOL=N)\n"
    "  --max-profile-batch N   profile batch sizes up to N (default B): 2^n and 2^n+-1\n"
    "  --profile-runs N        timed runs per profiled size (median; default 3)\n"
    "  --profile FILE          profile file: tables reused when it has them, else measured and saved\n"
    "  --no-optimize           skip graph optimisations\n"
    "  --json                  machine-readable output (tables, greedy, exact, single, equal, ideal)",
    PlanBody);

}  // namespace tutti::cli
