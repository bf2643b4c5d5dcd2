#include "calib_cache.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "calib_scales.h"
#include "edgert/internal/str.h"

namespace edgert {
namespace {

constexpr const char* kMagic = "edgert-calibration 3";
constexpr const char* kMagicV1 = "edgert-calibration 1";  // thresholds only
constexpr const char* kMagicV2 = "edgert-calibration 2";  // and means

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\\')
      o += "\\\\";
    else if (c == '\n')
      o += "\\n";
    else if (c == '\r')
      o += "\\r";
    else
      o += c;
  }
  return o;
}

bool unescape(const std::string& s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      *out += s[i];
      continue;
    }
    if (++i == s.size()) return false;
    if (s[i] == '\\')
      *out += '\\';
    else if (s[i] == 'n')
      *out += '\n';
    else if (s[i] == 'r')
      *out += '\r';
    else
      return false;
  }
  return true;
}

bool parseDouble(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

}  // namespace

std::string formatCalibrationCache(const CalibrationCache& c) {
  std::string o = strCat(kMagic, "\nmodel ", c.model, "\nalgorithm ", c.algorithm, " ");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", c.percentile);
  o += buf;
  o += "\n";
  for (const auto& [name, t] : c.thresholds) {
    std::snprintf(buf, sizeof buf, "%.17g", t);
    o += strCat(buf, " ", escape(name), "\n");
  }
  for (const auto& [key, map] : {std::pair{"mean", &c.means}, {"clipped-mean", &c.clipped_means}})
    for (const auto& [name, m] : *map) {
      o += strCat(key, " ", m.size());
      for (double v : m) {
        std::snprintf(buf, sizeof buf, " %.17g", v);
        o += buf;
      }
      o += strCat(" ", escape(name), "\n");
    }
  static const char* kHex = "0123456789abcdef";
  for (const auto& [name, bits] : c.rounding) {
    std::string hex((bits.size() + 7) / 8 * 2, '0');
    for (size_t i = 0; i < bits.size(); i += 8) {
      unsigned byte = 0;
      for (size_t k = 0; k < 8 && i + k < bits.size(); ++k) byte |= (bits[i + k] ? 1u : 0u) << k;
      hex[i / 4] = kHex[byte >> 4];
      hex[i / 4 + 1] = kHex[byte & 15];
    }
    o += strCat("rounding ", bits.size(), " ", hex, " ", escape(name), "\n");
  }
  return o;
}

Result<CalibrationCache> loadCalibrationCache(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, strCat(path, ": cannot open calibration cache"));
  std::stringstream text;
  text << in.rdbuf();
  return parseCalibrationCache(text.str(), path);
}

