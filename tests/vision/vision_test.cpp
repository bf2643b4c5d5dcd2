// libedgert_vision on its own: preprocessing geometry and pixel formats, every task
// decoder on synthetic outputs with known answers, NMS, the element YAML's errors, and the
// Inferencer on a small real engine.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "edgert/builder.h"
#include "edgert/vision/decoders.h"
#include "edgert/vision/draw.h"
#include "edgert/vision/element_config.h"
#include "edgert/vision/inferencer.h"
#include "edgert/vision/preprocess.h"
#include "edgert/vision/result_json.h"
#include "edgert/vision/shared_inferencer.h"
#include "onnx_model.h"

namespace edgert::vision {
namespace {

namespace fs = std::filesystem;

// A frame of one RGB colour in any format, converted with the same BT.601 maths the
// YUV formats use (limited range).
struct Frame {
  PixelFormat format;
  int w, h;
  std::vector<uint8_t> bytes;
  ImageView view;
};

void rgbToYuv(int r, int g, int b, uint8_t* y, uint8_t* u, uint8_t* v) {
  *y = static_cast<uint8_t>(std::lround(16 + 0.257 * r + 0.504 * g + 0.098 * b));
  *u = static_cast<uint8_t>(std::lround(128 - 0.148 * r - 0.291 * g + 0.439 * b));
  *v = static_cast<uint8_t>(std::lround(128 + 0.439 * r - 0.368 * g - 0.071 * b));
}

Frame solidFrame(PixelFormat f, int w, int h, int r, int g, int b) {
  Frame fr{f, w, h, {}, {}};
  ImageView& v = fr.view;
  v.format = f;
  v.width = w;
  v.height = h;
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  uint8_t yy, uu, vv;
  rgbToYuv(r, g, b, &yy, &uu, &vv);
  if (f == PixelFormat::kNV12 || f == PixelFormat::kI420) {
    const int ystride = w + 3;  // padded rows, as GStreamer aligns them
    const int cstride = f == PixelFormat::kNV12 ? 2 * cw + 5 : cw + 5;
    fr.bytes.assign(static_cast<size_t>(ystride * h + 2 * cstride * ch), 0);
    std::fill(fr.bytes.begin(), fr.bytes.begin() + ystride * h, yy);
    uint8_t* c = fr.bytes.data() + ystride * h;
    for (int i = 0; i < ch; ++i)
      for (int j = 0; j < cw; ++j) {
        if (f == PixelFormat::kNV12) {
          c[i * cstride + 2 * j] = uu;
          c[i * cstride + 2 * j + 1] = vv;
        } else {
          c[i * cstride + j] = uu;
          c[cstride * ch + i * cstride + j] = vv;
        }
      }
    v.planes[0] = fr.bytes.data();
    v.strides[0] = ystride;
    v.planes[1] = c;
    v.strides[1] = cstride;
    v.planes[2] = c + cstride * ch;
    v.strides[2] = cstride;
    return fr;
  }
  const int bpp = packedPixelBytes(f);
  const int stride = w * bpp + 7;
  fr.bytes.assign(static_cast<size_t>(stride * h), 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = fr.bytes.data() + y * stride + x * bpp;
      switch (f) {
        case PixelFormat::kRGB:
          p[0] = r;
          p[1] = g;
          p[2] = b;
          break;
        case PixelFormat::kBGR:
          p[0] = b;
          p[1] = g;
          p[2] = r;
          break;
        case PixelFormat::kRGBA:
        case PixelFormat::kRGBx:
          p[0] = r;
          p[1] = g;
          p[2] = b;
          p[3] = 255;
          break;
        case PixelFormat::kBGRA:
        case PixelFormat::kBGRx:
          p[0] = b;
          p[1] = g;
          p[2] = r;
          p[3] = 255;
          break;
        default:
          p[0] = static_cast<uint8_t>((299 * r + 587 * g + 114 * b) / 1000);
          break;
      }
    }
  v.planes[0] = fr.bytes.data();
  v.strides[0] = stride;
  return fr;
}

const PixelFormat kColourFormats[] = {PixelFormat::kRGB,  PixelFormat::kBGR,  PixelFormat::kRGBA,
                                      PixelFormat::kBGRA, PixelFormat::kRGBx, PixelFormat::kBGRx,
                                      PixelFormat::kNV12, PixelFormat::kI420};

TEST(Preprocess, EveryFormatGivesTheSameRgbValues) {
  std::mt19937 rng(std::random_device{}());
  for (PixelFormat f : kColourFormats) {
    // Odd sizes exercise the chroma rounding of the YUV formats.
    const int w = 17 + static_cast<int>(rng() % 40), h = 9 + static_cast<int>(rng() % 30);
    const int r = 40 + static_cast<int>(rng() % 180), g = 40 + static_cast<int>(rng() % 180),
              b = 40 + static_cast<int>(rng() % 180);
    Frame fr = solidFrame(f, w, h, r, g, b);
    PreprocessSpec spec;
    std::vector<float> out(3 * 8 * 8);
    auto t = preprocessImage(fr.view, spec, 8, 8, 3, out.data());
    ASSERT_TRUE(t.ok()) << t.status().toString();
    const double tol = (f == PixelFormat::kNV12 || f == PixelFormat::kI420) ? 3.0 : 0.0;
    for (int i = 0; i < 64; ++i) {
      ASSERT_NEAR(out[i], r, tol) << pixelFormatName(f) << " " << w << "x" << h;
      ASSERT_NEAR(out[64 + i], g, tol) << pixelFormatName(f);
      ASSERT_NEAR(out[128 + i], b, tol) << pixelFormatName(f);
    }
  }
}

TEST(Preprocess, MeanStdOrderAndLayout) {
  Frame fr = solidFrame(PixelFormat::kRGB, 10, 10, 200, 100, 50);
  PreprocessSpec spec;
  spec.scale = 1.0f / 255;
  spec.mean = {0.5f, 0.5f, 0.5f};
  spec.std = {0.25f, 0.5f, 1.0f};
  spec.bgr = true;
  spec.nhwc = true;
  std::vector<float> out(3 * 4 * 4);
  ASSERT_TRUE(preprocessImage(fr.view, spec, 4, 4, 3, out.data()).ok());
  // NHWC, BGR: channel 0 is blue.
  EXPECT_NEAR(out[0], (50 / 255.0 - 0.5) / 0.25, 1e-5);
  EXPECT_NEAR(out[1], (100 / 255.0 - 0.5) / 0.5, 1e-5);
  EXPECT_NEAR(out[2], (200 / 255.0 - 0.5) / 1.0, 1e-5);
}

TEST(Preprocess, LetterboxPadsAndMapsBack) {
  // 200x100 frame into 64x64: resized to 64x32, 16 rows of padding above and below.
  Frame fr = solidFrame(PixelFormat::kRGB, 200, 100, 255, 255, 255);
  PreprocessSpec spec;
  spec.resize = ResizeMode::kLetterbox;
  spec.pad_value = 0;
  std::vector<float> out(3 * 64 * 64);
  auto t = preprocessImage(fr.view, spec, 64, 64, 3, out.data());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(out[0], 0.f);              // row 0: padding
  EXPECT_EQ(out[16 * 64 + 5], 255.f);  // row 16: image
  EXPECT_EQ(out[48 * 64 + 5], 0.f);    // row 48: padding again
  EXPECT_NEAR(t->toFrameX(0), 0, 1e-4);
  EXPECT_NEAR(t->toFrameY(16), 0, 1e-4);
  EXPECT_NEAR(t->toFrameX(64), 200, 1e-3);
  EXPECT_NEAR(t->toFrameY(48), 100, 1e-3);
}

TEST(Preprocess, ShortSideCropMatchesTorchvisionGeometry) {
  // 300x200 -> short side 256 -> 384x256 -> centre 224: offset (80, 16).
  Frame fr = solidFrame(PixelFormat::kRGB, 300, 200, 1, 2, 3);
  PreprocessSpec spec;
  spec.resize = ResizeMode::kShortSide;
  spec.resize_short = 256;
  std::vector<float> out(3 * 224 * 224);
  auto t = preprocessImage(fr.view, spec, 224, 224, 3, out.data());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->offset_x, 80);
  EXPECT_EQ(t->offset_y, 16);
  EXPECT_NEAR(t->toFrameX(0), 80 * 300.0 / 384, 1e-3);
}

TEST(Preprocess, ParsesTheCliForm) {
  int crop = 0;
  auto s = parsePreprocessSpec("resize=256,crop=224,mean=127,std=128,order=bgr,layout=nhwc", &crop);
  ASSERT_TRUE(s.ok()) << s.status().toString();
  EXPECT_EQ(s->resize, ResizeMode::kShortSide);
  EXPECT_EQ(s->resize_short, 256);
  EXPECT_EQ(crop, 224);
  EXPECT_EQ(s->mean[2], 127);
  EXPECT_TRUE(s->bgr);
  EXPECT_TRUE(s->nhwc);
  auto bad = parsePreprocessSpec("resize=256,colour=red");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("colour"), std::string::npos);
  EXPECT_FALSE(parsePreprocessSpec("std=0").ok());
}

