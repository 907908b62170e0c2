#!/usr/bin/env bash
# test-deps.sh installs the tools the tests drive as real clients; `make test` runs it.
# - GDAL's ogrinfo and ogr2ogr (Debian gdal-bin) read /ogc with the OAPIF driver
#   (TestOGCWithOgrinfo, TestOGCFilterWithGDAL).
# - OWSLib (Debian python3-owslib, for Debian's /usr/bin/python3) reads queryables and
#   filtered, sorted items (TestOGCWithOWSLib).
# - CBC (Debian coinor-cbc) solves small siting instances exactly (TestMCLPAgainstCBC).
# These tests fail without their tool when CI=true, and skip otherwise.
# - Debian's Chromium, a CJK font and playwright-core (npm ci in web/test) drive the map
#   page (web/browsertest, TestBrowser; it fails without them under SAFEGRID_BROWSER=1,
#   which `make test` sets, and skips otherwise).
set -euo pipefail

# apt_install PACKAGE: install PACKAGE from apt, without its recommends.
apt_install() {
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

# need COMMAND PACKAGE: install PACKAGE from apt when COMMAND is missing.
need() {
	command -v "$1" >/dev/null 2>&1 && return
	echo "test-deps: installing $2 ($1)" >&2
	apt_install "$2"
}

# need_font PACKAGE: install PACKAGE when no font covers Chinese, so the page's labels
# render in headless Chromium instead of as boxes.
need_font() {
	fc-list :lang=zh family 2>/dev/null | grep -q . && return
	echo "test-deps: installing $1 (a font for Chinese)" >&2
	apt_install "$1"
}

need ogrinfo gdal-bin
if ! /usr/bin/python3 -c "import owslib" 2>/dev/null; then
	echo "test-deps: installing python3-owslib" >&2
	apt_install python3-owslib
fi
need cbc coinor-cbc
need chromium chromium
need_font fonts-noto-cjk

# The browser tests' own node_modules (playwright-core, pinned by web/test/package-lock.json):
# npm ci when missing or older than the lock file.
test_dir="$(cd "$(dirname "$0")/../web/test" && pwd)"
if [ ! -f "$test_dir/node_modules/.package-lock.json" ] || [ "$test_dir/package-lock.json" -nt "$test_dir/node_modules/.package-lock.json" ]; then
	echo "test-deps: npm ci in web/test" >&2
	(cd "$test_dir" && npm ci --no-audit --no-fund >&2)
	touch "$test_dir/node_modules/.package-lock.json"
fi

ogrinfo --version >&2
