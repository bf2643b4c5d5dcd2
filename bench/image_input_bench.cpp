// Per-frame cost of feeding video frames to an engine through setImageInput (what
// edgertinfer does on the CUDA backend): 1080p NV12 and RGB frames into a 640x640
// letterboxed input, against a pass-through engine so the network itself costs ~nothing.
//   edgert_image_bench [cpu|cuda] [iterations]
// Prints the median of (setImageInput + execute) minus the median of execute alone.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "edgert/builder.h"
#include "edgert/edgert.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The pass-through model (x [1, 3, 640, 640] -> y = x * 1) is made by gpu-check.sh.
std::vector<uint8_t> engineFor(const std::string& target, const std::string& onnx) {
  edgert::BuildOptions opt;
  opt.target = target;
  auto e = edgert::buildEngine(onnx, opt);
  if (!e.ok()) {
    std::fprintf(stderr, "build: %s\n", e.status().toString().c_str());
    std::exit(1);
  }
  return e.value();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string backend = argc > 1 ? argv[1] : "cpu";
  const int iters = argc > 2 ? std::atoi(argv[2]) : 200;
  const char* model = std::getenv("EDGERT_BENCH_PASSTHROUGH");
  if (!model) {
    std::fprintf(stderr, "set EDGERT_BENCH_PASSTHROUGH to a pass-through ONNX model (x -> y)\n");
    return 2;
  }
  auto b = edgert::parseBackend(backend);
  edgert::RuntimeOptions ro;
  ro.backend = b.value();
  auto rt = edgert::Runtime::create(ro);
  if (!rt.ok()) {
    std::fprintf(stderr, "%s\n", rt.status().toString().c_str());
    return 1;
  }
  const auto bytes = engineFor(backend == "cuda" ? "cuda" : "cpu", model);
  auto engine = rt.value()->deserializeEngine(bytes.data(), bytes.size()).value();
  auto ctx = std::move(engine->createExecutionContext().value());
  const int W = 1920, H = 1080;
  std::vector<uint8_t> y(W * H, 90), uv(W * H / 2, 128), rgb(W * H * 3, 90);
  std::vector<double> base;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!ctx->execute().ok()) return 1;
    base.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("%-6s execute alone (pass-through 1x3x640x640): %.3f ms\n", backend.c_str(),
              median(base));
  for (int f = 0; f < 2; ++f) {
    edgert::ImageFrame fr;
    fr.width = W;
    fr.height = H;
    if (f == 0) {
      fr.format = edgert::ImageFormat::kNV12;
      fr.planes = {y.data(), uv.data(), nullptr};
      fr.strides = {W, W, 0};
    } else {
      fr.format = edgert::ImageFormat::kRGB;
      fr.planes = {rgb.data(), nullptr, nullptr};
      fr.strides = {3 * W, 0, 0};
    }
    const edgert::ImagePlacement p = edgert::letterbox(W, H, 640, 640);
    std::vector<double> ms;
    for (int i = 0; i < iters; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      if (!ctx->setImageInput("x", 0, fr, p).ok() || !ctx->execute().ok()) return 1;
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("%-6s 1920x1080 %s -> 640x640 letterbox: %.3f ms per frame (beyond execute)\n",
                backend.c_str(), f == 0 ? "NV12" : "RGB ", median(ms) - median(base));
  }
  return 0;
}
