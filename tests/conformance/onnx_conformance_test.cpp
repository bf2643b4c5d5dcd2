// Runs every ONNX backend node test case (Debian libonnx-testdata) through
// import -> build -> CPU run. A case whose ops edgert claims must pass; a case the builder
// rejects as unsupported (an op, dtype or attribute edgert does not implement) is listed,
// never crashed. Prints "onnx-conformance: N passed, M failed, K unsupported".
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "edgert/internal/npy.h"
#include "edgert/internal/op.h"
#include "onnx_import.h"
#include "tensor_proto.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace edgert;

namespace {

std::string dataRoot() {
  if (const char* e = std::getenv("EDGERT_ONNX_TESTDATA")) return e;
  return "/usr/share/libonnx-testdata/data/node";
}

struct CaseResult {
  enum Kind { kPass, kFail, kUnsupported } kind;
  std::string detail;
};

// Inputs that feed a slot an op needs at build time (shape, axes, pads...) are frozen
// to the test's values, as TensorRT's shape-tensor inputs are.
std::set<std::string> inputsNeededAtBuildTime(const ImportedModel& m) {
  std::set<int> need;
  for (const Node& n : m.graph.nodes) {
    const OpDef* d = findOp(n.op);
    if (!d) continue;
    for (size_t i = 0; i < n.inputs.size() && i < 32; ++i)
      if ((d->const_inputs >> i & 1u) && n.inputs[i] >= 0) need.insert(n.inputs[i]);
  }
  std::set<std::string> names;
  for (const Binding& b : m.graph.bindings)
    if (b.is_input && need.count(b.tensor)) names.insert(m.graph.tensors[b.tensor].name);
  return names;
}

CaseResult runCase(const fs::path& dir) {
  const std::string model = (dir / "model.onnx").string();
  auto imported = importOnnx(model);
  if (!imported.ok()) {
    if (imported.status().code() == StatusCode::kUnsupported)
      return {CaseResult::kUnsupported, imported.status().message()};
    return {CaseResult::kFail, imported.status().toString()};
  }
  const fs::path data = dir / "test_data_set_0";
  std::vector<std::string> in_names, out_names;
  for (const Binding& b : imported->graph.bindings)
    (b.is_input ? in_names : out_names).push_back(imported->graph.tensors[b.tensor].name);
  const std::set<std::string> freeze = inputsNeededAtBuildTime(imported.value());
  BuildOptions opt;
  opt.target = test::testTarget();
  std::map<std::string, HostTensor> inputs;
  for (size_t i = 0; i < in_names.size(); ++i) {
    const fs::path f = data / ("input_" + std::to_string(i) + ".pb");
    if (!fs::exists(f)) return {CaseResult::kUnsupported, "test has optional inputs left out"};
    auto t = readTensorProtoFile(f.string());
    if (!t.ok()) {
      if (t.status().code() == StatusCode::kUnsupported)
        return {CaseResult::kUnsupported, t.status().message()};
      return {CaseResult::kFail, t.status().toString()};
    }
    if (freeze.count(in_names[i])) {
      InputValue v{t->dtype(), t->dims(), {}};
      v.data.assign(static_cast<const uint8_t*>(t->data()),
                    static_cast<const uint8_t*>(t->data()) + t->bytes());
      opt.freeze[in_names[i]] = std::move(v);
    } else {
      opt.shapes[in_names[i]] = t->dims();
      inputs.emplace(in_names[i], std::move(t).value());
    }
  }
  auto engine = buildEngine(model, opt);
  if (!engine.ok()) {
    if (engine.status().code() == StatusCode::kUnsupported)
      return {CaseResult::kUnsupported, engine.status().message()};
    return {CaseResult::kFail, "build: " + engine.status().toString()};
  }
  std::map<std::string, const HostTensor*> ptrs;
  for (auto& [k, v] : inputs) ptrs[k] = &v;
  auto outs = test::runEngineBytes(engine.value(), ptrs);
  if (!outs.ok()) return {CaseResult::kFail, "run: " + outs.status().toString()};
  for (size_t i = 0; i < out_names.size(); ++i) {
    const fs::path f = data / ("output_" + std::to_string(i) + ".pb");
    auto want = readTensorProtoFile(f.string());
    if (!want.ok()) return {CaseResult::kUnsupported, want.status().message()};
    auto it = outs->find(out_names[i]);
    if (it == outs->end()) return {CaseResult::kFail, "missing output " + out_names[i]};
    const std::string diff = test::compareTensors(it->second, want.value(), 1e-3, 1e-5);
    if (!diff.empty()) return {CaseResult::kFail, "output '" + out_names[i] + "': " + diff};
  }
  return {CaseResult::kPass, ""};
}

}  // namespace

TEST(OnnxConformance, AllNodeCases) {
  if (const std::string why = test::backendUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  const fs::path root = dataRoot();
  if (!fs::is_directory(root))
    GTEST_SKIP() << root << " not found: install Debian's libonnx-testdata";
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(root))
    if (fs::exists(e.path() / "model.onnx")) cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  int pass = 0, fail = 0, unsupported = 0;
  std::ofstream report(std::string("onnx_conformance_report_") + test::testTarget() + ".txt");
  std::vector<std::string> failures;
  const bool verbose = std::getenv("EDGERT_CONFORMANCE_VERBOSE") != nullptr;
  for (const fs::path& c : cases) {
    if (verbose) std::fprintf(stderr, "case %s\n", c.filename().c_str());
    const CaseResult r = runCase(c);
    const std::string name = c.filename().string();
    std::string detail = r.detail;
    std::replace(detail.begin(), detail.end(), '\n', ' ');
    switch (r.kind) {
      case CaseResult::kPass:
        ++pass;
        report << "PASS " << name << "\n";
        break;
      case CaseResult::kFail:
        ++fail;
        failures.push_back(name + ": " + detail);
        report << "FAIL " << name << ": " << detail << "\n";
        break;
      case CaseResult::kUnsupported:
        ++unsupported;
        report << "UNSUPPORTED " << name << ": " << detail << "\n";
        break;
    }
  }
  for (const auto& f : failures) ADD_FAILURE() << f;
  std::printf("onnx-conformance (%s backend): %d passed, %d failed, %d unsupported\n",
              test::testTarget().c_str(), pass, fail, unsupported);
  EXPECT_GT(pass, 400);
}
