#include "classification.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>

#include "edgert/internal/str.h"

namespace edgert::cli {

Result<std::vector<std::string>> readClassNames(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(StatusCode::kNotFound, strCat(path, ": cannot open the labels file"));
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  if (names.empty())
    return Status(StatusCode::kInvalidArgument,
                  strCat(path, ": the labels file is empty (one class name per line)"));
  return names;
}

bool isClassScores(const Dims& dims) {
  if (dims.size() == 2) return dims[1] > 1;
  return dims.size() == 4 && dims[1] > 1 && dims[2] == 1 && dims[3] == 1;
}

std::vector<ClassScore> topClasses(const float* scores, int classes, int k, bool* softmaxed) {
  std::vector<double> p(scores, scores + classes);
  double sum = 0;
  bool nonneg = true;
  for (double v : p) {
    sum += v;
    nonneg &= v >= 0;
  }
  *softmaxed = !(nonneg && std::abs(sum - 1.0) < 1e-3);
  if (*softmaxed) {
    const double mx = *std::max_element(p.begin(), p.end());
    double z = 0;
    for (double& v : p) z += (v = std::exp(v - mx));
    for (double& v : p) v /= z;
  }
  std::vector<int> idx(static_cast<size_t>(classes));
  std::iota(idx.begin(), idx.end(), 0);
  k = std::clamp(k, 0, classes);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  std::vector<ClassScore> out;
  for (int i = 0; i < k; ++i) out.push_back({idx[i], p[idx[i]]});
  return out;
}

}  // namespace edgert::cli
