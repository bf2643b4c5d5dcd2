#!/usr/bin/env bash
# The edgert CLI as a user meets it: the README workflow works, and every kind of bad
# input exits non-zero with one clear message naming what and where, leaving no files.
# Usage: cli_test.sh EDGERT_BIN SOURCE_DIR WORKDIR
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"
EDGERT="$1"; SRC="$2"; WORK="$3"
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
MODEL="$SRC/configs/models/efficientnet_lite0.onnx"

# The README workflow: build (from YAML and from flags), inspect, run.
sed "s|output: .*|output: $WORK/cfg.engine|; s|model: ../models/|model: $SRC/configs/models/|" \
  "$SRC/configs/build/efficientnet-lite0.yaml" > cfg.yaml
if "$EDGERT" build -q --config cfg.yaml >/dev/null && [ -s cfg.engine ]; then ok "build --config"; else bad "build --config"; fi
if "$EDGERT" build -q --onnx "$MODEL" --shapes input:2x3x224x224 -o m.engine >/dev/null; then ok "build --onnx"; else bad "build --onnx"; fi
if "$EDGERT" inspect --engine m.engine | grep "input   input  float32 2x3x224x224  (model: Nx3x224x224)" >/dev/null; then ok "inspect"; else bad "inspect"; fi
if "$EDGERT" inspect --onnx "$MODEL" | grep "Conv" >/dev/null; then ok "inspect --onnx"; else bad "inspect --onnx"; fi
/usr/bin/python3 -c "import numpy as np; np.save('x.npy', np.random.rand(2,3,224,224).astype(np.float32)); np.save('x1.npy', np.random.rand(1,3,224,224).astype(np.float32)); np.save('xd.npy', np.random.rand(2,3,224,224))"
if "$EDGERT" run --engine m.engine --backend cpu --input input=x.npy --save-outputs out >/dev/null && [ -s out/logits.npy ]; then
  ok "run --save-outputs"; else bad "run --save-outputs"; fi
# The CPU backend gives the same bits on any number of threads (the convolutions' splits, the
# fixed slices its GEMMs are cut into).
if EDGERT_CPU_THREADS=1 "$EDGERT" run --engine m.engine --backend cpu --input input=x.npy --save-outputs t1 >/dev/null &&
   EDGERT_CPU_THREADS=3 "$EDGERT" run --engine m.engine --backend cpu --input input=x.npy --save-outputs t3 >/dev/null &&
   cmp -s t1/logits.npy t3/logits.npy; then
  ok "cpu: same bits on 1 and 3 threads"; else bad "cpu: same bits on 1 and 3 threads"; fi
if "$EDGERT" bench --engine m.engine --backend cpu --iterations 2 --per-layer | grep "slowest layers" >/dev/null; then ok "bench --per-layer"; else bad "bench --per-layer"; fi
if "$EDGERT" bench --engine m.engine --backend cpu --iterations 2 --no-cuda-graph | grep "latency ms" >/dev/null; then ok "bench --no-cuda-graph"; else bad "bench --no-cuda-graph"; fi
# Several contexts at once: one median per context, one throughput over them; --per-layer refused.
out=$("$EDGERT" bench --engine m.engine --backend cpu --iterations 3 --streams 3)
if echo "$out" | grep -qE "median per stream: [0-9.]+ [0-9.]+ [0-9.]+$" && echo "$out" | grep -q "images/s over"; then ok "bench --streams 3"; else bad "bench --streams 3: $out"; fi
out=$("$EDGERT" bench --engine m.engine --backend cpu --streams 2 --per-layer 2>&1) && rc=0 || rc=$?
if [ "$rc" = 1 ] && echo "$out" | grep -q "throughput only"; then ok "bench --streams with --per-layer refused"; else bad "bench --streams with --per-layer: rc $rc, $out"; fi
if "$EDGERT" ops --markdown | grep "Conv" >/dev/null; then ok "ops"; else bad "ops"; fi

# Bad input, each with its message.
expect_fail "dynamic dims need --shapes" "input 'input' dim 0 \('N'\) of \?x3x224x224" "$EDGERT" build --onnx "$MODEL" -o dyn.engine
[ ! -e dyn.engine ] && ok "failed build leaves no file" || bad "failed build left dyn.engine"
ls -a | grep -q '\.tmp' && bad "temp files left behind" || ok "no temp files left"
head -c 5000 m.engine > trunc.engine
expect_fail "truncated engine" "trunc.engine: .*(truncated|too short|do not fit)" "$EDGERT" run --engine trunc.engine --input x.npy
cp m.engine flip.engine; printf '\x55' | dd of=flip.engine bs=1 seek=3000 conv=notrunc status=none
expect_fail "bit-flipped engine" "flip.engine: checksum mismatch" "$EDGERT" run --engine flip.engine --input x.npy
expect_fail "workspace limit out of range" "--workspace-mib: Value 0 not in range" "$EDGERT" build --onnx "$MODEL" --shapes input:1x3x224x224 --workspace-mib 0 -o ws.engine
expect_fail "not an engine" "bad magic" "$EDGERT" inspect --engine "$MODEL"
expect_fail "missing engine" "no such file" "$EDGERT" run --engine nope.engine --input x.npy
expect_fail "wrong input shape names input, dim, value" "input 'input' dim 0 \('N'\) is 1 but the engine was built for 2" \
  "$EDGERT" run --engine m.engine --input x1.npy
