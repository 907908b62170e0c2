#!/usr/bin/env bash
# test-deps.sh installs the tools the tests drive as real clients; `make test` runs it.
# - GDAL's ogrinfo (Debian gdal-bin) reads /ogc with the OAPIF driver (TestOGCWithOgrinfo).
# - CBC (Debian coinor-cbc) solves small siting instances exactly (TestMCLPAgainstCBC).
# Both tests fail without their tool when CI=true, and skip otherwise.
set -euo pipefail

# need COMMAND PACKAGE: install PACKAGE from apt when COMMAND is missing.
need() {
	command -v "$1" >/dev/null 2>&1 && return
	echo "test-deps: installing $2 ($1)" >&2
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

need ogrinfo gdal-bin
need cbc coinor-cbc
ogrinfo --version >&2