FrameTransform identity(int w, int h) {
  FrameTransform t;
  t.frame_width = t.net_width = w;
  t.frame_height = t.net_height = h;
  return t;
}

TEST(Decoders, ClassificationSoftmaxTopK) {
  std::vector<float> logits = {1, 5, 2, 4};
  DecoderOptions o;
  o.task = TaskType::kClassification;
  o.top_k = 2;
  o.threshold = 0;
  o.labels = {"a", "b", "c", "d"};
  FrameResult r;
  ASSERT_TRUE(decodeOutputs({{"logits", {4}, logits.data()}}, o, identity(10, 10), &r).ok());
  ASSERT_EQ(r.classes.size(), 2u);
  EXPECT_EQ(r.classes[0].label, "b");
  EXPECT_EQ(r.classes[1].label, "d");
  const double z = std::exp(1) + std::exp(5) + std::exp(2) + std::exp(4);
  EXPECT_NEAR(r.classes[0].confidence, std::exp(5) / z, 1e-5);
}

TEST(Decoders, YoloV8BothLayoutsAndNms) {
  // 3 anchors, 2 classes: anchors 0 and 1 overlap (same class) -> NMS keeps the best.
  const int A = 3, V = 6;
  const float rows[A][V] = {
      {50, 50, 20, 20, 0.9f, 0.1f}, {52, 51, 20, 20, 0.8f, 0.1f}, {10, 10, 8, 8, 0.1f, 0.7f}};
  std::vector<float> first(V * A), last(A * V);
  for (int a = 0; a < A; ++a)
    for (int v = 0; v < V; ++v) {
      first[v * A + a] = rows[a][v];
      last[a * V + v] = rows[a][v];
    }
  DecoderOptions o;
  o.task = TaskType::kDetection;
  o.labels = {"person", "car"};
  for (auto* data : {&first, &last}) {
    FrameResult r;
    const std::vector<int64_t> dims =
        data == &first ? std::vector<int64_t>{V, A} : std::vector<int64_t>{A, V};
    ASSERT_TRUE(decodeOutputs({{"out", dims, data->data()}}, o, identity(100, 100), &r).ok());
    ASSERT_EQ(r.detections.size(), 2u);
    EXPECT_EQ(r.detections[0].label, "person");
    EXPECT_NEAR(r.detections[0].x, 40, 1e-4);
    EXPECT_NEAR(r.detections[0].width, 20, 1e-4);
    EXPECT_EQ(r.detections[1].label, "car");
    EXPECT_NEAR(r.detections[1].confidence, 0.7f, 1e-6);
  }
}

