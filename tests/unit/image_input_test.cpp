// ExecutionContext::setImageInput: frames in every pixel format written straight into an
// image input. The CPU implementation is checked against values worked out by hand (solid
// colours, exact 2:1 area averages, letterbox padding, NHWC/BGR placement); the test
// backend (CUDA under the `gpu` label) must then agree with the CPU on random frames,
// sizes and placements.
#include <gtest/gtest.h>

#include <random>

#include "onnx_model.h"
#include "test_util.h"

using namespace edgert;
using namespace edgert::test;

namespace {

// y = x * 1: the output shows exactly what setImageInput wrote.
std::vector<uint8_t> passThrough(const Dims& dims, const std::string& target) {
  OnnxGraph g;
  g.input("x", DataType::kFloat32, dims);
  HostTensor one = std::move(HostTensor::create(DataType::kFloat32, {1}).value());
  one.mutableAs<float>()[0] = 1.f;
  g.constant("one", one);
  g.node("Mul", {"x", "one"}, {"y"});
  g.output("y");
  BuildOptions opt;
  opt.target = target;
  auto e = buildEngine(g.save("image_input"), opt);
  EXPECT_TRUE(e.ok()) << e.status().toString();
  return e.value();
}

struct Net {
  std::unique_ptr<Runtime> rt;
  std::shared_ptr<const Engine> engine;
  std::unique_ptr<ExecutionContext> ctx;
  Dims dims;
  std::vector<float> run() {
    EXPECT_TRUE(ctx->execute().ok());
    std::vector<float> y(static_cast<size_t>(volume(dims)));
    EXPECT_TRUE(ctx->getOutput("y", y.data(), y.size() * 4).ok());
    return y;
  }
};

Net makeNet(const Dims& dims, Backend b) {
  Net n;
  n.dims = dims;
  RuntimeOptions ro;
  ro.backend = b;
  n.rt = std::move(Runtime::create(ro).value());
  const auto bytes = passThrough(dims, b == Backend::kCuda ? "cuda" : "cpu");
  n.engine = n.rt->deserializeEngine(bytes.data(), bytes.size()).value();
  n.ctx = std::move(n.engine->createExecutionContext().value());
  return n;
}

// A frame held in memory with padded rows, in any format, from an RGB picture.
struct Frame {
  std::vector<uint8_t> y, c1, c2;
  ImageFrame f;
};

Frame makeFrame(ImageFormat fmt, int w, int h, const std::vector<uint8_t>& rgb) {
  Frame fr;
  fr.f.format = fmt;
  fr.f.width = w;
  fr.f.height = h;
  const auto px = [&](int x, int y, int c) {
    return rgb[(static_cast<size_t>(y) * w + x) * 3 + c];
  };
  const int fi = static_cast<int>(fmt);
  if (fi <= static_cast<int>(ImageFormat::kBGRx)) {
    const int bpp = fi <= 1 ? 3 : 4, stride = w * bpp + 5;
    const bool bgr =
        fmt == ImageFormat::kBGR || fmt == ImageFormat::kBGRA || fmt == ImageFormat::kBGRx;
    fr.y.assign(static_cast<size_t>(stride) * h, 77);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) fr.y[y * stride + x * bpp + (bgr ? 2 - c : c)] = px(x, y, c);
    fr.f.planes[0] = fr.y.data();
    fr.f.strides[0] = stride;
    return fr;
  }
  // YUV (BT.601 full range here so values are exact to invert), chroma from the top-left pixel.
  const auto yuv = [&](int x, int y, float* o) {
    const float r = px(x, y, 0), g = px(x, y, 1), b = px(x, y, 2);
    o[0] = 0.299f * r + 0.587f * g + 0.114f * b;
    o[1] = 128 + (b - o[0]) / 1.772f;
    o[2] = 128 + (r - o[0]) / 1.402f;
  };
  const auto byte = [](float v) { return static_cast<uint8_t>(std::clamp(v + 0.5f, 0.f, 255.f)); };
  const int ys = w + 3, cw = (w + 1) / 2, ch = (h + 1) / 2;
  fr.f.full_range = true;
  fr.y.assign(static_cast<size_t>(ys) * h, 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float o[3];
      yuv(x, y, o);
      fr.y[y * ys + x] = byte(o[0]);
    }
  fr.f.planes[0] = fr.y.data();
  fr.f.strides[0] = ys;
  if (fmt == ImageFormat::kGRAY8) return fr;
  const int cs = fmt == ImageFormat::kNV12 ? 2 * cw + 4 : cw + 4;
  fr.c1.assign(static_cast<size_t>(cs) * ch, 0);
  fr.c2.assign(static_cast<size_t>(cs) * ch, 0);
  for (int y = 0; y < ch; ++y)
    for (int x = 0; x < cw; ++x) {
      float o[3];
      yuv(2 * x, 2 * y, o);
      if (fmt == ImageFormat::kNV12) {
        fr.c1[y * cs + 2 * x] = byte(o[1]);
        fr.c1[y * cs + 2 * x + 1] = byte(o[2]);
      } else {
        fr.c1[y * cs + x] = byte(o[1]);
        fr.c2[y * cs + x] = byte(o[2]);
      }
    }
  fr.f.planes[1] = fr.c1.data();
  fr.f.strides[1] = cs;
  if (fmt == ImageFormat::kI420) {
    fr.f.planes[2] = fr.c2.data();
    fr.f.strides[2] = cs;
  }
  return fr;
}

