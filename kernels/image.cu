// Frame -> network input (see image_sample.h): one thread per tensor pixel, all channels.
#include "image_sample.h"

extern "C" __global__ void edgert_image_to_tensor(EdgertImage im, float* out) {
  const long long n = static_cast<long long>(im.net_w) * im.net_h;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    edgertWritePixel(im, static_cast<int>(i % im.net_w), static_cast<int>(i / im.net_w), out);
}
