#include "engine_cache.h"

#include <filesystem>
#include <map>
#include <mutex>

#include "edgert/builder.h"
#include "edgert/internal/backends.h"
#include "edgert/internal/str.h"

namespace edgert::vision {

namespace fs = std::filesystem;

namespace {

std::mutex g_mutex;

Result<Runtime*> runtimeFor(Backend b) {
  static std::map<Backend, std::unique_ptr<Runtime>> runtimes;
  auto it = runtimes.find(b);
  if (it != runtimes.end()) return it->second.get();
  RuntimeOptions opt;
  opt.backend = b;
  EDGERT_ASSIGN_OR_RETURN(std::unique_ptr<Runtime> rt, Runtime::create(opt));
  return (runtimes[b] = std::move(rt)).get();
}

std::string canonical(const std::string& p) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p : c.string();
}

// "host" means this machine's GPU when the element may use it, else the CPU: resolved
// before naming the cache so a CPU element never gets (or overwrites) a CUDA engine.
std::string buildTarget(const ModelConfig& m, Backend backend) {
  if (m.target != "host") return m.target;
  if (backend == Backend::kCpu || !cudaAvailable().ok()) return "cpu";
  return "cuda";
}

// "<dir>/<model>.<precision>.<target>.<shapes>.engine": shapes are part of the name so two
// elements asking for different input sizes do not overwrite each other's engine.
std::string cachedEnginePath(const ModelConfig& m) {
  std::string shapes;
  for (const auto& [name, dims] : m.shapes) shapes = strCat(shapes, ".", dimsToString(dims));
  const fs::path onnx(m.onnx);
  return (onnx.parent_path() /
          strCat(onnx.stem().string(), ".", m.precision, ".", m.target, shapes, ".engine"))
      .string();
}

bool newerThan(const std::string& a, const std::string& b) {
  std::error_code e1, e2;
  const auto ta = fs::last_write_time(a, e1), tb = fs::last_write_time(b, e2);
  return !e1 && !e2 && ta >= tb;
}

}  // namespace

Result<LoadedEngine> acquireEngine(const ModelConfig& model, const LogCallback& log) {
  if (model.engine.empty() && model.onnx.empty())
    return Status(StatusCode::kInvalidArgument, "no model: set 'model.engine' or 'model.onnx'");
  EDGERT_ASSIGN_OR_RETURN(Backend backend, parseBackend(model.backend));
  std::lock_guard<std::mutex> lock(g_mutex);
  EDGERT_ASSIGN_OR_RETURN(Runtime * rt, runtimeFor(backend));
  static std::map<std::pair<std::string, Backend>, std::weak_ptr<const Engine>> loaded;

  LoadedEngine out;
  if (!model.engine.empty()) {
    out.path = canonical(model.engine);
  } else {
    if (!fs::exists(model.onnx))
      return Status(StatusCode::kNotFound, strCat(model.onnx, ": model file not found"));
    ModelConfig resolved = model;
    resolved.target = buildTarget(model, backend);
    out.path = canonical(cachedEnginePath(resolved));
  }
  const auto key = std::make_pair(out.path, rt->backend());
  if (auto e = loaded[key].lock()) {
    out.engine = e;
    return out;
  }
  if (!model.onnx.empty()) {
    bool reuse = fs::exists(out.path) && newerThan(out.path, model.onnx);
    if (reuse) {
      auto e = rt->loadEngine(out.path);
      if (e.ok()) {
        if (log) log(LogSeverity::kVerbose, strCat("using cached engine ", out.path));
        out.engine = e.value();
        loaded[key] = out.engine;
        return out;
      }
      if (log)
        log(LogSeverity::kWarning,
            strCat("cached engine unusable, rebuilding: ", e.status().message()));
    }
    BuildOptions opt;
    opt.precision = model.precision;
    opt.target = buildTarget(model, backend);
    opt.shapes = model.shapes;
    if (log)
      log(LogSeverity::kInfo, strCat("building ", out.path, " from ", model.onnx,
                                     " (first use; reused while the model is unchanged)"));
    Status st = buildEngineFile(model.onnx, out.path, opt);
    if (!st.ok()) return st.withContext(strCat("building ", model.onnx));
  }
  EDGERT_ASSIGN_OR_RETURN(out.engine, rt->loadEngine(out.path));
  loaded[key] = out.engine;
  return out;
}

}  // namespace edgert::vision