const ImageFormat kAll[] = {ImageFormat::kRGB,  ImageFormat::kBGR,  ImageFormat::kRGBA,
                            ImageFormat::kBGRA, ImageFormat::kRGBx, ImageFormat::kBGRx,
                            ImageFormat::kNV12, ImageFormat::kI420, ImageFormat::kGRAY8};

TEST(ImageInputCpu, SolidColoursInEveryFormat) {
  Net n = makeNet({1, 3, 8, 8}, Backend::kCpu);
  for (ImageFormat fmt : kAll) {
    const int w = 21, h = 13;
    std::vector<uint8_t> rgb;
    for (int i = 0; i < w * h; ++i) rgb.insert(rgb.end(), {200, 100, 50});
    Frame fr = makeFrame(fmt, w, h, rgb);
    ASSERT_TRUE(n.ctx->setImageInput("x", 0, fr.f, stretch(8, 8)).ok());
    const auto y = n.run();
    const bool grey = fmt == ImageFormat::kGRAY8;
    const float want[3] = {grey ? 124.f : 200.f, grey ? 124.f : 100.f, grey ? 124.f : 50.f};
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 64; ++i)
        ASSERT_NEAR(y[c * 64 + i], want[c], 1.5) << static_cast<int>(fmt) << " c" << c;
  }
}

TEST(ImageInputCpu, AreaAveragesAndLetterbox) {
  // 8x2 frame, columns 0,10,20,...,70 -> 4x1 with letterbox into 4x4: rows 0 and 3 pad,
  // rows 1-2 ... the frame resizes to 4x1 (aspect 4:1), centred at row 1.
  Net n = makeNet({1, 3, 4, 4}, Backend::kCpu);
  std::vector<uint8_t> rgb;
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 8; ++x) rgb.insert(rgb.end(), {uint8_t(10 * x), 0, 0});
  Frame fr = makeFrame(ImageFormat::kRGB, 8, 2, rgb);
  ImagePlacement p = letterbox(8, 2, 4, 4);
  EXPECT_EQ(p.resized_width, 4);
  EXPECT_EQ(p.resized_height, 1);
  EXPECT_EQ(p.offset_y, -1);
  p.pad_value = 255;
  ASSERT_TRUE(n.ctx->setImageInput("x", 0, fr.f, p).ok());
  const auto y = n.run();
  EXPECT_FLOAT_EQ(y[0], 255.f);                                                // row 0: padding
  for (int x = 0; x < 4; ++x) EXPECT_FLOAT_EQ(y[4 + x], 20.f * x + 5.f) << x;  // pairs averaged
  EXPECT_FLOAT_EQ(y[8], 255.f);
}

