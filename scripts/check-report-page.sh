#!/usr/bin/env bash
# Reads a report's index.html in a real headless browser (Debian chromium, installed if missing) and
# checks what a person sees: a verdict badge per claim, no literal Markdown stars, long evidence and the
# verdict list folded. Writes a screenshot next to the page (page.png) for a look.
# Usage: scripts/check-report-page.sh [<study>/report]   (default runs/quick/report)
set -euo pipefail
report=${1:-runs/quick/report}
page="$(cd "$report" && pwd)/index.html"
[[ -f $page ]] || { echo "check-report-page: $page does not exist (run overtrain report first)" >&2; exit 2; }
if ! command -v chromium >/dev/null; then
  echo "check-report-page: installing chromium (apt)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
fi
browser=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars)
dom=$(timeout 120 "${browser[@]}" --dump-dom "file://$page" 2>/dev/null)
timeout 120 "${browser[@]}" --window-size=1400,1600 --screenshot="$(dirname "$page")/page.png" \
  "file://$page" >/dev/null 2>&1
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
claims=$(grep -c '^| C[0-9]* | ' "$(dirname "$page")/report.md" || true)
badges=$(grep -o 'class="badge [a-z]*"' <<<"$dom" | wc -l)
check "the browser rendered the page" '[[ $dom == *"<h2>Verdict</h2>"* ]]'
check "one badge per claim ($badges badges, $claims claims)" '(( badges >= claims && claims > 0 ))'
check "no literal ** in the page" '[[ $dom != *"**"* ]]'
check "long evidence folded under its first sentence" '[[ $dom == *"<td><details><summary>"* ]]'
check "the verdict list folded under one line" '[[ $dom == *"<h2>Verdict</h2>"$'"'"'\n'"'"'"<details>"* ]]'
echo "screenshot: $(dirname "$page")/page.png"
exit $fail
