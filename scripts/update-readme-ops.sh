#!/usr/bin/env bash
# Regenerates the README's supported-ops table from the op registry.
set -euo pipefail
cd "$(dirname "$0")/.."
EDGERT="${1:-build/bin/edgert}"
table=$("$EDGERT" ops --markdown)
python3 - "$table" <<'PY'
import re, sys
table = sys.argv[1]
s = open("README.md").read()
s = re.sub(r"<!-- ops:begin -->.*<!-- ops:end -->", "<!-- ops:begin -->\n" + table + "\n<!-- ops:end -->", s, flags=re.S)
open("README.md", "w").write(s)
PY
