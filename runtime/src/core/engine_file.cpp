// Engine file format:
//   [0,64)   header: magic "EDGERTEN", u32 format version, u32 header size, u64 meta offset,
//            u64 meta size, u64 weights offset, u64 weights size, u64 checksum, u64 reserved
//   meta     flatbuffer (runtime/schema/engine.fbs)
//   weights  64-byte aligned constants
// The checksum is XXH3-64 of the whole file with the checksum field zeroed. Everything is
// checked before use: sizes against the real file, the checksum, the flatbuffers
// Verifier, every offset and dim, and finally shape inference over the whole graph.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "edgert/internal/engine_model.h"
#include "edgert/internal/str.h"
#include "engine_generated.h"

namespace edgert {

namespace {
constexpr char kMagic[8] = {'E', 'D', 'G', 'E', 'R', 'T', 'E', 'N'};
constexpr size_t kHeaderSize = 64;
constexpr size_t kChecksumOffset = 48;
constexpr uint64_t kAlign = 64;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  uint64_t meta_offset, meta_size, weights_offset, weights_size, checksum, reserved;
};
static_assert(sizeof(Header) == kHeaderSize);

uint64_t alignUp(uint64_t v) {
  return (v + kAlign - 1) / kAlign * kAlign;
}

uint64_t checksumOf(const uint8_t* data, size_t size) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, data, kChecksumOffset);
  const uint64_t zero = 0;
  XXH3_64bits_update(st, &zero, sizeof(zero));
  XXH3_64bits_update(st, data + kChecksumOffset + 8, size - kChecksumOffset - 8);
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

Status corrupt(const std::string& origin, const std::string& why) {
  return Status(StatusCode::kCorruptFile, strCat(origin, ": ", why));
}
}  // namespace

std::string EngineTarget::toString() const {
  std::string s = backend + "/" + cpu_arch;
  if (!sm.empty()) {
    s += "/sm";
    for (size_t i = 0; i < sm.size(); ++i) {
      s += i ? ',' : '_';
      s += std::to_string(sm[i]);
    }
  }
  return s;
}

const char* hostCpuArch() {
#if defined(__x86_64__)
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#else
  return "unknown";
#endif
}

Result<std::vector<uint8_t>> serializeEngine(const EngineModel& m) {
  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  const Graph& g = m.graph;
  // Weights: constants in order, each 64-byte aligned.
  std::vector<uint64_t> woff(g.tensors.size(), 0);
  uint64_t wsize = 0;
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    if (!g.tensors[i].isConstant()) continue;
    woff[i] = wsize;
    wsize = alignUp(wsize + g.tensors[i].constant->bytes());
  }
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    const TensorEntry& t = g.tensors[i];
    const uint64_t arena = i < m.plan.offsets.size() ? m.plan.offsets[i] : 0;
    tensors.push_back(fb::CreateTensor(fbb, fbb.CreateString(t.name), static_cast<int32_t>(t.dtype),
                                       fbb.CreateVector(t.dims), t.isConstant(), woff[i],
                                       t.isConstant() ? t.constant->bytes() : 0, arena));
  }
  std::vector<flatbuffers::Offset<fb::Layer>> layers;
  for (const Node& n : g.nodes) {
    std::vector<flatbuffers::Offset<fb::Attr>> attrs;
    for (const auto& [name, a] : n.attrs.all()) {
      flatbuffers::Offset<flatbuffers::Vector<int64_t>> tdims;
      flatbuffers::Offset<flatbuffers::Vector<uint8_t>> tdata;
      int32_t tdtype = 0;
      if (a.kind == Attribute::Kind::kTensor && a.tensor) {
        tdtype = static_cast<int32_t>(a.tensor->dtype());
        tdims = fbb.CreateVector(a.tensor->dims());
        tdata = fbb.CreateVector(static_cast<const uint8_t*>(a.tensor->data()), a.tensor->bytes());
      }
      attrs.push_back(fb::CreateAttr(fbb, fbb.CreateString(name), static_cast<fb::AttrKind>(a.kind),
                                     a.i, a.f, fbb.CreateString(a.s), fbb.CreateVector(a.ints),
                                     fbb.CreateVector(a.floats), tdtype, tdims, tdata));
    }
    layers.push_back(fb::CreateLayer(fbb, fbb.CreateString(n.name), fbb.CreateString(n.op),
                                     fbb.CreateVector(n.inputs), fbb.CreateVector(n.outputs),
                                     fbb.CreateVector(attrs), fbb.CreateString(n.precision),
                                     fbb.CreateString(n.tactic)));
  }
  std::vector<flatbuffers::Offset<fb::Binding>> bindings;
  for (const Binding& b : g.bindings) {
    bindings.push_back(fb::CreateBinding(fbb, b.tensor, b.is_input, fbb.CreateVector(b.model_dims),
                                         fbb.CreateVectorOfStrings(b.dim_names)));
  }
  auto target =
      fb::CreateTarget(fbb, fbb.CreateString(m.target.backend), fbb.CreateString(m.target.cpu_arch),
                       fbb.CreateVector(m.target.sm));
  auto root =
      fb::CreateEngine(fbb, fbb.CreateString(m.edgert_version), target, fbb.CreateString(g.name),
                       fbb.CreateString(m.source), fbb.CreateString(m.build_options_json),
                       fbb.CreateVector(tensors), fbb.CreateVector(layers),
                       fbb.CreateVector(bindings), m.plan.arena_bytes, m.plan.scratch_bytes);
  fb::FinishEngineBuffer(fbb, root);

  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kEngineFormatVersion;
  h.header_size = kHeaderSize;
  h.meta_offset = kHeaderSize;
  h.meta_size = fbb.GetSize();
  h.weights_offset = alignUp(h.meta_offset + h.meta_size);
  h.weights_size = wsize;
  std::vector<uint8_t> out(h.weights_offset + wsize, 0);
  std::memcpy(out.data() + h.meta_offset, fbb.GetBufferPointer(), h.meta_size);
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    if (g.tensors[i].isConstant() && g.tensors[i].constant->bytes())
      std::memcpy(out.data() + h.weights_offset + woff[i], g.tensors[i].constant->data(),
                  g.tensors[i].constant->bytes());
  }
  std::memcpy(out.data(), &h, sizeof(h));
  const uint64_t sum = checksumOf(out.data(), out.size());
  std::memcpy(out.data() + kChecksumOffset, &sum, 8);
  return out;
}