TEST(Decoders, YoloV5ObjectnessAndLetterboxMapping) {
  // One anchor: objectness 0.5 x class 0.9 = 0.45 (below 0.5: dropped), one at 0.9 x 0.9.
  std::vector<float> out = {32, 32, 16, 16, 0.5f, 0.9f, 32, 32, 16, 16, 0.9f, 0.9f};
  DecoderOptions o;
  o.task = TaskType::kDetection;
  o.format = DetectionFormat::kYoloV5;
  FrameTransform t;  // 64x64 network, 128x64 frame letterboxed: offset y -16, scale 2
  t.frame_width = 128;
  t.frame_height = 64;
  t.net_width = t.net_height = 64;
  t.scale_x = t.scale_y = 2;
  t.offset_y = -16;
  FrameResult r;
  ASSERT_TRUE(decodeOutputs({{"out", {2, 6}, out.data()}}, o, t, &r).ok());
  ASSERT_EQ(r.detections.size(), 1u);
  EXPECT_NEAR(r.detections[0].x, 48, 1e-4);
  EXPECT_NEAR(r.detections[0].y, 16, 1e-4);
  EXPECT_NEAR(r.detections[0].width, 32, 1e-4);
}

TEST(Decoders, SsdBoxesScoresAndBackground) {
  std::vector<float> boxes = {0.1f, 0.1f, 0.5f, 0.5f, 0.6f, 0.6f, 0.9f, 0.9f};
  std::vector<float> scores = {0.9f, 0.05f, 0.05f, 0.1f, 0.2f, 0.7f};  // [2 anchors, 3 classes]
  DecoderOptions o;
  o.task = TaskType::kDetection;
  o.format = DetectionFormat::kSsd;
  o.ssd_background = true;
  FrameResult r;
  ASSERT_TRUE(decodeOutputs({{"boxes", {2, 4}, boxes.data()}, {"scores", {2, 3}, scores.data()}}, o,
                            identity(200, 100), &r)
                  .ok());
  ASSERT_EQ(r.detections.size(), 1u);  // anchor 0 is background
  EXPECT_EQ(r.detections[0].class_id, 2);
  EXPECT_NEAR(r.detections[0].x, 120, 1e-3);
  EXPECT_NEAR(r.detections[0].y, 60, 1e-3);
}

