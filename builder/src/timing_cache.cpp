#include "timing_cache.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "edgert/internal/engine_model.h"
#include "edgert/internal/str.h"

namespace edgert {

namespace {
constexpr const char* kHeader = "# edgert timing cache v1";
}

Result<TimingCache> loadTimingCache(const std::string& path) {
  std::ifstream in(path);
  if (!in) return TimingCache{};  // first build: created on save
  std::stringstream text;
  text << in.rdbuf();
  return parseTimingCache(text.str(), path);
}

Result<TimingCache> parseTimingCache(const std::string& text, const std::string& path) {
  TimingCache cache;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (n == 1) {
      if (line != kHeader)
        return Status(StatusCode::kCorruptFile,
                      strCat(path, ":1: not an edgert timing cache (expected '", kHeader, "')"));
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string part; std::getline(ss, part, '\t');) f.push_back(part);
    char* end = nullptr;
    const double ms = f.size() == 4 ? std::strtod(f[3].c_str(), &end) : NAN;
    if (f.size() != 4 || f[0].empty() || f[1].empty() || f[2].empty() || !end || *end ||
        !std::isfinite(ms) || ms < 0)
      return Status(StatusCode::kCorruptFile,
                    strCat(path, ":", n,
                           ": expected '<device>\\t<layer>\\t<tactic>\\t<ms>' (delete the file to "
                           "start over)"));
    cache.entries[f[0] + "\t" + f[1]] = {f[2], ms};
  }
  return cache;
}

Status saveTimingCache(const std::string& path, const TimingCache& cache) {
  std::ostringstream out;
  out << kHeader << "\n";
  for (const auto& [key, e] : cache.entries) out << key << "\t" << e.tactic << "\t" << e.ms << "\n";
  const std::string text = out.str();
  return writeFileAtomically(path, text.data(), text.size());
}

std::string layerSignature(const NodeContext& c) {
  std::ostringstream s;
  s << c.op;
  for (size_t i = 0; i < c.in.size(); ++i) {
    s << " in" << i << "=";
    if (!c.has(i)) {
      s << "-";
      continue;
    }
    s << dataTypeName(c.dtype(i)) << ":" << dimsToString(c.dims(i));
  }
  if (!c.out.empty())
    s << " out=" << dataTypeName(c.out[0].dtype) << ":" << dimsToString(c.out[0].dims);
  s << (c.fp16 ? " fp16" : " fp32");
  for (const char* k : {"strides", "pads", "dilations"}) {
    s << " " << k << "=";
    const std::vector<int64_t> vs = c.attrs->getInts(k, {}).value();
    for (int64_t v : vs) s << v << ",";
  }
  s << " group=" << c.attrs->getInt("group", 1).value();
  s << " auto_pad=" << c.attrs->getString("auto_pad", "NOTSET").value();
  s << " act=" << c.attrs->getString("_act", "").value();
  return s.str();
}

}  // namespace edgert
