export LD_LIBRARY_PATH="$PWD/.gpu/lib"; export EDGERT_TEST_BACKEND=cuda; OUT=${OUT:-/tmp/out}
(cd /tmp && timeout 200 $OLDPWD/.gpu/bin/test_runtime --gtest_filter='*Tactics*:*Nhwc*' > $OUT/tact.log 2>&1; echo "tactics+nhwc rc $?"; grep -E "FAILED|Failure|Expected|Which|depthwise_h4" $OUT/tact.log | head -30)
PROFILE_BATCH=none bash scripts/gpu-fp16-check.sh 2>&1 | grep -E "fp16:|rc"
PROFILE_BATCH=none BATCHES=128 MODELS="mobilenet_v2 efficientnet_b0" bash scripts/gpu-profile.sh >/dev/null 2>&1
grep -E "^==|ms  (Conv|MaxPool|Concat|Split|Mul|Global)" $OUT/profiles.txt | head -40
