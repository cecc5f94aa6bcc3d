#!/bin/sh
# SPDX-License-Identifier: MIT
# What the benchmark needs beyond the build's own dependencies (scripts/deps.sh):
# gnuplot for the plots. As root it installs it; otherwise it prints the command.
set -eu
command -v gnuplot >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "Installing: gnuplot-nox"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends gnuplot-nox ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends gnuplot-nox; }
else
	echo "Missing package. Install it with:" >&2
	echo "  sudo apt-get install -y gnuplot-nox" >&2
	exit 1
fi
