source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH=$PWD/.gpu/lib OUT=${OUT:-/tmp/out} EDGERT_TEST_BACKEND=cuda
CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
(cd /tmp && timeout 60 $OLDPWD/.gpu/bin/test_runtime --gtest_filter='Tactics.Fp16Tma*:Tactics.Fp16ImplicitGemm*' > $OUT/tactics.log 2>&1; echo "tactics rc $?")
grep -E "^\[  (PASSED|FAILED) |Failure|Expected|Which|rel" $OUT/tactics.log | head -12
python3 -c "
import sys; sys.path.insert(0,'tests/models'); import export_models as e; e.export('resnet18','/tmp/models')" > /dev/null 2>&1
python3 -c "import numpy as np; np.save('/tmp/s_r.npy', np.random.default_rng(3).standard_normal((1, 3, 224, 224)).astype(np.float32))"
EDGERT_TMA_P_BLOCKS=4 EDGERT_TACTIC_PREFER=nhwc16-tma-p .gpu/bin/edgert build -q --onnx /tmp/models/resnet18.onnx --target cuda --precision fp16 --shapes input:1x3x224x224 -o /tmp/sm.engine
echo "layers on tma-p: $(.gpu/bin/edgert inspect --engine /tmp/sm.engine | grep -c nhwc16-tma-p)"
EDGERT_TMA_P_BLOCKS=4 timeout 60 $CS --tool memcheck --error-exitcode 9 .gpu/bin/edgert run --engine /tmp/sm.engine --backend cuda --input input=/tmp/s_r.npy --iterations 2 > $OUT/mc.log 2>&1; echo "memcheck rc $? $(grep 'ERROR SUMMARY' $OUT/mc.log | head -1)"
EDGERT_TMA_P_BLOCKS=4 timeout 60 $CS --tool racecheck .gpu/bin/edgert run --engine /tmp/sm.engine --backend cuda --input input=/tmp/s_r.npy --iterations 2 > $OUT/rc.log 2>&1; echo "racecheck rc $? $(grep -c 'Race reported.*edgert_' $OUT/rc.log) hazards in edgert kernels"
python3 - <<'PY'
import sys, torch, torchvision
sys.path.insert(0, "bench")
m = torchvision.models.resnet50().eval()
torch.onnx.export(m, torch.randn(1, 3, 224, 224), "/tmp/r50.onnx", input_names=["input"], output_names=["output"],
                  dynamic_axes={"input": {0: "n"}, "output": {0: "n"}}, opset_version=17)
PY
for b in 128 8; do for ex in none nhwc16-tma-p-n64; do
  EDGERT_TACTIC_EXCLUDE=$ex EDGERT_VERBOSE=1 timeout 60 .gpu/bin/edgert build -v --onnx /tmp/r50.onnx --target cuda --precision fp16 --shapes input:${b}x3x224x224 -o /tmp/e.engine > $OUT/b_${b}_${ex:0:4}.log 2>&1
  echo "rn50 bs$b exclude=${ex:0:10} $(.gpu/bin/edgert bench --engine /tmp/e.engine --backend cuda --iterations 200 --warmup 20 | grep -E 'median' | tr -s ' ') p-layers=$(grep -v '^edgert: timing' $OUT/b_${b}_${ex:0:4}.log | grep -c nhwc16-tma-p)"
done; done
cd $OUT && tar czf b.tgz b_*.log && rm b_*.log
