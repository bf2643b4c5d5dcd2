#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS
# (default 30) on seed corpora made from real files. Any crash, leak or sanitizer report
# fails the run; the reproducer is left in build-fuzz/findings/.
#   bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-30}"
B=build-fuzz
CC=clang CXX=clang++ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGERT_FUZZ=ON \
  -DEDGERT_WITH_TESTS=OFF -DEDGERT_WARNINGS_AS_ERRORS=OFF -DEDGERT_WITH_GSTREAMER=AUTO >/dev/null
cmake --build $B -j "${EDGERT_JOBS:-2}" --target fuzz_engine fuzz_onnx fuzz_npy fuzz_build_yaml fuzz_gst_yaml fuzz_timing_cache fuzz_calib_cache edgert_cli
mkdir -p $B/corpus/{engine,onnx,npy,yaml,gst_yaml,timing_cache,calib_cache} $B/findings
# Seeds: real engines, models, tensors and configs.
for f in /usr/share/libonnx-testdata/data/node/test_{conv_with_strides_padding,relu,resize_upsample_sizes_nearest,slice,gemm_default_matrix_bias,maxpool_2d_pads,quantizelinear,dequantizelinear_axis}/model.onnx; do
  [ -f "$f" ] && cp "$f" "$B/corpus/onnx/$(basename "$(dirname "$f")").onnx"
done
for f in /usr/share/libonnx-testdata/data/node/test_{relu,conv_with_strides_padding,gemm_default_matrix_bias}/model.onnx; do
  [ -f "$f" ] && $B/bin/edgert build -q --onnx "$f" -o "$B/corpus/engine/$(basename "$(dirname "$f")").engine" >/dev/null 2>&1 || true
done
# A Q/DQ model as edgert quantize writes it (weights int8 per channel, activation pairs), from
# a small float model: Conv -> Relu -> Conv with a residual Add.
mkdir -p $B/corpus/qdq_calib
/usr/bin/python3 - "$B/corpus" <<'PY'
import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
d, r = sys.argv[1], np.random.default_rng(0)
w = lambda n, s: numpy_helper.from_array(r.standard_normal(s).astype(np.float32) * 0.3, n)
g = helper.make_graph(
    [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c1"], ["a"]),
     helper.make_node("Conv", ["a", "w2"], ["c2"]), helper.make_node("Add", ["c2", "a"], ["y"])],
    "seed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
    [w("w1", (4, 3, 3, 3)), w("b1", (4,)), w("w2", (4, 4, 1, 1))])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), d + "/qdq_float.onnx")
for i in range(2):
    np.save("%s/qdq_calib/%d.npy" % (d, i), r.standard_normal((1, 3, 8, 8)).astype(np.float32))
PY
$B/bin/edgert quantize -q --onnx $B/corpus/qdq_float.onnx --calib-dir $B/corpus/qdq_calib \
  -o $B/corpus/onnx/qdq_conv.onnx >/dev/null || { echo "fuzz: no Q/DQ seed"; exit 1; }
cp configs/build/*.yaml $B/corpus/yaml/
cp configs/elements/*.yaml configs/apps/*.yaml $B/corpus/gst_yaml/
printf 'edgert-calibration 1\nmodel 9f86d081884c7d65\nalgorithm entropy 99.99\n2.8731 /stem/conv/Conv_output_0\n0.5 a\\nb\n' > $B/corpus/calib_cache/a.calib
printf 'edgert-calibration 2\nmodel ab\nalgorithm minmax 99.99\n1.5 x\nmean 3 0.5 -1 2e-9 x\n' > $B/corpus/calib_cache/b.calib
printf 'edgert-calibration 3\nmodel ab\nalgorithm entropy 99.99\n1.5 x\nrounding 11 a503 dw conv\n' > $B/corpus/calib_cache/c.calib
printf '# edgert timing cache v1\nsm_90 NVIDIA H200\tConv in0=float32:1x16x20x20 out=1x32x20x20 fp32\tcublaslt-1x1\t0.0123\n' > $B/corpus/timing_cache/a.cache
/usr/bin/python3 -c "
import struct
def npy(descr, shape, payload):
    h = \"{'descr': '%s', 'fortran_order': False, 'shape': %s, }\" % (descr, shape)
    h += ' ' * ((64 - (10 + len(h) + 1) % 64) % 64) + '\n'
    return b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + payload
open('$B/corpus/npy/a.npy','wb').write(npy('<f4', '(2, 3)', b'\0' * 24))
open('$B/corpus/npy/b.npy','wb').write(npy('<i8', '(4,)', b'\1' * 32))
"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
# Earlier findings first: they must stay fixed.
for t in engine onnx npy build_yaml gst_yaml timing_cache calib_cache; do
  d=tests/fuzz/regressions/${t%_*}; [ "$t" = build_yaml ] && d=tests/fuzz/regressions/yaml
  [ "$t" = gst_yaml ] && d=tests/fuzz/regressions/gst_yaml
  [ "$t" = timing_cache ] && d=tests/fuzz/regressions/timing_cache
  [ "$t" = calib_cache ] && d=tests/fuzz/regressions/calib_cache
  if [ -d "$d" ] && ls "$d"/* >/dev/null 2>&1; then $B/tests/fuzz/fuzz_$t "$d"/* >/dev/null 2>&1 || { echo "regression in $d"; exit 1; }; fi
done
for t in engine onnx npy build_yaml gst_yaml timing_cache calib_cache; do
  corpus=$B/corpus/${t%_*}; [ "$t" = build_yaml ] && corpus=$B/corpus/yaml
  [ "$t" = gst_yaml ] && corpus=$B/corpus/gst_yaml
  [ "$t" = timing_cache ] && corpus=$B/corpus/timing_cache
  [ "$t" = calib_cache ] && corpus=$B/corpus/calib_cache
  echo "fuzz_$t: ${SECS}s"
  $B/tests/fuzz/fuzz_$t -max_total_time="$SECS" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -artifact_prefix=$B/findings/$t- -print_final_stats=0 "$corpus" 2>&1 | tail -n 3
done
echo "fuzz: no findings"
