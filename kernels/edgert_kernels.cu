// The one translation unit nvcc turns into the embedded fatbin.
#include "depthwise_f32.cu"
#include "elementwise.cu"
#include "epilogue.cu"
#include "image.cu"
#include "int8.cu"
#include "nhwc_half.cu"
#include "pointwise_small.cu"
#include "transpose.cu"
