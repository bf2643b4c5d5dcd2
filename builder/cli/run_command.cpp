// `edgert run`: one engine on input tensors, or on images pre-processed the way the engine was
// built (or as --preprocess says), in batches of the engine's batch size; classifier outputs
// print their top classes by name.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "classification.h"
#include "edgert/edgert.h"
#include "edgert/internal/engine_model.h"
#include "edgert/internal/half.h"
#include "edgert/internal/npy.h"
#include "edgert/internal/str.h"
#include "input_files.h"
#include "runtime_commands.h"

namespace edgert::cli {

namespace fs = std::filesystem;

namespace {

// What --input named: one tensor file per input, and images for at most one input.
struct RunInputs {
  std::map<std::string, std::string> tensors;
  std::string image_input;
  std::vector<std::string> images;
};

Result<RunInputs> parseInputs(const std::vector<std::string>& specs,
                              const std::vector<const TensorInfo*>& engine_inputs) {
  std::map<std::string, std::vector<std::string>> named;
  for (const std::string& spec : specs) {
    const size_t eq = spec.find('=');
    if (eq != std::string::npos) {
      named[spec.substr(0, eq)].push_back(spec.substr(eq + 1));
      continue;
    }
    if (engine_inputs.size() != 1)
      return Status(StatusCode::kInvalidArgument,
                    strCat("--input '", spec, "' has no name= and the engine has ",
                           engine_inputs.size(), " inputs"));
    named[engine_inputs[0]->name].push_back(spec);
  }
  RunInputs r;
  for (const auto& [name, paths] : named) {
    std::vector<std::string> images, tensors;
    for (const std::string& p : paths) {
      std::error_code ec;
      if (fs::is_directory(p, ec)) {
        EDGERT_ASSIGN_OR_RETURN(std::vector<std::string> found, listImages(p));
        images.insert(images.end(), found.begin(), found.end());
      } else if (isImageFile(p)) {
        images.push_back(p);
      } else {
        tensors.push_back(p);
      }
    }
    if (!images.empty() && !tensors.empty())
      return Status(
          StatusCode::kInvalidArgument,
          strCat("input '", name, "' is given both images and a tensor file (", tensors[0], ")"));
    if (tensors.size() > 1)
      return Status(StatusCode::kInvalidArgument,
                    strCat("input '", name, "' is given ", tensors.size(),
                           " tensor files; one per input (several images are batched)"));
    if (!tensors.empty()) {
      r.tensors[name] = tensors[0];
      continue;
    }
    if (!r.image_input.empty())
      return Status(StatusCode::kInvalidArgument,
                    strCat("images feed one input; both '", r.image_input, "' and '", name,
                           "' are given images"));
    r.image_input = name;
    r.images = std::move(images);
  }
  return r;
}

// The build options of the engine file at `path` ("" when unreadable: the engine itself was
// loaded already, so its errors are reported there).
std::string buildOptionsOf(const std::string& path) {
  auto bytes = readFileBytes(path, uint64_t{8} << 30);
  if (!bytes.ok()) return "";
  auto model = deserializeEngine(std::move(bytes).value(), path);
  return model.ok() ? model->build_options_json : "";
}

Status setTensorInput(ExecutionContext& ctx, const TensorInfo& in, HostTensor t,
                      const std::string& file) {
  if (t.dtype() == DataType::kFloat32 && in.dtype == DataType::kFloat16) {
    // An engine built with --input-format fp16 takes float32 files too.
    HostTensor h = HostTensor::create(DataType::kFloat16, t.dims()).value();
    for (int64_t i = 0; i < t.numel(); ++i)
      h.mutableAs<uint16_t>()[i] = floatToHalf(t.as<float>()[i]);
    t = std::move(h);
  }
  if (t.dtype() != in.dtype)
    return Status(StatusCode::kInvalidArgument,
                  strCat(file, ": input '", in.name, "' is ", dataTypeName(in.dtype),
                         " but the file holds ", dataTypeName(t.dtype())));
  EDGERT_RETURN_IF_ERROR(ctx.checkInputShape(in.name, t.dims()).withContext(file));
  return ctx.setInput(in.name, t.data(), t.bytes());
}

// One output gathered over every batch: per-sample rows when the engine runs images in
// batches (dims[0] is the batch), else the whole output of each run.
struct Gathered {
  const TensorInfo* info = nullptr;
  bool per_sample = false;
  int64_t row = 0;           // values per sample (or per run)
  std::vector<uint8_t> raw;  // every run's values as the engine wrote them

