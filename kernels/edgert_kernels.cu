// The one translation unit nvcc turns into the embedded fatbin.
#include "elementwise.cu"
#include "image.cu"
#include "nhwc_half.cu"
#include "transpose.cu"
