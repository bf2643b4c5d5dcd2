// Every kind of bad file gives a clear error naming the file and the cause, never a crash:
// truncated, bit-flipped, wrong-version and wrong-target engines; malformed ONNX.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "edgert/internal/backends.h"
#include "edgert/internal/engine_model.h"
#include "onnx_model.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace edgert;
using namespace edgert::test;

namespace {

std::vector<uint8_t> smallEngine() {
  std::mt19937 r(7);
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {1, 3, 8, 8})
      .constant("w", randomTensor(DataType::kFloat32, {4, 3, 3, 3}, r))
      .output("y");
  g.node("Conv", {"x", "w"}, {"c"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Relu", {"c"}, {"y"});
  auto e = buildEngine(g.save("small"), {});
  EXPECT_TRUE(e.ok()) << e.status().toString();
  return e.value();
}

Status load(const std::vector<uint8_t>& bytes) {
  RuntimeOptions ro;
  ro.backend = Backend::kCpu;
  auto rt = Runtime::create(ro).value();
  auto e = rt->deserializeEngine(bytes.data(), bytes.size(), "bad.engine");
  if (!e.ok()) return e.status();
  auto ctx = e.value()->createExecutionContext();
  if (!ctx.ok()) return ctx.status();
  return ctx.value()->execute();
}

TEST(BadEngine, ValidEngineLoadsAndRuns) {
  EXPECT_TRUE(load(smallEngine()).ok());
}

TEST(BadEngine, TruncationAtEveryRegionIsACorruptFileError) {
  const auto good = smallEngine();
  std::vector<size_t> cuts = {
      0, 1, 8, 63, 64, 100, good.size() / 2, good.size() - 64, good.size() - 1};
  for (size_t step = 1; step < good.size(); step += good.size() / 37 + 1) cuts.push_back(step);
  for (size_t cut : cuts) {
    std::vector<uint8_t> b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    const Status st = load(b);
    ASSERT_FALSE(st.ok()) << "cut at " << cut;
    EXPECT_EQ(st.code(), StatusCode::kCorruptFile) << st.toString();
    EXPECT_NE(st.message().find("bad.engine"), std::string::npos) << st.message();
  }
}

TEST(BadEngine, RandomBitFlipsAreDetected) {
  const auto good = smallEngine();
  std::mt19937 r(std::random_device{}());
  for (int i = 0; i < 300; ++i) {
    auto b = good;
    const size_t pos = std::uniform_int_distribution<size_t>(0, b.size() - 1)(r);
    b[pos] ^= static_cast<uint8_t>(1u << std::uniform_int_distribution<int>(0, 7)(r));
    const Status st = load(b);
    ASSERT_FALSE(st.ok()) << "flip at " << pos;
    EXPECT_TRUE(st.code() == StatusCode::kCorruptFile || st.code() == StatusCode::kVersionMismatch)
        << st.toString();
  }
}

TEST(BadEngine, WrongFormatVersionNamesBothVersions) {
  auto b = smallEngine();
  b[8] = 99;  // format version field
  const Status st = load(b);
  EXPECT_EQ(st.code(), StatusCode::kVersionMismatch) << st.toString();
  EXPECT_NE(st.message().find("version 99"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("rebuild"), std::string::npos);
}

EngineModel parsedSmallEngine() {
  const auto good = smallEngine();
  return deserializeEngine(copyFileBytes(good.data(), good.size(), "good").value(), "good").value();
}

// A well-formed engine for another target: built by re-serialising a parsed engine.
std::vector<uint8_t> withTarget(const std::string& backend, const std::string& arch) {
  auto m = parsedSmallEngine();
  m.target.backend = backend;
  m.target.cpu_arch = arch;
  if (backend == "cuda") m.target.sm = {87};
  return serializeEngine(m).value();
}

TEST(BadEngine, WrongTargetNamesBothTargets) {
  Status st = load(withTarget("cuda", "aarch64"));
  EXPECT_EQ(st.code(), StatusCode::kTargetMismatch) << st.toString();
  EXPECT_NE(st.message().find("cuda/aarch64/sm_87"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("cpu backend"), std::string::npos) << st.message();
  st = load(withTarget("cpu", std::string(hostCpuArch()) == "x86_64" ? "aarch64" : "x86_64"));
  EXPECT_EQ(st.code(), StatusCode::kTargetMismatch) << st.toString();
}

TEST(BadEngine, StructurallyHostileButChecksummedEngineIsRejected) {
  // Attacker-controlled but internally consistent file: a layer output stored with the
  // wrong shape. Shape inference on load catches it before any kernel runs.
  auto m = parsedSmallEngine();
  bool changed = false;
  for (auto& t : m.graph.tensors)
    if (t.name == "y") {
      t.dims = {1, 4, 100, 100};
      changed = true;
    }
  ASSERT_TRUE(changed);
  m.plan.arena_bytes = 1 << 20;
  const Status st = load(serializeEngine(m).value());
  EXPECT_EQ(st.code(), StatusCode::kCorruptFile) << st.toString();
  EXPECT_NE(st.message().find("infers"), std::string::npos) << st.message();
}

TEST(BadEngine, MissingFileIsNotFound) {
  RuntimeOptions ro;
  ro.backend = Backend::kCpu;
  auto rt = Runtime::create(ro).value();
  auto e = rt->loadEngine("/nonexistent/model.engine");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_NE(e.status().message().find("/nonexistent/model.engine"), std::string::npos);
}

TEST(BadEngine, CudaBackendWithoutCudaIsAClearError) {
  RuntimeOptions ro;
  ro.backend = Backend::kCuda;
  auto rt = Runtime::create(ro);
  if (cudaAvailable().ok()) GTEST_SKIP() << "this machine has a usable GPU";
  ASSERT_FALSE(rt.ok());
  EXPECT_EQ(rt.status().code(), StatusCode::kUnavailable);
  ro.backend = Backend::kAuto;
  ASSERT_TRUE(Runtime::create(ro).ok());
}

// ---- Malformed ONNX --------------------------------------------------------------------------

std::string validModel() {
  std::mt19937 r(3);
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {1, 2})
      .constant("w", randomTensor(DataType::kFloat32, {2, 3}, r))
      .output("y");
  g.node("MatMul", {"x", "w"}, {"y"});
  return g.save("valid");
}

TEST(BadOnnx, TruncatedFiles) {
  const std::string path = validModel();
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  for (size_t cut :
       {size_t{0}, size_t{1}, size_t{5}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 3}) {
    const std::string p = path + ".cut" + std::to_string(cut);
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
    auto e = buildEngine(p, {});
    ASSERT_FALSE(e.ok()) << "cut " << cut;
    EXPECT_NE(e.status().message().find(p), std::string::npos) << e.status().message();
  }
}

TEST(BadOnnx, MissingInitializerNamesNodeAndTensor) {
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {1, 2}).output("y");
  g.node("MatMul", {"x", "w_missing"}, {"y"});
  auto e = buildEngine(g.save("missing"), {});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("'w_missing'"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find("MatMul"), std::string::npos);
}

TEST(BadOnnx, AllUnknownOpsAreListedAtOnce) {
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {1, 2}).output("y");
  g.node("FancyOp", {"x"}, {"a"});
  g.node("Relu", {"a"}, {"b"});
  g.node("OtherOp", {"b"}, {"c"});
  g.node("FancyOp", {"c"}, {"y"});
  auto e = buildEngine(g.save("unknown"), {});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnsupported);
  const std::string& m = e.status().message();
  EXPECT_NE(m.find("2 unsupported op type(s)"), std::string::npos) << m;
  EXPECT_NE(m.find("FancyOp (2 nodes"), std::string::npos) << m;
  EXPECT_NE(m.find("OtherOp (1 node"), std::string::npos) << m;
}