  int64_t count() const { return static_cast<int64_t>(raw.size() / dataTypeSize(info->dtype)); }
  // Values [first, first + n) as doubles.
  std::vector<double> doubles(int64_t first, int64_t n) const {
    const HostTensor t = HostTensor::view(info->dtype, {count()}, raw.data(), nullptr);
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = t.doubleAt(first + i);
    return v;
  }
};

std::string summarize(const double* v, int64_t n) {
  if (n == 0) return "empty";
  double mn = v[0], mx = v[0], sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    mn = std::min(mn, v[i]);
    mx = std::max(mx, v[i]);
    sum += v[i];
  }
  std::string first;
  for (int64_t i = 0; i < std::min<int64_t>(n, 5); ++i)
    first += fmt::format("{}{:.6g}", i ? ", " : "", v[i]);
  return fmt::format("min {:.6g} max {:.6g} mean {:.6g}  [{}{}]", mn, mx,
                     sum / static_cast<double>(n), first, n > 5 ? ", ..." : "");
}

nlohmann::ordered_json summaryJson(const double* v, int64_t n) {
  double mn = n ? v[0] : 0, mx = mn, sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    mn = std::min(mn, v[i]);
    mx = std::max(mx, v[i]);
    sum += v[i];
  }
  return {{"min", mn}, {"max", mx}, {"mean", n ? sum / static_cast<double>(n) : 0.0}};
}

}  // namespace

std::string recordedPreprocess(const std::string& build_options_json) {
  const nlohmann::json bo = nlohmann::json::parse(build_options_json, nullptr, false);
  if (!bo.is_object()) return "";
  if (bo.contains("preprocess") && bo["preprocess"].is_string()) return bo["preprocess"];
  if (bo.contains("int8") && bo["int8"].is_object() && bo["int8"].contains("preprocess") &&
      bo["int8"]["preprocess"].is_string())
    return bo["int8"]["preprocess"];
  return "";
}

