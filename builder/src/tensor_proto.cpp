#include "tensor_proto.h"

#include <onnx/onnx_pb.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "edgert/internal/npy.h"
#include "edgert/internal/str.h"

namespace edgert {

namespace fs = std::filesystem;

DataType dataTypeFromOnnx(int32_t t) {
  switch (t) {
    case onnx::TensorProto::FLOAT:
      return DataType::kFloat32;
    case onnx::TensorProto::UINT8:
      return DataType::kUInt8;
    case onnx::TensorProto::INT8:
      return DataType::kInt8;
    case onnx::TensorProto::INT32:
      return DataType::kInt32;
    case onnx::TensorProto::INT64:
      return DataType::kInt64;
    case onnx::TensorProto::BOOL:
      return DataType::kBool;
    case onnx::TensorProto::FLOAT16:
      return DataType::kFloat16;
    case onnx::TensorProto::DOUBLE:
      return DataType::kFloat64;
    default:
      return DataType::kUndefined;
  }
}

namespace {

const char* onnxTypeName(int32_t t) {
  return onnx::TensorProto_DataType_IsValid(t)
             ? onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t)).c_str()
             : "invalid";
}

// External data: the path must stay inside the model's folder, be a regular file that
// is neither a symlink nor a hard link, and hold offset + length bytes (CVE-2022-25882,
// CVE-2024-27318).
Status readExternal(const onnx::TensorProto& t, const std::string& base_dir,
                    const std::string& what, uint8_t* dst, uint64_t expected) {
  std::string location;
  uint64_t offset = 0, length = expected;
  bool has_length = false;
  for (const auto& kv : t.external_data()) {
    try {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = std::stoull(kv.value());
      else if (kv.key() == "length") {
        length = std::stoull(kv.value());
        has_length = true;
      }
    } catch (const std::exception&) {
      return Status(StatusCode::kInvalidArgument, strCat(what, ": external data ", kv.key(), " '",
                                                         kv.value(), "' is not a number"));
    }
  }
  if (base_dir.empty())
    return Status(StatusCode::kUnsupported, strCat(what, ": external data is not allowed here"));
  if (location.empty())
    return Status(StatusCode::kInvalidArgument, strCat(what, ": external data has no location"));
  const fs::path loc(location);
  if (loc.is_absolute())
    return Status(StatusCode::kInvalidArgument,
                  strCat(what, ": external data path '", location,
                         "' is absolute; only paths relative to the model are allowed"));
  for (const auto& part : loc)
    if (part == "..")
      return Status(StatusCode::kInvalidArgument,
                    strCat(what, ": external data path '", location, "' contains '..'"));
  std::error_code ec;
  const fs::path base = fs::canonical(base_dir, ec);
  if (ec)
    return Status(StatusCode::kIoError, strCat(what, ": cannot resolve model folder ", base_dir));
  const fs::path full = base / loc;
  struct stat st {};
  if (::lstat(full.c_str(), &st) != 0)
    return Status(StatusCode::kNotFound,
                  strCat(what, ": external data file '", full.string(), "' does not exist"));
  if (S_ISLNK(st.st_mode))
    return Status(StatusCode::kInvalidArgument,
                  strCat(what, ": external data file '", full.string(), "' is a symbolic link"));
  if (!S_ISREG(st.st_mode))
    return Status(StatusCode::kInvalidArgument,
                  strCat(what, ": external data '", full.string(), "' is not a regular file"));
  if (st.st_nlink > 1)
    return Status(StatusCode::kInvalidArgument,
                  strCat(what, ": external data file '", full.string(), "' has hard links"));
  const fs::path canon = fs::canonical(full, ec);
  const auto rel = canon.lexically_relative(base);
  if (ec || rel.empty() || *rel.begin() == "..")
    return Status(StatusCode::kInvalidArgument,
                  strCat(what, ": external data '", location, "' escapes the model folder"));
  const uint64_t fsize = static_cast<uint64_t>(st.st_size);
  if (has_length && length != expected)
    return Status(StatusCode::kInvalidArgument,
                  strCat(what, ": external data length ", length, " differs from the tensor's ",
                         expected, " bytes"));
  if (offset > fsize || expected > fsize - offset)
    return Status(StatusCode::kInvalidArgument,
                  strCat(what, ": external data needs bytes [", offset, ", ", offset + expected,
                         ") but '", location, "' has ", fsize));
  std::ifstream in(canon, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(dst), static_cast<std::streamsize>(expected));
  if (!in)
    return Status(StatusCode::kIoError,
                  strCat(what, ": cannot read external data from '", location, "'"));
  return Status::Ok();
}

}  // namespace

