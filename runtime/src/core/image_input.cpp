#include "image_input.h"

#include <cmath>

#include "edgert/internal/str.h"

namespace edgert {

ImagePlacement stretch(int net_width, int net_height) {
  ImagePlacement p;
  p.resized_width = net_width;
  p.resized_height = net_height;
  return p;
}

ImagePlacement letterbox(int width, int height, int net_width, int net_height) {
  ImagePlacement p;
  const double s = std::min(double(net_width) / width, double(net_height) / height);
  p.resized_width = std::clamp(static_cast<int>(std::lround(width * s)), 1, net_width);
  p.resized_height = std::clamp(static_cast<int>(std::lround(height * s)), 1, net_height);
  p.offset_x = -(net_width - p.resized_width) / 2;
  p.offset_y = -(net_height - p.resized_height) / 2;
  return p;
}

ImagePlacement shortSideCrop(int width, int height, int short_side, int net_width, int net_height) {
  ImagePlacement p;
  const double s = double(short_side) / std::min(width, height);
  p.resized_width = std::max(1, static_cast<int>(std::lround(width * s)));
  p.resized_height = std::max(1, static_cast<int>(std::lround(height * s)));
  p.offset_x = (p.resized_width - net_width) / 2;
  p.offset_y = (p.resized_height - net_height) / 2;
  return p;
}

Result<ImageJob> prepareImageJob(const EngineImpl& engine, const std::string& name, int batch,
                                 const ImageFrame& f, const ImagePlacement& p) {
  const TensorInfo* info = engine.binding(name);
  if (!info || !info->is_input)
    return Status(StatusCode::kNotFound, strCat("'", name, "' is not an input of this engine"));
  const Dims& d = info->dims;
  const int cdim = p.nhwc ? 3 : 1;
  if (info->dtype == DataType::kFloat16)
    return Status(StatusCode::kUnsupported,
                  strCat("input '", name,
                         "' is float16 (an engine built with --input-format fp16); setImageInput "
                         "writes float32 inputs: build the engine with the default input format"));
  if (info->dtype != DataType::kFloat32 || d.size() != 4 || (d[cdim] != 1 && d[cdim] != 3))
    return Status(StatusCode::kUnsupported,
                  strCat("input '", name, "' is ", dataTypeName(info->dtype), " ", dimsToString(d),
                         "; an image input is float32 with 1 or 3 channels at dim ", cdim,
                         p.nhwc ? " (NHWC)" : " (NCHW)"));
  if (batch < 0 || batch >= d[0])
    return Status(StatusCode::kInvalidArgument,
                  strCat("input '", name, "': batch item ", batch, " of ", d[0]));
  const auto fmt = static_cast<int>(f.format);
  if (fmt < kImgRGB || fmt > kImgGRAY8)
    return Status(StatusCode::kInvalidArgument, "unknown image format");
  if (f.width <= 0 || f.height <= 0 || f.width > 1 << 15 || f.height > 1 << 15)
    return Status(StatusCode::kInvalidArgument,
                  strCat("image size ", f.width, "x", f.height, " is not in 1..32768"));
  if (p.resized_width <= 0 || p.resized_height <= 0 || p.resized_width > 1 << 16 ||
      p.resized_height > 1 << 16)
    return Status(StatusCode::kInvalidArgument, strCat("resized size ", p.resized_width, "x",
                                                       p.resized_height, " is not in 1..65536"));
  for (int c = 0; c < 3; ++c)
    if (p.source_channel[c] < 0 || p.source_channel[c] > 2 || !std::isfinite(p.mul[c]) ||
        !std::isfinite(p.add[c]))
      return Status(StatusCode::kInvalidArgument, strCat("placement channel ", c,
                                                         ": source channel must be 0..2 and "
                                                         "mul/add finite"));
  ImageJob job;
  EdgertImage& im = job.params;
  im.format = fmt;
  im.width = f.width;
  im.height = f.height;
  const int ch_h = (f.height + 1) / 2, ch_w = (f.width + 1) / 2;
  const int n_planes = fmt == kImgNV12 ? 2 : fmt == kImgI420 ? 3 : 1;
  for (int i = 0; i < 3; ++i) {
    im.planes[i] = reinterpret_cast<unsigned long long>(f.planes[i]);
    im.strides[i] = f.strides[i];
    if (i >= n_planes) continue;
    const int row_bytes = i == 0 ? (fmt <= kImgBGR    ? 3
                                    : fmt <= kImgBGRx ? 4
                                                      : 1) *
                                       f.width
                                 : (fmt == kImgNV12 ? 2 * ch_w : ch_w);
    if (!f.planes[i] || f.strides[i] < row_bytes)
      return Status(StatusCode::kInvalidArgument,
                    strCat("image plane ", i, ": ", f.planes[i] ? "stride " : "missing",
                           f.planes[i] ? std::to_string(f.strides[i]) : "",
                           f.planes[i] ? strCat(" is below the row size ", row_bytes) : ""));
    const int rows = i == 0 ? f.height : ch_h;
    job.plane_bytes[i] = static_cast<size_t>(f.strides[i]) * (rows - 1) + row_bytes;
  }
  im.bt709 = f.bt709;
  im.full_range = f.full_range;
  im.resized_w = p.resized_width;
  im.resized_h = p.resized_height;
  im.offset_x = p.offset_x;
  im.offset_y = p.offset_y;
  for (int c = 0; c < 3; ++c) {
    im.mul[c] = p.mul[c];
    im.add[c] = p.add[c];
    im.src_ch[c] = p.source_channel[c];
  }
  im.pad = p.pad_value;
  im.nhwc = p.nhwc;
  im.channels = static_cast<int>(d[cdim]);
  im.net_h = static_cast<int>(p.nhwc ? d[1] : d[2]);
  im.net_w = static_cast<int>(p.nhwc ? d[2] : d[3]);
  job.item_offset = static_cast<size_t>(batch) * static_cast<size_t>(volume(d) / d[0]);
  return job;
}

void runImageJobCpu(const EdgertImage& im, float* item) {
  for (int v = 0; v < im.net_h; ++v)
    for (int u = 0; u < im.net_w; ++u) edgertWritePixel(im, u, v, item);
}

}  // namespace edgert