int cmdRun(const RuntimeCommands& rc, const InputReaders& read) {
  const bool json_only = rc.r_json == "-";
  auto say = [&](const std::string& s) {
    if (!json_only) fmt::print("{}", s);
  };
  auto backend = parseBackend(rc.r_backend);
  if (!backend.ok()) return fail(backend.status());
  auto rt =
      Runtime::create({.backend = backend.value(), .log = [](LogSeverity s, const std::string& m) {
                         if (s != LogSeverity::kVerbose) fmt::print(stderr, "edgert: {}\n", m);
                       }});
  if (!rt.ok()) return fail(rt.status());
  auto engine = rt.value()->loadEngine(rc.r_engine);
  if (!engine.ok()) return fail(engine.status());
  auto ctx = engine.value()->createExecutionContext();
  if (!ctx.ok()) return fail(ctx.status());
  std::vector<const TensorInfo*> engine_inputs;
  std::string input_names;
  for (const TensorInfo& b : engine.value()->bindings())
    if (b.is_input) {
      engine_inputs.push_back(&b);
      input_names += strCat(input_names.empty() ? "" : ", ", b.name);
    }
  auto parsed = parseInputs(rc.r_inputs, engine_inputs);
  if (!parsed.ok()) return fail(parsed.status());
  const RunInputs& in = parsed.value();
  auto isInput = [&](const std::string& name) {
    const TensorInfo* b = engine.value()->binding(name);
    return b && b->is_input;
  };
  for (const auto& [name, file] : in.tensors)
    if (!isInput(name))
      return fail(Status(
          StatusCode::kInvalidArgument,
          strCat("'", name, "' is not an input of this engine (inputs: ", input_names, ")")));
  if (!in.image_input.empty() && !isInput(in.image_input))
    return fail(Status(StatusCode::kInvalidArgument,
                       strCat("'", in.image_input,
                              "' is not an input of this engine (inputs: ", input_names, ")")));
  for (const TensorInfo* b : engine_inputs) {
    if (b->name == in.image_input) continue;
    auto f = in.tensors.find(b->name);
    if (f == in.tensors.end())
      return fail(Status(StatusCode::kInvalidArgument,
                         strCat("missing --input for '", b->name, "' (", dataTypeName(b->dtype),
                                " ", dimsToString(b->dims), "): a .npy / .pb tensor or images")));
    auto t = read.tensor(f->second);
    if (!t.ok()) return fail(t.status());
    Status st = setTensorInput(*ctx.value(), *b, std::move(t).value(), f->second);
    if (!st.ok()) return fail(st);
  }

  // Images: pre-processed into batches of the engine's batch size, the last one filled up with
  // copies of its last image (their outputs are dropped).
  const TensorInfo* image_in = nullptr;
  std::string spec;
  int64_t batch = 1;
  if (!in.images.empty()) {
    image_in = engine.value()->binding(in.image_input);
    if (!read.images)
      return fail(Status(StatusCode::kUnsupported,
                         strCat(in.images[0],
                                ": image inputs need OpenCV, which this edgert (edgert-tools) "
                                "does not have: install edgert-builder, or give .npy tensors")));
    if (image_in->dtype != DataType::kFloat32 && image_in->dtype != DataType::kFloat16)
      return fail(Status(StatusCode::kInvalidArgument,
                         strCat("input '", image_in->name, "' is ", dataTypeName(image_in->dtype),
                                "; images feed float inputs")));
    if (image_in->dims.size() != 4 || image_in->dims[0] < 1)
      return fail(Status(StatusCode::kInvalidArgument,
                         strCat("input '", image_in->name, "' is ", dimsToString(image_in->dims),
                                "; images feed [N, C, H, W] or [N, H, W, C] inputs")));
    spec =
        rc.r_preprocess.empty() ? recordedPreprocess(buildOptionsOf(rc.r_engine)) : rc.r_preprocess;
    if (spec.empty())
      return fail(
          Status(StatusCode::kInvalidArgument,
                 strCat(rc.r_engine,
                        " records no image pre-processing (built without --preprocess): "
                        "give --preprocess for input '",
                        image_in->name, "', e.g. resize=256,crop=224,mean=127,std=128,order=rgb")));
    batch = image_in->dims[0];
  }

  std::vector<std::string> names;
  if (!rc.r_labels.empty()) {
    auto n = readClassNames(rc.r_labels);
    if (!n.ok()) return fail(n.status());
    names = std::move(n).value();
  }
  const int top_k = rc.r_topk >= 0 ? rc.r_topk : (!names.empty() || image_in ? 5 : 0);

  std::vector<Gathered> outs;
  for (const TensorInfo& b : engine.value()->bindings()) {
    if (b.is_input) continue;
    Gathered g;
    g.info = &b;
    g.per_sample = image_in && !b.dims.empty() && b.dims[0] == batch;
    g.row = g.per_sample ? volume(b.dims) / batch : volume(b.dims);
    outs.push_back(g);
    if (top_k > 0 && !names.empty() && isClassScores(b.dims) &&
        static_cast<int64_t>(names.size()) != b.dims[1])
      return fail(Status(StatusCode::kInvalidArgument,
                         strCat(rc.r_labels, " names ", names.size(), " classes but output '",
                                b.name, "' ", dimsToString(b.dims), " scores ", b.dims[1])));
  }

  const size_t n_images = in.images.size();
  const size_t runs = image_in ? (n_images + static_cast<size_t>(batch) - 1) / batch : 1;
  std::vector<float> x;
  std::vector<uint16_t> xh;
  if (image_in) x.resize(static_cast<size_t>(volume(image_in->dims)));
  std::vector<double> ms;
  for (size_t r = 0; r < runs; ++r) {
    size_t valid = 1;
    if (image_in) {
      const size_t first = r * static_cast<size_t>(batch);
      valid = std::min<size_t>(static_cast<size_t>(batch), n_images - first);
      const std::vector<std::string> files(
          in.images.begin() + static_cast<ptrdiff_t>(first),
          in.images.begin() + static_cast<ptrdiff_t>(first + valid));
      Status st = read.images(files, spec, image_in->name, image_in->dims, x.data());
      if (!st.ok()) return fail(st);
      const size_t per = x.size() / static_cast<size_t>(batch);
      for (size_t i = valid; i < static_cast<size_t>(batch); ++i)
        std::memcpy(x.data() + i * per, x.data() + (valid - 1) * per, per * sizeof(float));
      if (image_in->dtype == DataType::kFloat16) {
        xh.resize(x.size());
        for (size_t i = 0; i < x.size(); ++i) xh[i] = floatToHalf(x[i]);
        st = ctx.value()->setInput(image_in->name, xh.data(), xh.size() * 2);
      } else {
        st = ctx.value()->setInput(image_in->name, x.data(), x.size() * 4);
      }
      if (!st.ok()) return fail(st);
    }
    for (int i = 0; i < std::max(1, rc.r_iter); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      Status st = ctx.value()->execute();
      if (!st.ok()) return fail(st);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    for (Gathered& g : outs) {
      auto host = HostTensor::create(g.info->dtype, g.info->dims);
      if (!host.ok()) return fail(host.status());
      Status st = ctx.value()->getOutput(g.info->name, host->mutableData(), g.info->bytes());
      if (!st.ok()) return fail(st);
      const int64_t n = g.per_sample ? g.row * static_cast<int64_t>(valid) : g.row;
      const auto* bytes = static_cast<const uint8_t*>(host->data());
      g.raw.insert(g.raw.end(), bytes,
                   bytes + n * static_cast<int64_t>(dataTypeSize(g.info->dtype)));
    }
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  if (image_in)
    say(fmt::format(
        "ran {} on {} backend: {} image(s) in {} batch(es) of {}, {} run(s), median {:.3f} ms per "
        "batch ({})\n",
        rc.r_engine, backendName(rt.value()->backend()), n_images, runs, batch, ms.size(), median,
        spec));
  else
    say(fmt::format("ran {} on {} backend: {} iteration(s), median {:.3f} ms\n", rc.r_engine,
                    backendName(rt.value()->backend()), ms.size(), median));

  nlohmann::ordered_json report;
  report["engine"] = rc.r_engine;
  report["backend"] = backendName(rt.value()->backend());
  report["median_ms"] = median;
  auto topJson = [&](const std::vector<ClassScore>& top) {
    auto arr = nlohmann::ordered_json::array();
    for (const ClassScore& c : top) {
      nlohmann::ordered_json e = {{"class", c.index}};
      if (!names.empty()) e["label"] = names[static_cast<size_t>(c.index)];
      e["probability"] = c.probability;
      arr.push_back(e);
    }
    return arr;
  };
  // The top classes of one score vector, as lines under a sample.
  auto topText = [&](const std::vector<ClassScore>& top, bool softmaxed,
                     const std::string& output) {
    std::string s = fmt::format("  {}: top {}{}\n", output, top.size(),
                                softmaxed ? " (softmax of the scores)" : "");
    for (const ClassScore& c : top)
      s += fmt::format("    {:6.4f}  {:4d}  {}\n", c.probability, c.index,
                       names.empty() ? "" : names[static_cast<size_t>(c.index)]);
    return s;
  };
  if (image_in) {
    report["preprocess"] = spec;
    report["batch"] = batch;
    auto& arr = report["images"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < n_images; ++i) {
      say(fmt::format("{}\n", in.images[i]));
      nlohmann::ordered_json img = {{"file", in.images[i]}};
      for (const Gathered& g : outs) {
        const bool per_sample = g.per_sample;
        // Outputs without a batch dim are the same for every image of a batch.
        const std::vector<double> v =
            g.doubles((per_sample ? static_cast<int64_t>(i)
                                  : static_cast<int64_t>(i / static_cast<size_t>(batch))) *
                          g.row,
                      g.row);
        if (per_sample && top_k > 0 && isClassScores(g.info->dims)) {
          std::vector<float> row(v.begin(), v.end());
          bool sm = false;
          const auto top = topClasses(row.data(), static_cast<int>(g.row), top_k, &sm);
          say(topText(top, sm, g.info->name));
          img["outputs"][g.info->name] = {{"top", topJson(top)}, {"softmax", sm}};
        } else {
          say(fmt::format("  {}: {}\n", g.info->name, summarize(v.data(), g.row)));
          img["outputs"][g.info->name] = summaryJson(v.data(), g.row);
        }
      }
      arr.push_back(img);
    }
  } else {
    for (const Gathered& g : outs) {
      const TensorInfo& b = *g.info;
      const std::vector<double> v = g.doubles(0, g.row);
      say(fmt::format("  output {} {} {}: {}\n", b.name, dataTypeName(b.dtype),
                      dimsToString(b.dims), summarize(v.data(), g.row)));
      nlohmann::ordered_json o = summaryJson(v.data(), g.row);
      o["dims"] = b.dims;
      if (top_k > 0 && isClassScores(b.dims)) {
        const int64_t classes = b.dims[1];
        for (int64_t s = 0; s < b.dims[0]; ++s) {
          std::vector<float> row(v.begin() + s * classes, v.begin() + (s + 1) * classes);
          bool sm = false;
          const auto top = topClasses(row.data(), static_cast<int>(classes), top_k, &sm);
          say(topText(top, sm, strCat(b.name, "[", s, "]")));
          o["top"].push_back(topJson(top));
        }
      }
      report["outputs"][b.name] = o;
    }
  }

  if (!rc.r_save.empty()) {
    std::error_code ec;
    fs::create_directories(rc.r_save, ec);
    if (ec)
      return fail(Status(StatusCode::kIoError,
                         strCat(rc.r_save, ": cannot create folder: ", ec.message())));
    for (const Gathered& g : outs) {
      std::string file = g.info->name;
      for (char& c : file)
        if (c == '/' || c == '\\' || c == ':') c = '_';
      const std::string path = (fs::path(rc.r_save) / (file + ".npy")).string();
      Dims dims = g.info->dims;
      const int64_t n = g.count() / std::max<int64_t>(g.row, 1);
      if (image_in) {
        // Every image's outputs stacked: [images, ...] (or [batches, ...] without a batch dim).
        if (g.per_sample)
          dims[0] = n;
        else
          dims.insert(dims.begin(), n);
      }
      Status st = writeNpy(path, g.info->dtype, dims, g.raw.data());
      if (!st.ok()) return fail(st);
    }
    say(fmt::format("outputs written to {}/\n", rc.r_save));
  }
  if (!rc.r_json.empty()) {
    const std::string text = report.dump(2) + "\n";
    if (json_only) {
      fmt::print("{}", text);
    } else {
      Status st = writeFileAtomically(rc.r_json, text.data(), text.size());
      if (!st.ok()) return fail(st);
    }
  }
  return 0;
}

}  // namespace edgert::cli