Result<CalibrationCache> parseCalibrationCache(const std::string& text, const std::string& origin) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto bad = [&](const std::string& why) {
    return Status(StatusCode::kInvalidArgument,
                  strCat(origin, ":", n, ": ", why, " (not an edgert calibration cache?)"));
  };
  CalibrationCache c;
  bool have_model = false, have_algo = false;
  while (std::getline(in, line)) {
    ++n;
    if (n == 1) {
      if (line != kMagic && line != kMagicV1 && line != kMagicV2)
        return bad(strCat("expected '", kMagic, "'"));
      c.version = line == kMagicV1 ? 1 : line == kMagicV2 ? 2 : 3;
      continue;
    }
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos) return bad("expected '<key or threshold> <value>'");
    const std::string head = line.substr(0, sp), rest = line.substr(sp + 1);
    if (head == "model" && !have_model) {
      if (rest.empty() || rest.find(' ') != std::string::npos) return bad("bad model fingerprint");
      c.model = rest;
      have_model = true;
    } else if (head == "algorithm" && !have_algo) {
      const size_t sp2 = rest.find(' ');
      c.algorithm = rest.substr(0, sp2);
      if (!parseCalibAlgo(c.algorithm).ok())
        return bad(strCat("unknown algorithm '", c.algorithm, "'"));
      if (sp2 == std::string::npos || !parseDouble(rest.substr(sp2 + 1), &c.percentile) ||
          !(c.percentile > 0 && c.percentile <= 100))
        return bad("expected 'algorithm <name> <percentile in (0, 100]>'");
      have_algo = true;
    } else if (head == "mean" || head == "clipped-mean") {
      if (!have_model || !have_algo) return bad("'model' and 'algorithm' come before means");
      auto& map = head == "mean" ? c.means : c.clipped_means;
      // mean <count> <count values> <name>
      size_t at = 0;
      auto token = [&](std::string* tok) {
        const size_t end = rest.find(' ', at);
        if (end == std::string::npos) return false;
        *tok = rest.substr(at, end - at);
        at = end + 1;
        return true;
      };
      const std::string usage =
          strCat("expected '", head, " <channels> <one value per channel> <tensor name>'");
      std::string tok;
      double count = 0;
      if (!token(&tok) || !parseDouble(tok, &count) || count < 1 || count > rest.size() ||
          count != std::floor(count))
        return bad(usage);
      std::vector<double> m(static_cast<size_t>(count));
      for (double& v : m)
        if (!token(&tok) || !parseDouble(tok, &v) || !std::isfinite(v)) return bad(usage);
      std::string name;
      if (!unescape(rest.substr(at), &name) || name.empty()) return bad("bad tensor name");
      if (!map.emplace(name, std::move(m)).second)
        return bad(strCat(head, "s of tensor '", name, "' twice"));
    } else if (head == "rounding") {
      if (!have_model || !have_algo) return bad("'model' and 'algorithm' come before rounding");
      const std::string usage =
          "expected 'rounding <weights> <hex, two digits per 8 weights> <layer name>'";
      const size_t a = rest.find(' '), b = a == std::string::npos ? a : rest.find(' ', a + 1);
      double count = 0;
      if (b == std::string::npos || !parseDouble(rest.substr(0, a), &count) || count < 1 ||
          count != std::floor(count) || count > 8.0 * static_cast<double>(rest.size()))
        return bad(usage);
      const std::string hex = rest.substr(a + 1, b - a - 1);
      const size_t nbits = static_cast<size_t>(count);
      if (hex.size() != (nbits + 7) / 8 * 2) return bad(usage);
      std::vector<uint8_t> bits(nbits);
      for (size_t i = 0; i < hex.size(); i += 2) {
        unsigned byte = 0;
        for (size_t k = 0; k < 2; ++k) {
          const char h = hex[i + k];
          const int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1;
          if (d < 0) return bad(usage);
          byte = byte * 16 + static_cast<unsigned>(d);
        }
        for (size_t k = 0; k < 8; ++k) {
          const size_t at = i * 4 + k;
          if (at < nbits)
            bits[at] = static_cast<uint8_t>((byte >> k) & 1);
          else if ((byte >> k) & 1)
            return bad(usage);  // padding bits are zero
        }
      }
      std::string name;
      if (!unescape(rest.substr(b + 1), &name) || name.empty()) return bad("bad layer name");
      if (!c.rounding.emplace(name, std::move(bits)).second)
        return bad(strCat("rounding of layer '", name, "' twice"));
    } else {
      double t = 0;
      if (!have_model || !have_algo) return bad("'model' and 'algorithm' come before thresholds");
      if (!parseDouble(head, &t) || !std::isfinite(t) || t <= 0)
        return bad(strCat("'", head, "' is not a positive threshold"));
      std::string name;
      if (!unescape(rest, &name) || name.empty()) return bad("bad tensor name");
      if (!c.thresholds.emplace(name, t).second) return bad(strCat("tensor '", name, "' twice"));
    }
  }
  if (n == 0) return bad("empty file");
  if (!have_model || !have_algo) return bad("missing 'model' or 'algorithm' line");
  return c;
}

Status checkCalibrationModel(const CalibrationCache& c, const std::string& fp,
                             const std::string& origin) {
  if (c.model == fp) return Status::Ok();
  return Status(StatusCode::kInvalidArgument,
                strCat(origin, ": calibration cache made for another model (fingerprint ", c.model,
                       ", this model's is ", fp, "); delete it or pass images to calibrate again"));
}

}  // namespace edgert
