#!/usr/bin/env bash
# Renders a report's index.html (lmbatch report OUT.h5 -o DIR) in headless
# Chromium, with the network cut off, and saves a screenshot of the page, to
# check by eye that the page and its pictures render and need nothing from
# outside. Not part of CI (Chromium is a heavy package): run it by hand.
#
#   scripts/screenshot-report.sh [--demo LMBATCH] REPORT_DIR [OUT.png] [WIDTH] [HEIGHT]
#
#   --demo LMBATCH  first write a demo report into REPORT_DIR with that lmbatch
#                   binary: a 32 x 40 gaussian+constant cube fitted with
#                   --maxfev 5, so that some fits fail (ier 5)
#   OUT.png         default REPORT_DIR/screenshot.png
#   WIDTH, HEIGHT   the window, default 1400 x 6000 (the shot is the window:
#                   make it tall enough for the whole page)
#
# Needs Debian's chromium (apt-get install chromium); runs as root too
# (--no-sandbox).
set -euo pipefail
demo=""
if [[ "${1:-}" == "--demo" ]]; then
  demo="${2:?--demo needs the lmbatch binary}"
  shift 2
fi
dir="${1:?usage: $0 [--demo LMBATCH] REPORT_DIR [OUT.png] [WIDTH] [HEIGHT]}"
out="${2:-$dir/screenshot.png}"
width="${3:-1400}"
height="${4:-6000}"

browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" > /dev/null; then browser="$b"; break; fi
done
[[ -n "$browser" ]] || { echo "$0: no chromium found (apt-get install chromium)" >&2; exit 1; }

if [[ -n "$demo" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  "$demo" generate "$work/cube.h5" --model gaussian+constant --shape 32,40 --samples 64 -q
  "$demo" fit "$work/cube.h5" -o "$work/fit.h5" --model gaussian+constant --maxfev 5 -q
  "$demo" report "$work/fit.h5" -o "$dir" -q
fi
[[ -f "$dir/index.html" ]] || { echo "$0: $dir/index.html not found" >&2; exit 1; }

page="file://$(cd "$dir" && pwd)/index.html"
profile="$(mktemp -d)"
# Every host name fails to resolve: a page that needed the network would show it.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --user-data-dir="$profile" --host-resolver-rules="MAP * ~NOTFOUND" \
  --window-size="$width,$height" --screenshot="$out" "$page" 2> "$profile/chromium.log" || {
  cat "$profile/chromium.log" >&2
  rm -rf "$profile"
  exit 1
}
rm -rf "$profile"
echo "wrote $out ($width x $height) from $page"
