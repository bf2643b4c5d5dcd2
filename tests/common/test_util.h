// Helpers shared by the test suites: build an engine in memory and run it on the CPU.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "edgert/builder.h"
#include "edgert/edgert.h"
#include "edgert/internal/host_tensor.h"

namespace edgert::test {

// The backend and build target the suite runs with: EDGERT_TEST_BACKEND=cuda (set by the
// ctest label `gpu`) runs everything on the CUDA backend against the same references.
Backend testBackend();
std::string testTarget();
// Empty when the selected backend can run here, else the reason (for GTEST_SKIP).
std::string backendUnavailableReason();

// Runs an engine (bytes) on the test backend with named inputs `runs` times in one execution
// context; returns the last run's outputs by name. `tactics`, when given, gets each layer's
// tactic (what ran, for tests that force a kernel) and `description` the engine's describe().
Result<std::map<std::string, HostTensor>> runEngineBytes(
    const std::vector<uint8_t>& engine, const std::map<std::string, const HostTensor*>& inputs,
    Backend backend = testBackend(), int runs = 1, std::vector<std::string>* tactics = nullptr,
    std::string* description = nullptr);

// Compares element-wise: |a - b| <= atol + rtol * |b| (NaNs must match); integer and bool
// tensors must be equal. Returns an empty string or a description of the first mismatch.
std::string compareTensors(const HostTensor& got, const HostTensor& want, double rtol, double atol);

// Relative L2 error ||a - b|| / ||b||.
double relativeL2(const HostTensor& got, const HostTensor& want);

HostTensor randomTensor(DataType dt, const Dims& dims, std::mt19937& rng, float lo = -1.f,
                        float hi = 1.f);

// The random generator of a suite's inputs: seeded from EDGERT_TEST_SEED, else at random, with
// the seed printed once (named after `suite`) so a failing run can be reproduced.
std::mt19937& seededRng(const std::string& suite);

// Calibration samples held in memory: sample i of every input is `samples[i]` (wrapping
// around), each shaped like one item of the batch.
class MemorySource final : public CalibrationSource {
 public:
  explicit MemorySource(std::vector<HostTensor> samples) : samples_(std::move(samples)) {}
  int sampleCount() const override { return static_cast<int>(samples_.size()); }
  Status getSamples(int first, const std::string& name, const Dims& dims, float* out) override;

 private:
  std::vector<HostTensor> samples_;
};

}  // namespace edgert::test