namespace {
template <class T>
std::vector<T> vec(const flatbuffers::Vector<T>* v) {
  return v ? std::vector<T>(v->begin(), v->end()) : std::vector<T>{};
}
std::string str(const flatbuffers::String* s) {
  return s ? s->str() : std::string();
}
}  // namespace

Result<EngineModel> deserializeEngine(std::shared_ptr<const FileBytes> bytes,
                                      const std::string& origin) {
  const uint8_t* data = bytes->data.get();
  const size_t size = bytes->size;
  if (size < kHeaderSize)
    return corrupt(origin, strCat("file is ", size, " bytes, too short for an engine header"));
  Header h;
  std::memcpy(&h, data, sizeof(h));
  if (std::memcmp(h.magic, kMagic, 8) != 0)
    return corrupt(origin, "not an edgert engine (bad magic)");
  if (h.version != kEngineFormatVersion)
    return Status(
        StatusCode::kVersionMismatch,
        strCat(origin, ": engine format version ", h.version, ", this edgert reads version ",
               kEngineFormatVersion, "; rebuild the engine with this edgert"));
  if (h.header_size != kHeaderSize || h.meta_offset != kHeaderSize || h.meta_size > size ||
      h.meta_offset + h.meta_size > size || h.weights_offset % kAlign ||
      h.weights_offset < h.meta_offset + h.meta_size || h.weights_offset > size ||
      h.weights_size > size - h.weights_offset)
    return corrupt(origin,
                   strCat("section offsets do not fit the file size ", size, " (truncated?)"));
  if (h.weights_offset + h.weights_size != size)
    return corrupt(origin,
                   strCat("file is ", size, " bytes but its header describes ",
                          h.weights_offset + h.weights_size, " (truncated or appended to)"));
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  // Fuzz builds skip this so the fuzzer reaches the structural checks behind it, which are
  // what stand between a hand-crafted (re-checksummed) file and the kernels.
  if (checksumOf(data, size) != h.checksum)
    return corrupt(origin, "checksum mismatch (the file is damaged)");
#endif

  flatbuffers::Verifier verifier(data + h.meta_offset, h.meta_size, 64, 10'000'000);
  if (!fb::VerifyEngineBuffer(verifier))
    return corrupt(origin, "metadata fails flatbuffers verification");
  const fb::Engine* e = fb::GetEngine(data + h.meta_offset);

  EngineModel m;
  m.edgert_version = str(e->edgert_version());
  m.source = str(e->source());
  m.build_options_json = str(e->build_options());
  if (e->target()) {
    m.target.backend = str(e->target()->backend());
    m.target.cpu_arch = str(e->target()->cpu_arch());
    m.target.sm = vec(e->target()->sm());
  }
  Graph& g = m.graph;
  g.name = str(e->model_name());
  if (!e->tensors() || !e->layers() || !e->bindings())
    return corrupt(origin, "metadata lacks tensors, layers or bindings");
  const uint8_t* weights = data + h.weights_offset;
  std::shared_ptr<const void> keep = bytes;
  m.plan.offsets.resize(e->tensors()->size());
  for (flatbuffers::uoffset_t i = 0; i < e->tensors()->size(); ++i) {
    const fb::Tensor* t = e->tensors()->Get(i);
    TensorEntry te;
    te.name = str(t->name());
    if (!isValidDataType(t->dtype()))
      return corrupt(origin, strCat("tensor '", te.name, "' has invalid dtype ", t->dtype()));
    te.dtype = static_cast<DataType>(t->dtype());
    te.dims = vec(t->dims());
    if (te.dims.size() > static_cast<size_t>(kMaxRank))
      return corrupt(origin, strCat("tensor '", te.name, "' has rank ", te.dims.size()));
    uint64_t n = 1;
    for (int64_t d : te.dims) {
      if (d < 0 || (d > 0 && n > (uint64_t{1} << 40) / static_cast<uint64_t>(d)))
        return corrupt(origin, strCat("tensor '", te.name, "' has invalid dims"));
      n *= static_cast<uint64_t>(d);
    }
    const uint64_t bytes_needed = n * dataTypeSize(te.dtype);
    if (t->is_constant()) {
      if (t->weight_bytes() != bytes_needed || t->weight_offset() > h.weights_size ||
          t->weight_bytes() > h.weights_size - t->weight_offset() || t->weight_offset() % kAlign)
        return corrupt(origin, strCat("constant '", te.name, "' lies outside the weights section"));
      te.constant = std::make_shared<HostTensor>(
          HostTensor::view(te.dtype, te.dims, weights + t->weight_offset(), keep));
    } else {
      if (t->arena_offset() > e->arena_bytes() ||
          bytes_needed > e->arena_bytes() - t->arena_offset())
        return corrupt(origin, strCat("tensor '", te.name, "' lies outside the activation arena"));
      m.plan.offsets[i] = t->arena_offset();
    }
    g.tensors.push_back(std::move(te));
  }
  m.plan.arena_bytes = e->arena_bytes();
  m.plan.scratch_bytes = e->scratch_bytes();
  const int nt = static_cast<int>(g.tensors.size());
  auto checkIds = [&](const std::vector<int>& ids, bool allow_absent) {
    for (int id : ids)
      if (id >= nt || id < (allow_absent ? -1 : 0)) return false;
    return true;
  };
  for (const fb::Layer* l : *e->layers()) {
    Node n;
    n.name = str(l->name());
    n.op = str(l->op());
    n.inputs = vec(l->inputs());
    n.outputs = vec(l->outputs());
    n.precision = str(l->precision());
    n.tactic = str(l->tactic());
    if (!checkIds(n.inputs, true) || !checkIds(n.outputs, false))
      return corrupt(origin, strCat("layer '", n.name, "' refers to missing tensors"));
    if (l->attrs()) {
      for (const fb::Attr* a : *l->attrs()) {
        Attribute at;
        if (a->kind() < fb::AttrKind::Int || a->kind() > fb::AttrKind::Tensor)
          return corrupt(origin, strCat("layer '", n.name, "' has an attribute of unknown kind"));
        at.kind = static_cast<Attribute::Kind>(a->kind());
        at.i = a->i();
        at.f = a->f();
        at.s = str(a->s());
        at.ints = vec(a->ints());
        at.floats = vec(a->floats());
        if (at.kind == Attribute::Kind::kTensor) {
          if (!isValidDataType(a->t_dtype()))
            return corrupt(origin, strCat("layer '", n.name, "' has a bad tensor attribute"));
          Dims d = vec(a->t_dims());
          auto t = HostTensor::create(static_cast<DataType>(a->t_dtype()), d);
          const size_t have = a->t_data() ? a->t_data()->size() : 0;
          if (!t.ok() || t->bytes() != have || d.size() > static_cast<size_t>(kMaxRank))
            return corrupt(origin, strCat("layer '", n.name, "' has a malformed tensor attribute"));
          if (have) std::memcpy(t->mutableData(), a->t_data()->data(), have);
          at.tensor = std::make_shared<HostTensor>(std::move(t).value());
        }
        n.attrs.set(str(a->name()), std::move(at));
      }
    }
    g.nodes.push_back(std::move(n));
  }
  for (const fb::Binding* b : *e->bindings()) {
    Binding bd;
    bd.tensor = b->tensor();
    bd.is_input = b->is_input();
    bd.model_dims = vec(b->model_dims());
    if (b->dim_names())
      for (const auto* s : *b->dim_names()) bd.dim_names.push_back(str(s));
    if (bd.tensor < 0 || bd.tensor >= nt)
      return corrupt(origin, "a binding refers to a missing tensor");
    g.bindings.push_back(std::move(bd));
  }
  Status st = validateGraph(g);
  if (!st.ok()) {
    const StatusCode code =
        st.code() == StatusCode::kUnsupported ? st.code() : StatusCode::kCorruptFile;
    return Status(code, strCat(origin, ": ", st.message()));
  }
  // Activations must not overlap while both are live: the loader re-plans rather than
  // trusting stored offsets or the stored arena size (engines of older versions of the
  // planner load with today's plan).
  MemoryPlan replanned = planMemory(g);
  replanned.scratch_bytes = m.plan.scratch_bytes;
  m.plan = std::move(replanned);
  return m;
}