TEST(Decoders, TextRegionsFromAProbabilityMap) {
  // Two bars of text probability, one slanted: two regions with rotated corners.
  const int H = 64, W = 128;
  std::vector<float> prob(H * W, 0.f);
  for (int x = 10; x < 110; ++x)
    for (int y = 10; y < 16; ++y) prob[y * W + x] = 0.95f;
  for (int x = 20; x < 100; ++x) {
    const int y0 = 35 + (x - 20) / 8;
    for (int y = y0; y < y0 + 6; ++y) prob[y * W + x] = 0.9f;
  }
  DecoderOptions o;
  o.task = TaskType::kTextDetection;
  o.threshold = 0.6f;
  FrameResult r;
  ASSERT_TRUE(decodeOutputs({{"prob", {1, H, W}, prob.data()}}, o, identity(W, H), &r).ok());
  ASSERT_EQ(r.detections.size(), 2u);
  EXPECT_EQ(r.detections[0].polygon.size(), 4u);
  // Unclipped: grown beyond the 100x6 bar, and in reading order.
  EXPECT_LT(r.detections[0].x, 10);
  EXPECT_GT(r.detections[0].width, 100);
  EXPECT_LT(r.detections[0].y, r.detections[1].y);
  EXPECT_EQ(r.detections[0].label, "text");
}

TEST(Decoders, SegmentationArgmaxAndMapping) {
  // 2 classes on a 4x4 map: class 1 in the right half.
  std::vector<float> s(2 * 16, 0.f);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) s[(x >= 2 ? 16 : 0) + y * 4 + x] = 1.f;
  DecoderOptions o;
  o.task = TaskType::kSegmentation;
  FrameTransform t = identity(8, 8);  // 8x8 network: the mask is stride 2
  t.frame_width = t.frame_height = 16;
  t.scale_x = t.scale_y = 2;
  FrameResult r;
  ASSERT_TRUE(decodeOutputs({{"seg", {2, 4, 4}, s.data()}}, o, t, &r).ok());
  EXPECT_EQ(r.mask.classes[0], 0);
  EXPECT_EQ(r.mask.classes[3], 1);
  EXPECT_NEAR(r.mask.scale_x, 4, 1e-6);  // 4 frame pixels per mask pixel
}

TEST(Decoders, WrongShapesAreNamedErrors) {
  std::vector<float> x(10, 0.f);
  DecoderOptions o;
  o.task = TaskType::kTextDetection;
  FrameResult r;
  Status st = decodeOutputs({{"maps", {2, 5, 1, 1}, x.data()}}, o, identity(5, 5), &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("maps"), std::string::npos);
  o.task = TaskType::kDetection;
  o.format = DetectionFormat::kSsd;
  st = decodeOutputs({{"boxes", {5, 2}, x.data()}}, o, identity(5, 5), &r);
  EXPECT_FALSE(st.ok());
}

TEST(Decoders, NmsKeepsDifferentClassesAndCapsCount) {
  std::vector<Detection> d;
  for (int i = 0; i < 10; ++i) {
    Detection a;
    a.x = a.y = 0;
    a.width = a.height = 10;
    a.class_id = i % 2;
    a.confidence = 0.5f + i * 0.01f;
    d.push_back(a);
  }
  nonMaxSuppression(&d, 0.5f, 100);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[0].confidence, 0.59f, 1e-6);
}

TEST(Draw, BoxesChangePixelsInEveryFormat) {
  FrameResult r;
  Detection d;
  d.x = 4;
  d.y = 4;
  d.width = 20;
  d.height = 12;
  d.label = "x";
  d.confidence = 0.5f;
  r.detections.push_back(d);
  for (PixelFormat f : kColourFormats) {
    Frame fr = solidFrame(f, 40, 30, 0, 0, 0);
    const auto before = fr.bytes;
    drawResult(fr.view, r);
    EXPECT_NE(before, fr.bytes) << pixelFormatName(f);
  }
}