TEST(BadOnnx, WrongAttributeTypeNamesTheAttribute) {
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {1, 3, 4, 4}).output("y");
  onnx::AttributeProto a = attrString("axis", "one");
  g.node("Softmax", {"x"}, {"y"}, {a});
  auto e = buildEngine(g.save("attr"), {});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("attribute 'axis' must be int, got string"),
            std::string::npos)
      << e.status().message();
  EXPECT_NE(e.status().message().find("Softmax"), std::string::npos);
}

TEST(BadOnnx, ExternalDataEscapingTheModelFolderIsRejected) {
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {1, 2}).output("y");
  auto* init = g.proto().mutable_graph()->add_initializer();
  init->set_name("w");
  init->set_data_type(1);
  init->add_dims(2);
  init->add_dims(3);
  init->set_data_location(onnx::TensorProto::EXTERNAL);
  for (const std::string loc : {"../secret.bin", "/etc/passwd", "missing.bin"}) {
    init->clear_external_data();
    auto* kv = init->add_external_data();
    kv->set_key("location");
    kv->set_value(loc);
    g.proto().mutable_graph()->clear_node();
    g.node("MatMul", {"x", "w"}, {"y"});
    auto e = buildEngine(g.save("ext"), {});
    ASSERT_FALSE(e.ok()) << loc;
    EXPECT_NE(e.status().message().find("external data"), std::string::npos)
        << e.status().message();
  }
}

TEST(BadOnnx, ShapesForUnknownInputOrWrongRank) {
  const std::string path = validModel();
  BuildOptions opt;
  opt.shapes["nope"] = {1, 2};
  auto e = buildEngine(path, opt);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("'nope'"), std::string::npos);
  opt.shapes.clear();
  opt.shapes["x"] = {1, 2, 3};
  e = buildEngine(path, opt);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("rank 3"), std::string::npos) << e.status().message();
}

TEST(EngineFile, WriteIsAtomicAndLeavesNoTempFiles) {
  const fs::path dir = fs::temp_directory_path() / "edgert-atomic-test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto bytes = smallEngine();
  ASSERT_TRUE(writeFileAtomically((dir / "a.engine").string(), bytes.data(), bytes.size()).ok());
  // A write into a folder that does not exist fails without leaving anything behind.
  EXPECT_FALSE(
      writeFileAtomically((dir / "no/such/b.engine").string(), bytes.data(), bytes.size()).ok());
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

}  // namespace
