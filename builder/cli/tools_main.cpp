// `edgert`: the runtime commands (run, bench, inspect --engine) on their own - what the
// edgert-tools package puts on a Jetson, with no ONNX importer or protobuf - and the whole
// command line when edgert-builder's module (edgert-cli-builder.so) is installed beside it.
// One program name everywhere: `edgert build` on the host, `edgert run` on the device.
#include <dlfcn.h>
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "edgert/edgert.h"
#include "edgert/internal/npy.h"
#include "edgert/internal/str.h"
#include "runtime_commands.h"

namespace fs = std::filesystem;
using namespace edgert;

namespace {

using CliMain = int (*)(int, char**);
constexpr const char* kModule = "edgert-cli-builder.so";

// Where the module is looked for: $EDGERT_CLI_BUILDER, then beside the installed program
// (<prefix>/bin/edgert -> <prefix>/<libdir>/edgert/) and in the build tree (bin/ -> lib/edgert/).
std::vector<fs::path> moduleCandidates() {
  if (const char* env = std::getenv("EDGERT_CLI_BUILDER"); env && *env) return {fs::path(env)};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const fs::path prefix = exe.parent_path().parent_path();
  return {prefix / EDGERT_INSTALL_LIBDIR / "edgert" / kModule, prefix / "lib" / "edgert" / kModule};
}

// The builder's entry point, or null when no module is installed. A module that is there
// but does not load (a library it needs is missing) is an error, not a silent fallback.
Result<CliMain> loadBuilder() {
  for (const fs::path& p : moduleCandidates()) {
    std::error_code ec;
    if (!fs::exists(p, ec)) continue;
    void* h = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h)
      return Status(StatusCode::kNotFound, strCat("the builder module ", p.string(),
                                                  " is installed but does not load: ", dlerror(),
                                                  " (reinstall edgert-builder)"));
    auto fn = reinterpret_cast<CliMain>(dlsym(h, "edgert_cli_main"));
    if (!fn)
      return Status(StatusCode::kInternal,
                    strCat(p.string(), " has no edgert_cli_main: not an edgert builder module"));
    return fn;
  }
  return CliMain{nullptr};
}

Result<HostTensor> readNpyOnly(const std::string& path) {
  if (fs::path(path).extension() == ".npy") return readNpy(path);
  return Status(StatusCode::kUnsupported,
                strCat(path,
                       ": this edgert (edgert-tools) reads .npy inputs; ONNX .pb tensors "
                       "need the builder (install edgert-builder) or numpy to convert them"));
}

}  // namespace

int main(int argc, char** argv) {
  auto builder = loadBuilder();
  if (!builder.ok()) return cli::fail(builder.status());
  if (*builder) return (*builder)(argc, argv);

  CLI::App app{fmt::format("edgert {}: run, time and inspect inference engines", versionString())};
  app.require_subcommand(1);
  app.set_version_flag("--version", versionString());
  app.footer(
      "build, compare and ops (and inspect --onnx) come with the edgert-builder package, which\n"
      "builds engines on the host for this device: edgert build --target jetson-orin ...");
  cli::RuntimeCommands rc;
  cli::addRuntimeCommands(app, rc);
  // The builder's commands are named, so that asking for one says what to install instead
  // of "unknown subcommand".
  for (const char* name : {"build", "compare", "ops"})
    app.add_subcommand(name, "(edgert-builder package)")->allow_extras()->prefix_command();
  std::string i_onnx;
  rc.inspect->add_option("--onnx", i_onnx, "ONNX model (edgert-builder package)")
      ->excludes(rc.inspect_engine);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (auto code = cli::runRuntimeCommand(rc, {readNpyOnly, nullptr})) return *code;
    std::string what = rc.inspect->parsed() ? "inspect --onnx" : "";
    for (const char* name : {"build", "compare", "ops"})
      if (app.get_subcommand(name)->parsed()) what = name;
    if (rc.inspect->parsed() && i_onnx.empty())
      return cli::fail(Status(StatusCode::kInvalidArgument, "give --engine"));
    return cli::fail(
        Status(StatusCode::kUnsupported,
               strCat("edgert ", what,
                      " needs the ONNX builder, which is not installed here (edgert-tools runs "
                      "engines only): install edgert-builder, or build the engine on a host with "
                      "--target for this device")));
  } catch (const std::exception& e) {
    return cli::fail(Status(StatusCode::kInternal, e.what()));
  }
}
