#include "edgert/internal/npy.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "edgert/internal/engine_model.h"
#include "edgert/internal/str.h"

namespace edgert {

namespace {
struct Descr {
  const char* code;
  DataType dtype;
};
constexpr Descr kDescrs[] = {
    {"<f4", DataType::kFloat32}, {"<f8", DataType::kFloat64}, {"<f2", DataType::kFloat16},
    {"|i1", DataType::kInt8},    {"|u1", DataType::kUInt8},   {"<i4", DataType::kInt32},
    {"<i8", DataType::kInt64},   {"|b1", DataType::kBool},    {"<u1", DataType::kUInt8},
    {"<i1", DataType::kInt8},    {"<b1", DataType::kBool},
};

Status bad(const std::string& origin, const std::string& why) {
  return Status(StatusCode::kInvalidArgument, strCat(origin, ": not a usable .npy file: ", why));
}
}  // namespace

Result<HostTensor> parseNpy(const uint8_t* data, size_t size, const std::string& origin) {
  if (size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0)
    return bad(origin, "missing the \\x93NUMPY magic");
  const uint8_t major = data[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = data[8] | (data[9] << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return bad(origin, "truncated header");
    header_len = static_cast<size_t>(data[8]) | (static_cast<size_t>(data[9]) << 8) |
                 (static_cast<size_t>(data[10]) << 16) | (static_cast<size_t>(data[11]) << 24);
    header_start = 12;
  } else {
    return bad(origin, strCat("format version ", int(major), " is not supported"));
  }
  if (header_len > size - header_start || header_len > 1 << 20)
    return bad(origin, "header is longer than the file");
  const std::string header(reinterpret_cast<const char*>(data + header_start), header_len);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')")))
    return bad(origin, "no 'descr' in header");
  const std::string descr = m[1];
  DataType dt = DataType::kUndefined;
  for (const Descr& d : kDescrs)
    if (descr == d.code) dt = d.dtype;
  if (dt == DataType::kUndefined)
    return bad(
        origin,
        strCat("dtype '", descr,
               "' is not supported (float32, float16, float64, int8, uint8, int32, int64, bool)"));
  const bool fortran = std::regex_search(header, std::regex(R"('fortran_order'\s*:\s*True)"));
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))")))
    return bad(origin, "no 'shape' in header");
  Dims dims;
  std::stringstream ss(m[1].str());
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) continue;
    if (item.size() > 15 || item.find_first_not_of("0123456789") != std::string::npos)
      return bad(origin, strCat("shape entry '", item, "' is not a dim"));
    dims.push_back(std::stoll(item));
  }
  if (dims.size() > static_cast<size_t>(kMaxRank)) return bad(origin, "rank is too high");
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d > 0 && n > (uint64_t{1} << 40) / static_cast<uint64_t>(d))
      return bad(origin, "shape is too large");
    n *= static_cast<uint64_t>(d);
  }
  const uint64_t bytes = n * dataTypeSize(dt);
  const size_t payload = size - header_start - header_len;
  if (payload != bytes)
    return bad(origin, strCat("holds ", payload, " data bytes but shape ", dimsToString(dims),
                              " of ", dataTypeName(dt), " needs ", bytes));
  EDGERT_ASSIGN_OR_RETURN(HostTensor t, HostTensor::create(dt, dims));
  const uint8_t* src = data + header_start + header_len;
  if (!fortran || dims.size() < 2) {
    if (bytes) std::memcpy(t.mutableData(), src, bytes);
    return t;
  }
  // Column-major on disk: element (i0..ik) is at sum(i_j * prod(d_0..d_{j-1})).
  const size_t es = dataTypeSize(dt);
  std::vector<int64_t> idx(dims.size(), 0);
  for (uint64_t o = 0; o < n; ++o) {
    uint64_t off = 0, stride = 1;
    for (size_t j = 0; j < dims.size(); ++j) {
      off += static_cast<uint64_t>(idx[j]) * stride;
      stride *= static_cast<uint64_t>(dims[j]);
    }
    std::memcpy(static_cast<uint8_t*>(t.mutableData()) + o * es, src + off * es, es);
    for (int j = static_cast<int>(dims.size()) - 1; j >= 0; --j) {
      if (++idx[j] < dims[j]) break;
      idx[j] = 0;
    }
  }
  return t;
}

Result<HostTensor> readNpy(const std::string& path) {
  auto bytes = readFileBytes(path, uint64_t{4} << 30);
  if (!bytes.ok()) return bytes.status();
  return parseNpy(bytes.value()->data.get(), bytes.value()->size, path);
}

std::string encodeNpy(DataType dtype, const Dims& dims, const void* data) {
  const char* code = "<f4";
  for (const Descr& d : kDescrs)
    if (d.dtype == dtype) {
      code = d.code;
      break;
    }
  std::string shape = "(";
  for (size_t i = 0; i < dims.size(); ++i)
    shape += strCat(dims[i], i + 1 < dims.size() || dims.size() == 1 ? "," : "");
  shape += ")";
  std::string header =
      strCat("{'descr': '", code, "', 'fortran_order': False, 'shape': ", shape, ", }");
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(data),
             static_cast<size_t>(volume(dims)) * dataTypeSize(dtype));
  return out;
}

Status writeNpy(const std::string& path, DataType dtype, const Dims& dims, const void* data) {
  const std::string bytes = encodeNpy(dtype, dims, data);
  return writeFileAtomically(path, bytes.data(), bytes.size());
}

}  // namespace edgert