TEST(ImageInputCpu, NhwcBgrAndNormalisation) {
  Net n = makeNet({1, 2, 2, 3}, Backend::kCpu);
  std::vector<uint8_t> rgb;
  for (int i = 0; i < 4; ++i) rgb.insert(rgb.end(), {255, 128, 0});
  Frame fr = makeFrame(ImageFormat::kRGB, 2, 2, rgb);
  ImagePlacement p = stretch(2, 2);
  p.nhwc = true;
  p.source_channel = {2, 1, 0};
  p.mul = {1 / 255.f, 1 / 255.f, 1 / 255.f};
  p.add = {-0.5f, -0.5f, -0.5f};
  ASSERT_TRUE(n.ctx->setImageInput("x", 0, fr.f, p).ok());
  const auto y = n.run();
  EXPECT_NEAR(y[0], -0.5f, 1e-6);  // B
  EXPECT_NEAR(y[2], 0.5f, 1e-6);   // R
}

TEST(ImageInputCpu, ClearErrors) {
  Net n = makeNet({2, 3, 4, 4}, Backend::kCpu);
  std::vector<uint8_t> rgb(3 * 16, 1);
  Frame fr = makeFrame(ImageFormat::kRGB, 4, 4, rgb);
  const auto msg = [&](const std::string& name, int b, ImageFrame f, ImagePlacement p) {
    Status st = n.ctx->setImageInput(name, b, f, p);
    EXPECT_FALSE(st.ok());
    return st.message();
  };
  EXPECT_NE(msg("nope", 0, fr.f, stretch(4, 4)).find("'nope'"), std::string::npos);
  EXPECT_NE(msg("x", 2, fr.f, stretch(4, 4)).find("batch item 2 of 2"), std::string::npos);
  ImageFrame bad = fr.f;
  bad.strides[0] = 5;
  EXPECT_NE(msg("x", 0, bad, stretch(4, 4)).find("below the row size 12"), std::string::npos);
  bad = fr.f;
  bad.format = ImageFormat::kNV12;
  bad.planes[1] = nullptr;
  EXPECT_NE(msg("x", 0, bad, stretch(4, 4)).find("plane 1"), std::string::npos);
  ImagePlacement p = stretch(4, 4);
  p.resized_width = 0;
  EXPECT_NE(msg("x", 0, fr.f, p).find("resized size"), std::string::npos);
}

class ImageInputBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = backendUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  }
};

// The test backend against the CPU on random frames (sizes, formats, placements, batch
// items). On the CPU backend this compares the CPU with itself through a second context.
TEST_F(ImageInputBackend, AgreesWithTheCpu) {
  std::mt19937 rng(std::random_device{}());
  const Dims dims = {2, 3, 48, 64};
  Net ref = makeNet(dims, Backend::kCpu);
  Net dut = makeNet(dims, testBackend());
  for (int trial = 0; trial < 24; ++trial) {
    const ImageFormat fmt = kAll[trial % 9];
    const int w = 9 + static_cast<int>(rng() % 300), h = 7 + static_cast<int>(rng() % 200);
    std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
    for (auto& v : rgb) v = static_cast<uint8_t>(rng());
    Frame fr = makeFrame(fmt, w, h, rgb);
    fr.f.bt709 = rng() % 2;
    fr.f.full_range = rng() % 2;
    ImagePlacement p = trial % 3 == 0   ? stretch(64, 48)
                       : trial % 3 == 1 ? letterbox(w, h, 64, 48)
                                        : shortSideCrop(w, h, 56, 64, 48);
    p.mul = {0.02f, 0.03f, 0.01f};
    p.add = {-1.f, -2.f, 0.5f};
    p.pad_value = static_cast<uint8_t>(rng());
    if (trial % 4 == 0) p.source_channel = {2, 1, 0};
    const int item = trial % 2;
    ASSERT_TRUE(ref.ctx->setImageInput("x", item, fr.f, p).ok());
    Status st = dut.ctx->setImageInput("x", item, fr.f, p);
    ASSERT_TRUE(st.ok()) << st.toString();
    const auto a = ref.run(), b = dut.run();
    const size_t per = a.size() / 2;
    for (size_t i = item * per; i < (item + 1) * per; ++i)
      ASSERT_NEAR(a[i], b[i], 1e-3 * (1 + std::abs(a[i])))
          << "trial " << trial << " format " << static_cast<int>(fmt) << " " << w << "x" << h
          << " at " << i;
  }
}

}  // namespace