// --- YAML ---------------------------------------------------------------------------

TEST(ElementConfig, ParsesEverySection) {
  auto c = parseElementConfig(R"(
model: {engine: m.engine, backend: cpu, input: x}
preprocess: {resize: letterbox, scale: 0.5, mean: [1, 2, 3], std: 2, order: bgr, layout: nhwc, pad_value: 7}
task: {type: detection, format: yolov5, threshold: 0.25, nms_iou: 0.6, labels: l.txt}
inference: {interval: 3, batch_size: 2, unique_id: 9}
)",
                              "e.yaml", "/cfg");
  ASSERT_TRUE(c.ok()) << c.status().toString();
  EXPECT_EQ(c->model.engine, "/cfg/m.engine");
  EXPECT_EQ(c->labels_path, "/cfg/l.txt");
  EXPECT_EQ(c->preprocess.resize, ResizeMode::kLetterbox);
  EXPECT_EQ(c->preprocess.mean[2], 3.f);
  EXPECT_EQ(c->preprocess.std[1], 2.f);
  EXPECT_EQ(c->decoder.format, DetectionFormat::kYoloV5);
  EXPECT_EQ(c->interval, 3);
  EXPECT_EQ(c->unique_id, 9u);
}

TEST(ElementConfig, ErrorsNameFileLineAndKey) {
  struct Case {
    const char* yaml;
    const char* expect;
  } cases[] = {
      {"task: {type: detection}\nmodel: {engine: a, colour: red}\n", "e.yaml:2:"},
      {"task: {type: detection}\nmodel: {engine: a, colour: red}\n", "model.colour"},
      {"task: {type: detection, threshold: high}\n", "task.threshold' must be a number"},
      {"task: {type: detection, threshold: 2}\n", "must be in [0, 1]"},
      {"task: {type: tracking}\n", "must be one of"},
      {"model: {engine: a}\n", "'task' is required"},
      {"task: {format: ssd}\n", "'task.type' is required"},
      {"task: {type: raw}\ninference: {interval: 0}\n", "inference.interval"},
      {"task: [1, 2\n", "YAML syntax error"},
      {"task: {type: raw}\nmodel: {engine: a, onnx: b}\n", "not both"},
      {"- 1\n- 2\n", "expected a mapping"},
  };
  for (const auto& c : cases) {
    auto r = parseElementConfig(c.yaml, "e.yaml", ".");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos)
        << c.yaml << " -> " << r.status().message();
  }
}

// --- Inferencer on a real engine ------------------------------------------------------

// Mean of each channel, as logits: the class is the frame's dominant colour.
std::string buildColourClassifier(const fs::path& dir, int batch = 1) {
  test::OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {batch, 3, 16, 16});
  g.node("GlobalAveragePool", {"x"}, {"p"});
  g.node("Flatten", {"p"}, {"logits"});
  g.output("logits");
  const std::string onnx = g.save("colour");
  const std::string engine = (dir / ("colour" + std::to_string(batch) + ".engine")).string();
  BuildOptions opt;
  EXPECT_TRUE(buildEngineFile(onnx, engine, opt).ok());
  fs::remove(onnx);
  return engine;
}