Result<std::shared_ptr<const FileBytes>> copyFileBytes(const void* data, size_t size,
                                                       const std::string& origin) {
  if (!data && size)
    return Status(StatusCode::kInvalidArgument, strCat(origin, ": null engine data"));
  auto fb = std::make_shared<FileBytes>();
  fb->size = size;
  fb->data = allocateAligned(std::max<size_t>(size, 1));
  if (!fb->data)
    return Status(StatusCode::kOutOfMemory, strCat(origin, ": cannot allocate ", size, " bytes"));
  if (size) std::memcpy(fb->data.get(), data, size);
  return std::shared_ptr<const FileBytes>(std::move(fb));
}

Result<std::shared_ptr<const FileBytes>> readFileBytes(const std::string& path,
                                                       uint64_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Status(StatusCode::kNotFound, strCat(path, ": no such file"));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status(StatusCode::kIoError, strCat(path, ": cannot open: ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status(StatusCode::kIoError, strCat(path, ": cannot stat"));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    ::close(fd);
    return Status(StatusCode::kOutOfMemory,
                  strCat(path, ": ", size, " bytes exceeds the limit of ", max_bytes));
  }
  auto fb = std::make_shared<FileBytes>();
  fb->size = size;
  fb->data = allocateAligned(std::max<uint64_t>(size, 1));
  if (!fb->data) {
    ::close(fd);
    return Status(StatusCode::kOutOfMemory, strCat(path, ": cannot allocate ", size, " bytes"));
  }
  uint64_t got = 0;
  while (got < size) {
    const ssize_t r = ::read(fd, fb->data.get() + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ::close(fd);
      return Status(StatusCode::kIoError, strCat(path, ": read failed after ", got, " bytes"));
    }
    got += static_cast<uint64_t>(r);
  }
  ::close(fd);
  return std::shared_ptr<const FileBytes>(std::move(fb));
}

Status writeFileAtomically(const std::string& path, const void* data, size_t size) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::random_device rd;
  const fs::path tmp = dir / strCat(".", target.filename().string(), ".tmp", rd());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status(StatusCode::kIoError,
                  strCat(path, ": cannot create ", tmp.string(), ": ", std::strerror(errno)));
  const uint8_t* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t w = ::write(fd, p + done, size - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status(StatusCode::kIoError, strCat(path, ": write failed: ", why));
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status(StatusCode::kIoError, strCat(path, ": cannot flush"));
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status(StatusCode::kIoError, strCat(path, ": cannot rename into place: ", why));
  }
  return Status::Ok();
}

}  // namespace edgert
