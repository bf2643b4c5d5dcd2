// Frame -> network input in one pass, shared by the CPU backend (plain C++) and the CUDA
// kernel (kernels/image.cu) so both backends feed a network the same values: area
// averaging when shrinking and bilinear when enlarging (OpenCV's INTER_AREA semantics),
// YUV -> RGB by the frame's matrix and range, a letterbox / crop window and a per-channel
// affine normalisation.
#pragma once

#include "hd.h"

enum EdgertImageFormat {
  kImgRGB,
  kImgBGR,
  kImgRGBA,
  kImgBGRA,
  kImgRGBx,
  kImgBGRx,
  kImgNV12,
  kImgI420,
  kImgGRAY8
};

struct EdgertImage {
  int format;
  int width, height;
  unsigned long long planes[3];  // addresses (device addresses in the kernel)
  int strides[3];
  int bt709, full_range;
  int resized_w, resized_h, offset_x, offset_y;
  float mul[3], add[3];
  int src_ch[3];  // tensor channel c takes R (0), G (1) or B (2)
  float pad;      // pixel value outside the resized frame
  int nhwc, channels, net_w, net_h;
};

EDGERT_HD void edgertPixelRgb(const EdgertImage& im, int x, int y, float* rgb) {
  const unsigned char* p0 = reinterpret_cast<const unsigned char*>(im.planes[0]);
  const unsigned char* p1 = reinterpret_cast<const unsigned char*>(im.planes[1]);
  const unsigned char* p2 = reinterpret_cast<const unsigned char*>(im.planes[2]);
  if (im.format <= kImgBGRx) {
    const int bpp = im.format <= kImgBGR ? 3 : 4;
    const bool bgr = im.format == kImgBGR || im.format == kImgBGRA || im.format == kImgBGRx;
    const unsigned char* p = p0 + static_cast<long long>(y) * im.strides[0] + x * bpp;
    rgb[0] = p[bgr ? 2 : 0];
    rgb[1] = p[1];
    rgb[2] = p[bgr ? 0 : 2];
    return;
  }
  const float yv = p0[static_cast<long long>(y) * im.strides[0] + x];
  if (im.format == kImgGRAY8) {
    rgb[0] = rgb[1] = rgb[2] = yv;
    return;
  }
  float u, v;
  if (im.format == kImgNV12) {
    const unsigned char* c = p1 + static_cast<long long>(y / 2) * im.strides[1] + (x / 2) * 2;
    u = c[0];
    v = c[1];
  } else {
    u = p1[static_cast<long long>(y / 2) * im.strides[1] + x / 2];
    v = p2[static_cast<long long>(y / 2) * im.strides[2] + x / 2];
  }
  const float kr = im.bt709 ? 0.2126f : 0.299f, kb = im.bt709 ? 0.0722f : 0.114f;
  const float kg = 1.f - kr - kb;
  const float yy = im.full_range ? yv : (yv - 16.f) * (255.f / 219.f);
  const float cm = im.full_range ? 1.f : 255.f / 224.f;
  const float uu = (u - 128.f) * cm, vv = (v - 128.f) * cm;
  const float r = yy + 2.f * (1.f - kr) * vv;
  const float g = yy - 2.f * kb * (1.f - kb) / kg * uu - 2.f * kr * (1.f - kr) / kg * vv;
  const float b = yy + 2.f * (1.f - kb) * uu;
  rgb[0] = r < 0.f ? 0.f : (r > 255.f ? 255.f : r);
  rgb[1] = g < 0.f ? 0.f : (g > 255.f ? 255.f : g);
  rgb[2] = b < 0.f ? 0.f : (b > 255.f ? 255.f : b);
}

// Taps of one axis for resized coordinate r: area when shrinking, bilinear when enlarging.
struct EdgertTaps {
  int first, count;
  float scale;  // source pixels per resized pixel
  float pos;    // area: start of the footprint; bilinear: the sampling position
};

EDGERT_HD EdgertTaps edgertTaps(int r, int resized, int source) {
  EdgertTaps t;
  t.scale = static_cast<float>(source) / static_cast<float>(resized);
  if (t.scale > 1.f) {
    t.pos = r * t.scale;
    const float end = t.pos + t.scale;
    t.first = static_cast<int>(t.pos);
    int last = static_cast<int>(end);
    if (static_cast<float>(last) == end) --last;
    if (last > source - 1) last = source - 1;
    t.count = last - t.first + 1;
  } else {
    float c = (r + 0.5f) * t.scale - 0.5f;
    if (c < 0.f) c = 0.f;
    if (c > source - 1) c = static_cast<float>(source - 1);
    t.pos = c;
    t.first = static_cast<int>(c);
    t.count = t.first + 1 < source ? 2 : 1;
  }
  return t;
}

EDGERT_HD float edgertTapWeight(const EdgertTaps& t, int k) {
  const float i = static_cast<float>(t.first + k);
  if (t.scale > 1.f) {
    const float lo = i > t.pos ? i : t.pos;
    const float end = t.pos + t.scale;
    const float hi = i + 1.f < end ? i + 1.f : end;
    return (hi - lo) / t.scale;
  }
  const float frac = t.pos - static_cast<float>(t.first);
  return k == 0 ? 1.f - frac : frac;
}

// Writes tensor pixel (u, v) of one image: `out` is that image's C*H*W (or H*W*C) floats.
EDGERT_HD void edgertWritePixel(const EdgertImage& im, int u, int v, float* out) {
  const int rx = u + im.offset_x, ry = v + im.offset_y;
  float rgb[3] = {im.pad, im.pad, im.pad};
  if (rx >= 0 && ry >= 0 && rx < im.resized_w && ry < im.resized_h) {
    const EdgertTaps tx = edgertTaps(rx, im.resized_w, im.width);
    const EdgertTaps ty = edgertTaps(ry, im.resized_h, im.height);
    rgb[0] = rgb[1] = rgb[2] = 0.f;
    for (int j = 0; j < ty.count; ++j) {
      const float wy = edgertTapWeight(ty, j);
      for (int i = 0; i < tx.count; ++i) {
        const float w = wy * edgertTapWeight(tx, i);
        float px[3];
        edgertPixelRgb(im, tx.first + i, ty.first + j, px);
        rgb[0] += w * px[0];
        rgb[1] += w * px[1];
        rgb[2] += w * px[2];
      }
    }
  }
  const long long plane = static_cast<long long>(im.net_w) * im.net_h;
  const long long i = static_cast<long long>(v) * im.net_w + u;
  if (im.channels == 1) {
    const float grey = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
    out[i] = grey * im.mul[0] + im.add[0];
    return;
  }
  for (int c = 0; c < 3; ++c) {
    const float val = rgb[im.src_ch[c]] * im.mul[c] + im.add[c];
    if (im.nhwc)
      out[3 * i + c] = val;
    else
      out[c * plane + i] = val;
  }
}
