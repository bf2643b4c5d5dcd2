#include "test_util.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "edgert/internal/backends.h"
#include "edgert/internal/str.h"

namespace edgert::test {

Backend testBackend() {
  const char* e = std::getenv("EDGERT_TEST_BACKEND");
  return e && std::string(e) == "cuda" ? Backend::kCuda : Backend::kCpu;
}

std::string testTarget() {
  return testBackend() == Backend::kCuda ? "cuda" : "cpu";
}

std::string backendUnavailableReason() {
  if (testBackend() != Backend::kCuda) return "";
  Status st = cudaAvailable();
  return st.ok() ? "" : "no usable GPU: " + st.message();
}

Result<std::map<std::string, HostTensor>> runEngineBytes(
    const std::vector<uint8_t>& engine, const std::map<std::string, const HostTensor*>& inputs,
    Backend backend, int runs, std::vector<std::string>* tactics, std::string* description) {
  RuntimeOptions ro;
  ro.backend = backend;
  EDGERT_ASSIGN_OR_RETURN(auto rt, Runtime::create(ro));
  EDGERT_ASSIGN_OR_RETURN(auto eng,
                          rt->deserializeEngine(engine.data(), engine.size(), "test-engine"));
  EDGERT_ASSIGN_OR_RETURN(auto ctx, eng->createExecutionContext());
  for (const TensorInfo& b : eng->bindings()) {
    if (!b.is_input) continue;
    auto it = inputs.find(b.name);
    if (it == inputs.end())
      return Status(StatusCode::kInvalidArgument, strCat("no value for input ", b.name));
    EDGERT_RETURN_IF_ERROR(ctx->checkInputShape(b.name, it->second->dims()));
    EDGERT_RETURN_IF_ERROR(ctx->setInput(b.name, it->second->data(), b.bytes()));
  }
  for (int r = 0; r < runs; ++r) EDGERT_RETURN_IF_ERROR(ctx->execute());
  if (description) *description = eng->describe();
  if (tactics) {
    EDGERT_ASSIGN_OR_RETURN(auto layers, ctx->profileLayers(1));
    tactics->clear();
    for (const LayerTiming& t : layers) tactics->push_back(t.tactic);
  }
  std::map<std::string, HostTensor> out;
  for (const TensorInfo& b : eng->bindings()) {
    if (b.is_input) continue;
    EDGERT_ASSIGN_OR_RETURN(HostTensor t, HostTensor::create(b.dtype, b.dims));
    EDGERT_RETURN_IF_ERROR(ctx->getOutput(b.name, t.mutableData(), b.bytes()));
    out.emplace(b.name, std::move(t));
  }
  return out;
}

std::string compareTensors(const HostTensor& got, const HostTensor& want, double rtol,
                           double atol) {
  if (got.dtype() != want.dtype())
    return strCat("dtype ", dataTypeName(got.dtype()), " != ", dataTypeName(want.dtype()));
  if (got.dims() != want.dims())
    return strCat("dims ", dimsToString(got.dims()), " != ", dimsToString(want.dims()));
  const bool is_float = got.dtype() == DataType::kFloat32 || got.dtype() == DataType::kFloat64 ||
                        got.dtype() == DataType::kFloat16;
  for (int64_t i = 0; i < got.numel(); ++i) {
    if (is_float) {
      const double a = got.doubleAt(i), b = want.doubleAt(i);
      if (std::isnan(a) && std::isnan(b)) continue;
      if (std::isinf(a) && a == b) continue;
      if (!(std::abs(a - b) <= atol + rtol * std::abs(b)))
        return strCat("element ", i, ": got ", a, ", want ", b);
    } else if (got.intAt(i) != want.intAt(i)) {
      return strCat("element ", i, ": got ", got.intAt(i), ", want ", want.intAt(i));
    }
  }
  return "";
}

double relativeL2(const HostTensor& got, const HostTensor& want) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double d = got.doubleAt(i) - want.doubleAt(i);
    num += d * d;
    den += want.doubleAt(i) * want.doubleAt(i);
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

HostTensor randomTensor(DataType dt, const Dims& dims, std::mt19937& rng, float lo, float hi) {
  HostTensor t = std::move(HostTensor::create(dt, dims).value());
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (dt) {
      case DataType::kFloat32:
        t.mutableAs<float>()[i] = u(rng);
        break;
      case DataType::kFloat64:
        t.mutableAs<double>()[i] = u(rng);
        break;
      case DataType::kInt64:
        t.mutableAs<int64_t>()[i] = static_cast<int64_t>(std::floor(u(rng)));
        break;
      case DataType::kInt32:
        t.mutableAs<int32_t>()[i] = static_cast<int32_t>(std::floor(u(rng)));
        break;
      case DataType::kBool:
        t.mutableAs<uint8_t>()[i] = u(rng) > 0.5f * (lo + hi);
        break;
      default:
        t.mutableAs<uint8_t>()[i] = static_cast<uint8_t>(u(rng));
        break;
    }
  }
  return t;
}

std::mt19937& seededRng(const std::string& suite) {
  static std::map<std::string, std::mt19937> rngs;
  auto it = rngs.find(suite);
  if (it == rngs.end()) {
    const char* e = std::getenv("EDGERT_TEST_SEED");
    const unsigned seed = e ? static_cast<unsigned>(std::stoul(e)) : std::random_device{}();
    std::printf("%s seed %u (set EDGERT_TEST_SEED to reproduce)\n", suite.c_str(), seed);
    it = rngs.emplace(suite, std::mt19937(seed)).first;
  }
  return it->second;
}

Status MemorySource::getSamples(int first, const std::string&, const Dims& dims, float* out) {
  const int64_t per = volume(dims) / dims[0];
  for (int64_t i = 0; i < dims[0]; ++i) {
    const HostTensor& s = samples_[(first + i) % samples_.size()];
    if (s.numel() != per) return Status(StatusCode::kInvalidArgument, "sample size");
    std::copy(s.as<float>(), s.as<float>() + per, out + i * per);
  }
  return Status::Ok();
}

}  // namespace edgert::test
