#include "cuda_libs.h"

#include <dlfcn.h>

#include <mutex>

#include "edgert/internal/str.h"

namespace edgert::cuda {

namespace {

void* openFirst(std::initializer_list<const char*> names, std::string& tried) {
  for (const char* n : names) {
    if (void* h = ::dlopen(n, RTLD_NOW | RTLD_LOCAL)) return h;
    tried += strCat(tried.empty() ? "" : ", ", n);
  }
  return nullptr;
}

template <class T>
Status resolve(void* h, const char* lib, const char* name, T& fn) {
  fn = reinterpret_cast<T>(::dlsym(h, name));
  if (!fn)
    return Status(StatusCode::kUnavailable,
                  strCat(lib, " lacks ", name,
                         " (edgert needs CUDA driver >= 12, cuDNN >= 9.0, cuBLASLt >= 12)"));
  return Status::Ok();
}

#define EDGERT_RESOLVE(name) EDGERT_RETURN_IF_ERROR(resolve(h, lib, #name, t.name));

Status loadDriver(Driver& t) {
  std::string tried;
  void* h = openFirst({"libcuda.so.1", "libcuda.so"}, tried);
  if (!h)
    return Status(StatusCode::kUnavailable,
                  strCat("no NVIDIA driver: cannot load ", tried, " (", ::dlerror(), ")"));
  const char* lib = "libcuda.so.1";
  // Versioned entry points: the plain names are the oldest ABI in the driver.
  EDGERT_CU_FUNCS(EDGERT_RESOLVE)
  t.cuMemAlloc = reinterpret_cast<decltype(t.cuMemAlloc)>(::dlsym(h, "cuMemAlloc_v2"));
  t.cuMemFree = reinterpret_cast<decltype(t.cuMemFree)>(::dlsym(h, "cuMemFree_v2"));
  t.cuMemcpyHtoD = reinterpret_cast<decltype(t.cuMemcpyHtoD)>(::dlsym(h, "cuMemcpyHtoD_v2"));
  t.cuMemcpyDtoH = reinterpret_cast<decltype(t.cuMemcpyDtoH)>(::dlsym(h, "cuMemcpyDtoH_v2"));
  t.cuMemcpyHtoDAsync =
      reinterpret_cast<decltype(t.cuMemcpyHtoDAsync)>(::dlsym(h, "cuMemcpyHtoDAsync_v2"));
  t.cuMemcpyDtoHAsync =
      reinterpret_cast<decltype(t.cuMemcpyDtoHAsync)>(::dlsym(h, "cuMemcpyDtoHAsync_v2"));
  t.cuMemcpyDtoDAsync =
      reinterpret_cast<decltype(t.cuMemcpyDtoDAsync)>(::dlsym(h, "cuMemcpyDtoDAsync_v2"));
  t.cuMemGetInfo = reinterpret_cast<decltype(t.cuMemGetInfo)>(::dlsym(h, "cuMemGetInfo_v2"));
  t.cuDevicePrimaryCtxRelease = reinterpret_cast<decltype(t.cuDevicePrimaryCtxRelease)>(
      ::dlsym(h, "cuDevicePrimaryCtxRelease_v2"));
  t.cuStreamBeginCapture =
      reinterpret_cast<decltype(t.cuStreamBeginCapture)>(::dlsym(h, "cuStreamBeginCapture_v2"));
  t.cuGraphInstantiate =
      reinterpret_cast<decltype(t.cuGraphInstantiate)>(::dlsym(h, "cuGraphInstantiateWithFlags"));
  t.cuMemAllocHost = reinterpret_cast<decltype(t.cuMemAllocHost)>(::dlsym(h, "cuMemAllocHost_v2"));
  t.cuLaunchKernelEx =
      reinterpret_cast<decltype(t.cuLaunchKernelEx)>(::dlsym(h, "cuLaunchKernelEx"));
  t.cuTensorMapEncodeTiled =
      reinterpret_cast<decltype(t.cuTensorMapEncodeTiled)>(::dlsym(h, "cuTensorMapEncodeTiled"));
  t.cuTensorMapEncodeIm2col =
      reinterpret_cast<decltype(t.cuTensorMapEncodeIm2col)>(::dlsym(h, "cuTensorMapEncodeIm2col"));
  if (!t.cuMemAlloc || !t.cuMemFree || !t.cuMemcpyHtoD || !t.cuMemcpyDtoH || !t.cuMemcpyHtoDAsync ||
      !t.cuMemcpyDtoHAsync || !t.cuMemcpyDtoDAsync || !t.cuMemGetInfo ||
      !t.cuDevicePrimaryCtxRelease || !t.cuStreamBeginCapture || !t.cuGraphInstantiate ||
      !t.cuMemAllocHost)
    return Status(StatusCode::kUnavailable,
                  "libcuda.so.1 lacks a _v2 entry point: the NVIDIA driver is too old");
  CUresult r = t.cuInit(0);
  if (r != CUDA_SUCCESS) return t.check(r, "cuInit");
  int n = 0;
  EDGERT_RETURN_IF_ERROR(t.check(t.cuDeviceGetCount(&n), "cuDeviceGetCount"));
  if (n == 0) return Status(StatusCode::kUnavailable, "the NVIDIA driver reports no GPU");
  return Status::Ok();
}

Status loadCudnn(Cudnn& t) {
  std::string tried;
  void* h = openFirst({"libcudnn.so.9", "libcudnn.so"}, tried);
  if (!h) return Status(StatusCode::kUnavailable, strCat("cuDNN 9 not found: cannot load ", tried));
  const char* lib = "libcudnn.so.9";
  EDGERT_CUDNN_FUNCS(EDGERT_RESOLVE)
  if (t.cudnnGetVersion() < 90000)
    return Status(StatusCode::kUnavailable,
                  strCat("cuDNN ", t.cudnnGetVersion(), " is too old (need 9.x)"));
  return Status::Ok();
}

Status loadCublasLt(CublasLt& t) {
  std::string tried;
  void* h = openFirst({"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"}, tried);
  if (!h)
    return Status(StatusCode::kUnavailable, strCat("cuBLASLt not found: cannot load ", tried));
  const char* lib = "libcublasLt";
  EDGERT_CUBLASLT_FUNCS(EDGERT_RESOLVE)
  return Status::Ok();
}

template <class T, class F>
Result<const T*> loadOnce(F load) {
  static std::mutex mu;
  static T table;
  static Status status(StatusCode::kInternal, "not loaded");
  static bool done = false;
  std::lock_guard<std::mutex> lock(mu);
  if (!done) {
    status = load(table);
    done = true;
  }
  if (!status.ok()) return status;
  return &table;
}

}  // namespace

Status Driver::check(CUresult r, const char* what) const {
  if (r == CUDA_SUCCESS) return Status::Ok();
  const char* s = nullptr;
  if (cuGetErrorString) cuGetErrorString(r, &s);
  const StatusCode code =
      r == CUDA_ERROR_OUT_OF_MEMORY ? StatusCode::kOutOfMemory : StatusCode::kUnavailable;
  return Status(code, strCat(what, " failed: ", s ? s : "unknown CUDA error", " (",
                             static_cast<int>(r), ")"));
}

Status Cudnn::check(cudnnStatus_t r, const char* what) const {
  if (r == CUDNN_STATUS_SUCCESS) return Status::Ok();
  return Status(StatusCode::kInternal,
                strCat(what, " failed: ", cudnnGetErrorString ? cudnnGetErrorString(r) : "?"));
}

Status CublasLt::check(cublasStatus_t r, const char* what) const {
  if (r == CUBLAS_STATUS_SUCCESS) return Status::Ok();
  return Status(StatusCode::kInternal,
                strCat(what, " failed: cuBLAS status ", static_cast<int>(r)));
}

Result<const Driver*> driver() {
  return loadOnce<Driver>(loadDriver);
}
Result<const Cudnn*> cudnn() {
  return loadOnce<Cudnn>(loadCudnn);
}
Result<const CublasLt*> cublasLt() {
  return loadOnce<CublasLt>(loadCublasLt);
}

Result<DeviceInfo> deviceInfo() {
  EDGERT_ASSIGN_OR_RETURN(const Driver* d, driver());
  CUdevice dev;
  EDGERT_RETURN_IF_ERROR(d->check(d->cuDeviceGet(&dev, 0), "cuDeviceGet"));
  int major = 0, minor = 0;
  d->cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
  d->cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
  int sms = 0;
  d->cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
  DeviceInfo info;
  d->cuDeviceGetAttribute(&info.smem_optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                          dev);
  d->cuDeviceGetAttribute(&info.smem_per_sm,
                          CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, dev);
  char name[256] = {0};
  d->cuDeviceGetName(name, sizeof(name) - 1, dev);
  info.sm = major * 10 + minor;
  info.sm_count = sms;
  info.name = name;
  return info;
}

}  // namespace edgert::cuda
