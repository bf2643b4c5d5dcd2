// The commands that need only the runtime: run, bench and inspect --engine. Both command
// lines register them from here - `edgert` of the edgert-tools package (what a Jetson needs:
// no ONNX importer, no protobuf) and the full CLI module of edgert-builder - so their flags
// cannot drift apart.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "edgert/internal/host_tensor.h"

namespace edgert::cli {

// Prints "edgert: error: ..." and returns the CLI's failure exit code (1).
int fail(const Status& st);

// Reads an input tensor file for `edgert run`: .npy everywhere, ONNX .pb where the builder is.
using TensorReader = std::function<Result<HostTensor>(const std::string& path)>;

// Decodes image files and pre-processes them (`preprocess` in edgert::vision's CLI form) into
// the first files.size() samples of input `name` (float32 of `dims`). Only where OpenCV is.
using ImageBatchReader =
    std::function<Status(const std::vector<std::string>& files, const std::string& preprocess,
                         const std::string& name, const Dims& dims, float* out)>;

struct InputReaders {
  TensorReader tensor;
  ImageBatchReader images;  // empty: image inputs are an error saying what to install
};

// The flags of the runtime commands; CLI11 binds to these members, so the object must stay
// where it is from addRuntimeCommands() until the command has run.
struct RuntimeCommands {
  CLI::App* run = nullptr;
  CLI::App* bench = nullptr;
  CLI::App* inspect = nullptr;
  CLI::Option* inspect_engine = nullptr;
  std::string r_engine, r_backend = "auto", r_save, r_preprocess, r_labels, r_json;
  std::vector<std::string> r_inputs;
  int r_iter = 1, r_topk = -1;
  std::string be_engine, be_backend = "auto", be_json;
  int be_iter = 200, be_warm = 20, be_streams = 1;
  bool be_layers = false, be_graph = true;
  std::string i_engine;
};

void addRuntimeCommands(CLI::App& app, RuntimeCommands& rc);

// The exit code of the runtime command the command line named (inspect only with --engine);
// nullopt when it named none of them.
std::optional<int> runRuntimeCommand(const RuntimeCommands& rc, const InputReaders& read);

// The image pre-processing an engine's build options record (`edgert build --preprocess`, or
// calibration on images; engines before it recorded it only under "int8"), or "".
std::string recordedPreprocess(const std::string& build_options_json);

// `edgert run` (run_command.cpp).
int cmdRun(const RuntimeCommands& rc, const InputReaders& read);

}  // namespace edgert::cli