Result<HostTensor> tensorFromProto(const onnx::TensorProto& t, const std::string& base_dir,
                                   const std::string& what) {
  const DataType dt = dataTypeFromOnnx(t.data_type());
  if (dt == DataType::kUndefined)
    return Status(
        StatusCode::kUnsupported,
        strCat(what, ": element type ", onnxTypeName(t.data_type()), " is not supported"));
  Dims dims(t.dims().begin(), t.dims().end());
  if (dims.size() > static_cast<size_t>(kMaxRank))
    return Status(StatusCode::kUnsupported,
                  strCat(what, ": rank ", dims.size(), " exceeds ", kMaxRank));
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0)
      return Status(StatusCode::kInvalidArgument,
                    strCat(what, ": negative dim in ", dimsToString(dims)));
    if (d > 0 && n > (uint64_t{1} << 40) / static_cast<uint64_t>(d))
      return Status(StatusCode::kInvalidArgument,
                    strCat(what, ": dims ", dimsToString(dims), " are too large"));
    n *= static_cast<uint64_t>(d);
  }
  const uint64_t esize = dataTypeSize(dt);
  const uint64_t bytes = n * esize;
  const bool external = t.data_location() == onnx::TensorProto::EXTERNAL;
  // Check the payload's size before allocating what the dims merely claim.
  size_t have = 0;
  if (!external) {
    if (t.has_raw_data())
      have = t.raw_data().size();
    else if (dt == DataType::kFloat32)
      have = static_cast<size_t>(t.float_data_size()) * esize;
    else if (dt == DataType::kFloat64)
      have = static_cast<size_t>(t.double_data_size()) * esize;
    else if (dt == DataType::kInt64)
      have = static_cast<size_t>(t.int64_data_size()) * esize;
    else
      have = static_cast<size_t>(t.int32_data_size()) * esize;
    if (have != bytes)
      return Status(StatusCode::kInvalidArgument,
                    strCat(what, ": holds ", have / esize, " elements but its dims ",
                           dimsToString(dims), " need ", n));
  }
  auto r = HostTensor::create(dt, dims);
  if (!r.ok()) return r.status().withContext(what);
  HostTensor out = std::move(r).value();
  uint8_t* dst = static_cast<uint8_t*>(out.mutableData());
  if (external) {
    EDGERT_RETURN_IF_ERROR(readExternal(t, base_dir, what, dst, bytes));
  } else if (t.has_raw_data()) {
    if (bytes) std::memcpy(dst, t.raw_data().data(), bytes);
  } else {
    for (uint64_t i = 0; i < n; ++i) {
      switch (dt) {
        case DataType::kFloat32:
          reinterpret_cast<float*>(dst)[i] = t.float_data(static_cast<int>(i));
          break;
        case DataType::kFloat64:
          reinterpret_cast<double*>(dst)[i] = t.double_data(static_cast<int>(i));
          break;
        case DataType::kInt64:
          reinterpret_cast<int64_t*>(dst)[i] = t.int64_data(static_cast<int>(i));
          break;
        case DataType::kInt32:
          reinterpret_cast<int32_t*>(dst)[i] = t.int32_data(static_cast<int>(i));
          break;
        case DataType::kFloat16:
          reinterpret_cast<uint16_t*>(dst)[i] =
              static_cast<uint16_t>(t.int32_data(static_cast<int>(i)));
          break;
        default:
          dst[i] = static_cast<uint8_t>(t.int32_data(static_cast<int>(i)));
          break;
      }
    }
  }
  if (dt == DataType::kBool)
    for (uint64_t i = 0; i < n; ++i) dst[i] = dst[i] != 0;
  return out;
}

Result<HostTensor> readTensorProtoFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, strCat(path, ": cannot open"));
  onnx::TensorProto t;
  if (!t.ParseFromIstream(&in))
    return Status(StatusCode::kInvalidArgument, strCat(path, ": not a valid ONNX TensorProto"));
  return tensorFromProto(t, "", path);
}

Result<HostTensor> readTensorFile(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".npy") return readNpy(path);
  if (ext == ".pb") return readTensorProtoFile(path);
  return Status(StatusCode::kInvalidArgument,
                strCat(path, ": unknown tensor file type '", ext, "' (use .npy or .pb)"));
}

}  // namespace edgert
