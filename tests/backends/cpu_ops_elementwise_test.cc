// Element-wise CPU kernels against a naive per-element reference over many broadcast shapes and
// dtypes (rank 0..5, empty tensors, shapes large enough to take the parallel path).
#include <cmath>

#include "backends/cpu/cpu_backend.h"
#include "cpu_ops_test_util.h"

namespace tutti::testing {
namespace {

const std::vector<std::pair<Shape, Shape>> kShapePairs = {
    {{}, {}},           {{5}, {}},           {{}, {4}},          {{2, 3}, {3}},           {{2, 1, 4}, {3, 1}},
    {{1}, {5, 1, 1, 1, 2}}, {{0, 3}, {1, 3}}, {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{4, 1, 6}, {1, 5, 1}},
    {{2, 64, 32, 32}, {1, 64, 1, 1}},        {{3, 70000}, {3, 70000}},  {{1, 3, 1}, {2, 1, 4}},
    {{2, 3, 2, 3, 2}, {3, 1, 3, 1}},          {{7, 1}, {1, 9}},
};

struct BinaryCase {
  std::string op;
  std::function<double(double, double)> f;
};

double TruncDiv(double a, double b) { return b == 0 ? 0 : std::trunc(a / b); }

TEST(CpuOpsElementwise, ArithmeticMatchesReferenceOverShapesAndTypes) {
  const std::vector<BinaryCase> cases = {
      {"Add", [](double a, double b) { return a + b; }},
      {"Sub", [](double a, double b) { return a - b; }},
      {"Mul", [](double a, double b) { return a * b; }},
      {"Max", [](double a, double b) { return std::max(a, b); }},
      {"Min", [](double a, double b) { return std::min(a, b); }},
  };
  uint32_t seed = 1;
  for (DataType dt : {DataType::kFloat32, DataType::kFloat64, DataType::kInt32, DataType::kInt64, DataType::kUInt8,
                      DataType::kInt8}) {
    const double lo = dt == DataType::kUInt8 ? 0 : -5;
    for (const auto& [sa, sb] : kShapePairs) {
      if (dt != DataType::kFloat32 && NumElements(sa) > 100000) continue;
      Tensor a = RandomOf(dt, sa, seed++, lo, 5), b = RandomOf(dt, sb, seed++, lo, 5);
      for (const auto& c : cases) {
        if (dt == DataType::kUInt8 && c.op == "Sub") continue;  // wraps: checked separately
        auto out = RunNode({c.op, {a, b}});
        ASSERT_TRUE(out.ok()) << c.op << ": " << out.status().ToString();
        Tensor ref = RefElementwise({a, b}, dt, [&](const std::vector<double>& v) { return c.f(v[0], v[1]); });
        EXPECT_TRUE(TensorsClose((*out)[0], ref))
            << c.op << " " << DataTypeName(dt) << " " << ShapeToString(sa) << " " << ShapeToString(sb);
      }
    }
  }
}

TEST(CpuOpsElementwise, DivisionModAndPow) {
  // Divisors away from zero; integer Div truncates toward zero, Mod follows the divisor's sign
  // (fmod=0) or the dividend's (fmod=1).
  for (DataType dt : {DataType::kInt32, DataType::kInt64, DataType::kFloat32}) {
    Tensor a = RandomOf(dt, {4, 5}, 3, -20, 20), b = RandomOf(dt, {5}, 4, 1, 6);
    for (int64_t i = 0; i < b.num_elements(); i += 2) SetElement(b, i, -b.ElementAsDouble(i));
    const bool is_float = dt == DataType::kFloat32;
    auto div = RunNode({"Div", {a, b}});
    ASSERT_TRUE(div.ok()) << div.status().ToString();
    EXPECT_TRUE(TensorsClose((*div)[0], RefElementwise({a, b}, dt, [&](const std::vector<double>& v) {
                  return is_float ? v[0] / v[1] : TruncDiv(v[0], v[1]);
                })));
    for (int64_t fmod : {int64_t{0}, int64_t{1}}) {
      if (is_float && fmod == 0) continue;
      auto mod = RunNode({"Mod", {a, b}, {{"fmod", fmod}}});
      ASSERT_TRUE(mod.ok()) << mod.status().ToString();
      EXPECT_TRUE(TensorsClose((*mod)[0], RefElementwise({a, b}, dt, [&](const std::vector<double>& v) {
                    double r = std::fmod(v[0], v[1]);
                    if (!fmod && r != 0 && ((r < 0) != (v[1] < 0))) r += v[1];
                    return r;
                  }))) << "fmod=" << fmod << " " << DataTypeName(dt);
    }
  }
  // Integer division by zero must not trap.
  Tensor z = Tensor::FromVector<int32_t>({5, -3, 0}), zero = Tensor::FromVector<int32_t>({0, 0, 0});
  EXPECT_TRUE(RunNode({"Div", {z, zero}}).ok());
  EXPECT_TRUE(RunNode({"Mod", {z, zero}}).ok());

  Tensor base = RandomOf(DataType::kFloat32, {3, 4}, 9, 0.1, 3);
  for (float e : {2.f, 0.5f, 3.f, 1.f, 1.7f}) {
    Tensor ex = Tensor::FromVector<float>({e}, {});
    auto out = RunNode({"Pow", {base, ex}});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_TRUE(TensorsClose((*out)[0], RefElementwise({base, ex}, DataType::kFloat32,
                                                       [](const std::vector<double>& v) { return std::pow(v[0], v[1]); })));
  }
  Tensor ib = Tensor::FromVector<int64_t>({1, 2, 3}), fe = Tensor::FromVector<float>({2.f, 3.f, 0.5f});
  auto mixed = RunNode({"Pow", {ib, fe}});
  ASSERT_TRUE(mixed.ok()) << mixed.status().ToString();
  EXPECT_TRUE(TensorsClose((*mixed)[0], Tensor::FromVector<int64_t>({1, 8, 1})));
}

TEST(CpuOpsElementwise, VariadicAndWrapping) {
  Tensor a = RandomOf(DataType::kFloat32, {2, 1, 3}, 1), b = RandomOf(DataType::kFloat32, {4, 1}, 2),
         c = RandomOf(DataType::kFloat32, {3}, 3);
  auto sum = RunNode({"Sum", {a, b, c}});
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_TRUE(TensorsClose((*sum)[0], RefElementwise({a, b, c}, DataType::kFloat32,
                                                    [](const std::vector<double>& v) { return v[0] + v[1] + v[2]; })));
  auto mean = RunNode({"Mean", {a, b, c}});
  ASSERT_TRUE(mean.ok());
  EXPECT_TRUE(TensorsClose((*mean)[0], RefElementwise({a, b, c}, DataType::kFloat32, [](const std::vector<double>& v) {
                return (v[0] + v[1] + v[2]) / 3;
              })));
  auto max1 = RunNode({"Max", {a}});
  ASSERT_TRUE(max1.ok());
  EXPECT_TRUE(TensorsClose((*max1)[0], a));

  Tensor u = Tensor::FromVector<uint8_t>({1, 200}), v = Tensor::FromVector<uint8_t>({2, 100});
  auto sub = RunNode({"Sub", {u, v}});
  ASSERT_TRUE(sub.ok());
  EXPECT_TRUE(TensorsClose((*sub)[0], Tensor::FromVector<uint8_t>({255, 100})));
  Tensor big = Tensor::FromVector<int32_t>({2147483647}), one = Tensor::FromVector<int32_t>({1});
  auto wrapped = RunNode({"Add", {big, one}});
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ((*wrapped)[0].data<int32_t>()[0], -2147483647 - 1);
}

TEST(CpuOpsElementwise, ComparisonsLogicAndWhere) {
  Tensor a = RandomOf(DataType::kInt64, {3, 1, 4}, 5, -2, 2), b = RandomOf(DataType::kInt64, {2, 4}, 6, -2, 2);
  const std::vector<std::pair<std::string, std::function<bool(double, double)>>> cmps = {
      {"Equal", [](double x, double y) { return x == y; }},
      {"Less", [](double x, double y) { return x < y; }},
      {"Greater", [](double x, double y) { return x > y; }},
      {"LessOrEqual", [](double x, double y) { return x <= y; }},
      {"GreaterOrEqual", [](double x, double y) { return x >= y; }}};
  for (const auto& [op, f] : cmps) {
    auto out = RunNode({op, {a, b}});
    ASSERT_TRUE(out.ok()) << op << ": " << out.status().ToString();
    EXPECT_TRUE(TensorsClose((*out)[0], RefElementwise({a, b}, DataType::kBool, [&](const std::vector<double>& v) {
                  return f(v[0], v[1]) ? 1.0 : 0.0;
                }))) << op;
  }
  Tensor p = RandomOf(DataType::kBool, {2, 3, 4}, 7), q = RandomOf(DataType::kBool, {3, 1}, 8);
  const std::vector<std::pair<std::string, std::function<bool(bool, bool)>>> logic = {
      {"And", [](bool x, bool y) { return x && y; }},
      {"Or", [](bool x, bool y) { return x || y; }},
      {"Xor", [](bool x, bool y) { return x != y; }}};
  for (const auto& [op, f] : logic) {
    auto out = RunNode({op, {p, q}});
    ASSERT_TRUE(out.ok()) << op;
    EXPECT_TRUE(TensorsClose((*out)[0], RefElementwise({p, q}, DataType::kBool, [&](const std::vector<double>& v) {
                  return f(v[0] != 0, v[1] != 0) ? 1.0 : 0.0;
                }))) << op;
  }
  auto no = RunNode({"Not", {p}});
  ASSERT_TRUE(no.ok());
  EXPECT_TRUE(TensorsClose((*no)[0], RefElementwise({p}, DataType::kBool, [](const std::vector<double>& v) {
                return v[0] != 0 ? 0.0 : 1.0;
              })));
  for (DataType dt : {DataType::kFloat32, DataType::kInt64, DataType::kUInt8}) {
    Tensor c = RandomOf(DataType::kBool, {2, 1, 5}, 9), x = RandomOf(dt, {3, 1}, 10, 0, 9), y = RandomOf(dt, {5}, 11, 0, 9);
    auto w = RunNode({"Where", {c, x, y}});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_TRUE(TensorsClose((*w)[0], RefElementwise({c, x, y}, dt, [](const std::vector<double>& v) {
                  return v[0] != 0 ? v[1] : v[2];
                })));
  }
}

TEST(CpuOpsElementwise, UnaryActivationsMatchFormulas) {
  const double kSeluAlpha = 1.67326319217681884765625, kSeluGamma = 1.05070102214813232421875;
  const std::vector<std::tuple<std::string, std::map<std::string, AttrValue>, std::function<double(double)>>> cases = {
      {"Relu", {}, [](double x) { return std::max(x, 0.0); }},
      {"LeakyRelu", {{"alpha", 0.1f}}, [](double x) { return x < 0 ? 0.1 * x : x; }},
      {"Elu", {}, [](double x) { return x < 0 ? std::exp(x) - 1 : x; }},
      {"Selu", {}, [&](double x) { return kSeluGamma * (x <= 0 ? kSeluAlpha * (std::exp(x) - 1) : x); }},
      {"Sigmoid", {}, [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"HardSigmoid", {}, [](double x) { return std::clamp(0.2 * x + 0.5, 0.0, 1.0); }},
      {"HardSwish", {}, [](double x) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); }},
      {"Tanh", {}, [](double x) { return std::tanh(x); }},
      {"Erf", {}, [](double x) { return std::erf(x); }},
      {"Exp", {}, [](double x) { return std::exp(x); }},
      {"Softplus", {}, [](double x) { return std::log(1 + std::exp(x)); }},
      {"Softsign", {}, [](double x) { return x / (1 + std::abs(x)); }},
      {"Neg", {}, [](double x) { return -x; }},
      {"Abs", {}, [](double x) { return std::abs(x); }},
      {"Floor", {}, [](double x) { return std::floor(x); }},
      {"Ceil", {}, [](double x) { return std::ceil(x); }},
      {"Sign", {}, [](double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }},
      {"Sin", {}, [](double x) { return std::sin(x); }},
      {"Atan", {}, [](double x) { return std::atan(x); }},
  };
  for (const Shape& s : {Shape{}, Shape{0}, Shape{7}, Shape{2, 3, 4, 5, 6}, Shape{3, 40000}}) {
    Tensor x = RandomOf(DataType::kFloat32, s, 12, -4, 4);
    for (const auto& [op, attrs, f] : cases) {
      auto out = RunNode({op, {x}, attrs});
      ASSERT_TRUE(out.ok()) << op << ": " << out.status().ToString();
      EXPECT_TRUE(TensorsClose((*out)[0], RefElementwise({x}, DataType::kFloat32,
                                                        [&](const std::vector<double>& v) { return f(v[0]); }),
                               1e-5, 1e-6)) << op << " " << ShapeToString(s);
    }
  }
  Tensor pos = RandomOf(DataType::kFloat32, {50}, 13, 0.01, 10);
  for (const auto& [op, f] : std::vector<std::pair<std::string, std::function<double(double)>>>{
           {"Log", [](double x) { return std::log(x); }},
           {"Sqrt", [](double x) { return std::sqrt(x); }},
           {"Reciprocal", [](double x) { return 1 / x; }}}) {
    auto out = RunNode({op, {pos}});
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(TensorsClose((*out)[0], RefElementwise({pos}, DataType::kFloat32,
                                                      [&](const std::vector<double>& v) { return f(v[0]); })));
  }
  // Round is half-to-even.
  auto r = RunNode({"Round", {Tensor::FromVector<float>({0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f})}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(TensorsClose((*r)[0], Tensor::FromVector<float>({0.f, 2.f, 2.f, -0.f, -2.f, 2.f})));
}

TEST(CpuOpsElementwise, ClipWithInputsAttributesAndIntegers) {
  Tensor x = RandomOf(DataType::kFloat32, {4, 5}, 14, -3, 3);
  Tensor lo = Tensor::FromVector<float>({-1.f}, {}), hi = Tensor::FromVector<float>({2.f}, {});
  auto both = RunNode({"Clip", {x, lo, hi}});
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(TensorsClose((*both)[0], RefElementwise({x}, DataType::kFloat32, [](const std::vector<double>& v) {
                return std::clamp(v[0], -1.0, 2.0);
              })));
  auto only_max = RunNode({"Clip", {x, Tensor(), hi}});
  ASSERT_TRUE(only_max.ok());
  EXPECT_TRUE(TensorsClose((*only_max)[0], RefElementwise({x}, DataType::kFloat32, [](const std::vector<double>& v) {
                return std::min(v[0], 2.0);
              })));
  auto attrs = RunNode({"Clip", {x}, {{"min", 0.f}, {"max", 6.f}}});
  ASSERT_TRUE(attrs.ok());
  EXPECT_TRUE(TensorsClose((*attrs)[0], RefElementwise({x}, DataType::kFloat32, [](const std::vector<double>& v) {
                return std::clamp(v[0], 0.0, 6.0);
              })));
  Tensor xi = Tensor::FromVector<int8_t>({-128, -5, 0, 5, 127});
  auto ints = RunNode({"Clip", {xi, Tensor::FromVector<int8_t>({-4}, {}), Tensor::FromVector<int8_t>({100}, {})}});
  ASSERT_TRUE(ints.ok());
  EXPECT_TRUE(TensorsClose((*ints)[0], Tensor::FromVector<int8_t>({-4, -4, 0, 5, 100})));
}

TEST(CpuOpsElementwise, SupportsRejectsWithReasons) {
  Graph g;
  ValueId s = g.AddInput("s", {DataType::kString, ToSymbolic({2})});
  ValueId y = g.AddValue("y");
  g.AddNode("Add", {s, s}, {y}, {}, "add_strings");
  cpu::CpuBackend cpu;
  EXPECT_FALSE(cpu.SupportsNode(g, g.node(0)));
  EXPECT_NE(cpu.UnsupportedReason(g, g.node(0)).find("string"), std::string::npos);
  ValueId f = g.AddInput("f", {DataType::kFloat32, ToSymbolic({2})});
  ValueId z = g.AddValue("z");
  g.AddNode("Mod", {f, f}, {z}, {}, "mod_float");
  EXPECT_NE(cpu.UnsupportedReason(g, g.node(1)).find("fmod"), std::string::npos);
}

TEST(CpuOpsElementwise, BadShapesAreErrorsNotCrashes) {
  auto out = RunNode({"Add", {RandomOf(DataType::kFloat32, {2, 3}, 1), RandomOf(DataType::kFloat32, {4}, 2)}});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("broadcast"), std::string::npos) << out.status().message();
}

}  // namespace
}  // namespace tutti::testing