expect_fail "wrong input dtype" "input 'input' is float32 but the file holds float64" "$EDGERT" run --engine m.engine --input xd.npy
expect_fail "unknown input name" "'nope' is not an input" "$EDGERT" run --engine m.engine --input input=x.npy --input nope=x.npy
expect_fail "missing input" "missing --input for 'input'" "$EDGERT" run --engine m.engine
expect_fail "cuda backend without cuda" "CUDA backend is not available|no NVIDIA driver" "$EDGERT" run --engine m.engine --backend cuda --input x.npy
expect_fail "bad backend name" "unknown backend 'gpu'" "$EDGERT" run --engine m.engine --backend gpu --input x.npy
head -c 3000 "$MODEL" > trunc.onnx
expect_fail "truncated onnx" "trunc.onnx: not a valid ONNX model" "$EDGERT" build --onnx trunc.onnx -o t.engine
echo "garbage" > junk.onnx
expect_fail "garbage onnx" "junk.onnx: not a valid ONNX model" "$EDGERT" build --onnx junk.onnx -o t.engine
expect_fail "fp16 needs a CUDA target" "precision fp16 needs a CUDA target" "$EDGERT" build --onnx "$MODEL" --shapes input:1x3x224x224 --precision fp16 --target cpu -o t.engine
expect_fail "bad --shapes" "not a non-negative dim" "$EDGERT" build --onnx "$MODEL" --shapes input:1xAx3 -o t.engine
printf 'model: m.onnx\nprecison: fp32\n' > typo.yaml
expect_fail "unknown YAML key with line" "typo.yaml:2:1: unknown key 'precison'" "$EDGERT" build --config typo.yaml
printf 'model: m.onnx\nshapes:\n  input: [1, three]\n' > type.yaml
expect_fail "wrong YAML type with line" "type.yaml:3:.*'three' is not a non-negative integer" "$EDGERT" build --config type.yaml
printf 'model: m.onnx\nbatch_split: -2\n' > split.yaml
expect_fail "negative batch_split in YAML" "split.yaml:2:.*'batch_split' must be a non-negative integer" "$EDGERT" build --config split.yaml
# Batch splitting: EfficientNet-Lite0 at batch 128 runs its largest chain in parts; 0 turns it off.
if "$EDGERT" build -q --onnx "$MODEL" --shapes input:128x3x224x224 -o b128.engine | grep "batch split: 1 chain" >/dev/null &&
   ! "$EDGERT" build -q --batch-split 0 --onnx "$MODEL" --shapes input:128x3x224x224 -o b128.engine | grep "batch split" >/dev/null; then
  ok "build --batch-split"; else bad "build --batch-split"; fi
printf 'model: m.onnx\ntimed_precision: maybe\n' > timed.yaml
expect_fail "bad timed_precision in YAML" "timed.yaml:2:.*'timed_precision' must be true or false" "$EDGERT" build --config timed.yaml
printf 'model: m.onnx\ninput_format: fp8\n' > fmt.yaml
expect_fail "bad input_format in YAML" "fmt.yaml:2:.*input_format must be fp32 or fp16" "$EDGERT" build --config fmt.yaml
# --input-format fp16: a float16 binding, fed from a float32 .npy by edgert run.
if "$EDGERT" build -q --input-format fp16 --onnx "$MODEL" --shapes input:1x3x224x224 -o h.engine >/dev/null &&
   "$EDGERT" inspect --engine h.engine | grep "input   input  float16 1x3x224x224" >/dev/null &&
   "$EDGERT" run --engine h.engine --backend cpu --input input=x1.npy --save-outputs hout >/dev/null && [ -s hout/logits.npy ]; then
  ok "build --input-format fp16 + run"; else bad "build --input-format fp16 + run"; fi
printf 'model: [unclosed\n' > syntax.yaml
expect_fail "YAML syntax error" "syntax.yaml:.*YAML syntax error" "$EDGERT" build --config syntax.yaml
echo "junk" > junk.npy
expect_fail "junk npy" "junk.npy: not a usable .npy file" "$EDGERT" run --engine m.engine --input junk.npy

# edgert-tools alone (no builder module, as on a device): engines run, builder commands say
# what to install, a module that is there but broken is an error, not a silent fallback.
tools() { EDGERT_CLI_BUILDER="$WORK/no-module.so" "$EDGERT" "$@"; }
if tools run --engine m.engine --backend cpu --input input=x.npy --save-outputs tout >/dev/null &&
   cmp -s tout/logits.npy out/logits.npy; then ok "tools-only run (same outputs)"; else bad "tools-only run"; fi
if tools inspect --engine m.engine | grep "input   input  float32 2x3x224x224" >/dev/null; then ok "tools-only inspect"; else bad "tools-only inspect"; fi
expect_fail "tools-only build names the package" "edgert build needs the ONNX builder.*install edgert-builder" tools build --onnx "$MODEL" -o t.engine
[ ! -e t.engine ] && ok "tools-only build writes nothing" || bad "tools-only build wrote t.engine"
expect_fail "tools-only inspect --onnx" "edgert inspect --onnx needs the ONNX builder" tools inspect --onnx "$MODEL"
echo x > in.pb
expect_fail "tools-only .pb input" "in.pb: this edgert \(edgert-tools\) reads .npy inputs" tools run --engine m.engine --input in.pb
expect_fail "broken builder module" "builder module .*junk.npy is installed but does not load" env EDGERT_CLI_BUILDER="$WORK/junk.npy" "$EDGERT" ops

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
