// TfIdfVectorizer over integer token ids (what sklearn-onnx text pipelines emit): counts the
// pool's n-grams, with skips, per row and reports TF, IDF or TF-IDF per output column. Each
// unigram is counted once per position (skips do not apply to it), as ONNX Runtime does.
#include <map>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

enum class TfMode { kTf, kIdf, kTfIdf };

struct TfIdfAttrs {
  int64_t min_n = 1, max_n = 1, max_skip = 0, width = 0;
  TfMode mode = TfMode::kTf;
  std::map<std::vector<int64_t>, int64_t> ngrams;  // n-gram -> output column
  std::vector<float> weights;                      // per output column (empty: 1)
};

Result<TfIdfAttrs> ReadTfIdf(const Node& n) {
  TfIdfAttrs a;
  a.min_n = n.GetInt("min_gram_length", 1);
  a.max_n = n.GetInt("max_gram_length", 1);
  a.max_skip = n.GetInt("max_skip_count", 0);
  const std::string mode = n.GetString("mode", "TF");
  if (mode == "TF") a.mode = TfMode::kTf;
  else if (mode == "IDF") a.mode = TfMode::kIdf;
  else if (mode == "TFIDF") a.mode = TfMode::kTfIdf;
  else return InvalidArgument("TfIdfVectorizer mode '", mode, "'");
  if (n.HasAttr("pool_strings")) return Unimplemented("TfIdfVectorizer over strings");
  const std::vector<int64_t> pool = n.GetInts("pool_int64s"), counts = n.GetInts("ngram_counts");
  const std::vector<int64_t> indexes = n.GetInts("ngram_indexes");
  if (a.min_n < 1 || a.max_n < a.min_n || a.max_skip < 0 || counts.empty())
    return InvalidArgument("TfIdfVectorizer gram lengths / ngram_counts are inconsistent");
  size_t k = 0;  // running n-gram number (index into ngram_indexes)
  for (size_t g = 0; g < counts.size(); ++g) {
    const int64_t len = static_cast<int64_t>(g) + 1;
    const int64_t begin = counts[g], end = g + 1 < counts.size() ? counts[g + 1] : static_cast<int64_t>(pool.size());
    if (begin < 0 || end > static_cast<int64_t>(pool.size()) || begin > end || (end - begin) % len != 0)
      return InvalidArgument("ngram_counts do not fit pool_int64s");
    for (int64_t p = begin; p < end; p += len, ++k) {
      if (k >= indexes.size()) return InvalidArgument("fewer ngram_indexes than n-grams in the pool");
      if (indexes[k] < 0) return InvalidArgument("ngram_indexes[", k, "] is negative (", indexes[k], ")");
      a.ngrams[std::vector<int64_t>(pool.begin() + p, pool.begin() + p + len)] = indexes[k];
      a.width = std::max(a.width, indexes[k] + 1);
    }
  }
  a.weights = n.GetFloats("weights");
  return a;
}

Status RunTfIdf(const TfIdfAttrs& a, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->rank() != 1 && x->rank() != 2) return InvalidArgument("X must be [C] or [N, C], got ", x->DebugString());
  const int64_t rows = x->rank() == 2 ? x->dim(0) : 1, cols = x->dim(-1);
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->rank() == 2 ? Shape{rows, a.width} : Shape{a.width},
                                                        DataType::kFloat32));
  const std::vector<int64_t> tok = x->ToInt64Vector();
  float* out = y->data<float>();
  std::fill_n(out, y->num_elements(), 0.f);
  std::vector<int64_t> gram;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> count(static_cast<size_t>(a.width), 0);
    const int64_t* t = tok.data() + r * cols;
    for (int64_t start = 0; start < cols; ++start)
      for (int64_t skip = 0; skip <= a.max_skip; ++skip)
        for (int64_t n = a.min_n; n <= a.max_n; ++n) {
          if (n == 1 && skip > 0) continue;  // a unigram has no gaps to skip
          const int64_t last = start + (n - 1) * (skip + 1);
          if (last >= cols) break;
          gram.clear();
          for (int64_t q = 0; q < n; ++q) gram.push_back(t[start + q * (skip + 1)]);
          if (auto it = a.ngrams.find(gram); it != a.ngrams.end()) ++count[static_cast<size_t>(it->second)];
        }
    for (int64_t c = 0; c < a.width; ++c) {
      const float w = a.weights.empty() ? 1.f : a.weights[static_cast<size_t>(c)];
      const float tf = static_cast<float>(count[static_cast<size_t>(c)]);
      out[r * a.width + c] = a.mode == TfMode::kTf ? tf : (a.mode == TfMode::kIdf ? (tf > 0 ? w : 0.f) : tf * w);
    }
  }
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL(
    "TfIdfVectorizer", "",
    [](const KernelBuildInfo& info) -> Result<std::unique_ptr<CpuKernel>> {
      TUTTI_ASSIGN_OR_RETURN(TfIdfAttrs a, ReadTfIdf(info.node));
      if (!a.weights.empty() && static_cast<int64_t>(a.weights.size()) < a.width)
        return InvalidArgument("weights has ", a.weights.size(), " values for ", a.width, " columns");
      return MakeKernel([a](KernelContext& ctx) { return RunTfIdf(a, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(ReadTfIdf(n).status());
      return RequireInputType(g, n, 0, TypeList<int32_t, int64_t>{});
    });

}  // namespace
}  // namespace tutti::cpu
