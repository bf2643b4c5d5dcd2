#!/usr/bin/env bash
# The README's op table must equal the registry's (run scripts/update-readme-ops.sh).
set -euo pipefail
want=$("$1" ops --markdown)
got=$(sed -n '/<!-- ops:begin -->/,/<!-- ops:end -->/p' "$2/README.md" | sed '1d;$d')
if [ "$want" != "$got" ]; then
  echo "README ops table is stale: run bash scripts/update-readme-ops.sh"
  diff <(echo "$want") <(echo "$got") || true
  exit 1
fi
echo "README ops table matches the registry ($(echo "$want" | tail -n +3 | wc -l) rows)"
