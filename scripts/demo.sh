#!/usr/bin/env bash
# The demo: start the local target server, fetch 20,000 requests from it, show the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
mf=.venv/bin/multifetch
out=demo
mkdir -p "$out"
"$mf" serve --port 0 2> "$out/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q "serving on" "$out/server.log" && break; sleep 0.1; done
url=$(sed -n 's/^serving on \(http[^ ]*\).*/\1/p' "$out/server.log")
.venv/bin/python - "$url" > "$out/urls.txt" <<'PY'
import sys
base = sys.argv[1]
for i in range(20_000):
    # mostly small pages, some slow, some failing at first, a few missing
    if i % 500 == 7:
        print(f"{base}/status/404?i={i}")
    elif i % 200 == 3:
        print(f"{base}/fail/1?key={i}")
    elif i % 100 == 1:
        print(f"{base}/delay/0.05?i={i}")
    else:
        print(f"{base}/bytes/{1000 + i % 1000}?seed={i}")
PY
echo "fetching 20,000 requests from the local target server at $url ..." >&2
set +e
"$mf" fetch "$out/urls.txt" -o "$out/results.jsonl" --overwrite -c 64 --per-host 64 \
  --summary-json "$out/summary.json"
status=$?
set -e
echo "records: $(wc -l < "$out/results.jsonl") in $out/results.jsonl (exit status $status)" >&2
