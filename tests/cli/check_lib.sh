# Shared by the CLI test scripts (source it): pass/fail counters and the checks.
pass=0; fail=0
ok()   { echo "ok   $1"; pass=$((pass + 1)); }
bad()  { echo "FAIL $1"; fail=$((fail + 1)); }
# expect_fail NAME PATTERN CMD...: non-zero exit, stderr matches PATTERN, no crash (rc < 128).
expect_fail() {
  local name="$1" pattern="$2"; shift 2
  "$@" >out.txt 2>err.txt; local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then bad "$name (rc=$rc)"; cat err.txt; return; fi
  if grep -qE -- "$pattern" err.txt; then ok "$name"; else bad "$name: stderr lacks /$pattern/"; cat err.txt; fi
}