TEST(Inferencer, ClassifiesColoursInEveryFormat) {
  const fs::path dir = fs::temp_directory_path() / ("edgert_vision_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ElementConfig cfg;
  cfg.model.engine = buildColourClassifier(dir);
  cfg.model.backend = "cpu";
  cfg.preprocess.scale = 10.0f / 255;  // sharp softmax
  cfg.decoder.task = TaskType::kClassification;
  cfg.decoder.threshold = 0;
  cfg.decoder.top_k = 1;
  cfg.decoder.labels = {"red", "green", "blue"};
  auto inf = Inferencer::create(cfg);
  ASSERT_TRUE(inf.ok()) << inf.status().toString();
  const int colours[3][3] = {{220, 30, 30}, {30, 220, 30}, {30, 30, 220}};
  for (PixelFormat f : kColourFormats) {
    for (int c = 0; c < 3; ++c) {
      Frame fr = solidFrame(f, 33, 21, colours[c][0], colours[c][1], colours[c][2]);
      std::vector<FrameResult> res;
      ASSERT_TRUE(inf.value()->infer({fr.view}, &res).ok());
      ASSERT_EQ(res[0].classes.size(), 1u);
      EXPECT_EQ(res[0].classes[0].label, cfg.decoder.labels[c]) << pixelFormatName(f);
    }
  }
  // The JSON carries the same answer.
  Frame fr = solidFrame(PixelFormat::kRGB, 8, 8, 0, 0, 255);
  std::vector<FrameResult> res;
  ASSERT_TRUE(inf.value()->infer({fr.view}, &res).ok());
  const std::string json = resultToJson(res[0], {"cam", 3, -1, 8, 8, 1});
  EXPECT_NE(json.find("\"label\":\"blue\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"source\":\"cam\""), std::string::npos) << json;
  fs::remove_all(dir);
}

TEST(Inferencer, RejectsWhatItCannotFeed) {
  const fs::path dir = fs::temp_directory_path() / ("edgert_vision_r" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // A [1, 5] input is no image.
  test::OnnxGraph g(13);
  g.input("v", DataType::kFloat32, {1, 5});
  g.node("Relu", {"v"}, {"y"});
  g.output("y");
  const std::string onnx = g.save("vec");
  ElementConfig cfg;
  cfg.model.onnx = (dir / "vec.onnx").string();
  fs::copy_file(onnx, cfg.model.onnx);
  fs::remove(onnx);
  cfg.model.target = "cpu";
  auto inf = Inferencer::create(cfg);
  ASSERT_FALSE(inf.ok());
  EXPECT_NE(inf.status().message().find("input 'v'"), std::string::npos) << inf.status().message();
  // The build-on-first-use cache was written next to the model.
  EXPECT_TRUE(fs::exists(dir / "vec.fp32.cpu.engine"));
  cfg.model.onnx = (dir / "missing.onnx").string();
  inf = Inferencer::create(cfg);
  ASSERT_FALSE(inf.ok());
  EXPECT_NE(inf.status().message().find("missing.onnx"), std::string::npos);
  fs::remove_all(dir);
}

// Two streams with the same configuration share one instance, and frames they submit
// while the engine is busy run in one execution; each caller gets its own results.
TEST(SharedInferencer, BatchesAcrossCallers) {
  const fs::path dir = fs::temp_directory_path() / ("edgert_vision_s" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ElementConfig cfg;
  cfg.model.engine = buildColourClassifier(dir, 2);
  cfg.model.backend = "cpu";
  cfg.batch_size = 2;
  cfg.preprocess.scale = 10.0f / 255;
  cfg.decoder.task = TaskType::kClassification;
  cfg.decoder.threshold = 0;
  cfg.decoder.top_k = 1;
  cfg.decoder.labels = {"red", "green", "blue"};
  auto a = SharedInferencer::acquire(cfg);
  auto b = SharedInferencer::acquire(cfg);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().toString();
  EXPECT_EQ(a.value().get(), b.value().get());
  ElementConfig other = cfg;
  other.decoder.threshold = 0.5f;
  auto c = SharedInferencer::acquire(other);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a.value().get(), c.value().get());

  // Without a wait the two callers overlap only by chance (on a loaded machine one may
  // finish before the other starts); holding partial batches makes every execution pair
  // one frame of each caller, since each caller has one request in flight.
  a.value()->setBatchWait(std::chrono::seconds(20));

  const int colours[3][3] = {{220, 30, 30}, {30, 220, 30}, {30, 30, 220}};
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto inf = t == 0 ? a.value() : b.value();
      for (int i = 0; i < 300; ++i) {
        const int k = (i + t) % 3;
        Frame fr =
            solidFrame(PixelFormat::kRGB, 24, 16, colours[k][0], colours[k][1], colours[k][2]);
        std::vector<FrameResult> res;
        Status st = inf->infer({fr.view}, &res);
        if (!st.ok() || res.size() != 1 || res[0].classes.empty() ||
            res[0].classes[0].label != cfg.decoder.labels[k]) {
          errors[t] = "caller " + std::to_string(t) + " frame " + std::to_string(i) + ": " +
                      (st.ok() ? "wrong result" : st.message());
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  const auto stats = a.value()->stats();
  EXPECT_EQ(stats.frames, 600u);
  EXPECT_EQ(stats.largest_batch, 2);  // frames of both callers in one execution
  EXPECT_EQ(stats.most_callers, 2);
  EXPECT_EQ(stats.executions, 300u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace edgert::vision
