#!/usr/bin/env bash
# test-deps.sh installs the tools the tests drive as real clients; `make test` runs it.
# GDAL's ogrinfo (Debian gdal-bin) reads /ogc with the OAPIF driver: TestOGCWithOgrinfo
# fails without it when CI=true, and skips otherwise.
set -euo pipefail

if ! command -v ogrinfo >/dev/null 2>&1; then
	echo "test-deps: installing gdal-bin (ogrinfo) for the OGC API Features tests" >&2
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends gdal-bin >/dev/null
fi
ogrinfo --version >&2

# CBC (Debian coinor-cbc) solves small siting instances exactly: TestMCLPAgainstCBC compares
# the heuristic with its optimum, fails without it when CI=true, and skips otherwise.
if ! command -v cbc >/dev/null 2>&1; then
	echo "test-deps: installing coinor-cbc for the siting tests" >&2
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends coinor-cbc >/dev/null
fi
