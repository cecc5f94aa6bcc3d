#!/bin/sh
# SPDX-License-Identifier: MIT
# What the benchmark needs beyond the build's own dependencies (scripts/deps.sh):
#   gnuplot-nox                 the plots (required)
#   qemu-utils, qemu-block-extra  qemu-img, and its curl block driver (sections 50, 60)
#   nginx-light                 the http server of section 60
#   gstreamer1.0-plugins-base, gstreamer1.0-plugins-good, libgstreamer1.0-dev,
#   pkg-config                  the GStreamer peer (section 70)
# As root (with apt-get) it installs what is missing; otherwise it prints the
# command. Without gnuplot it fails; without the others the sections that need
# them are skipped (the report says "not measured").
set -eu
need=
have_pkg() { dpkg -s "$1" >/dev/null 2>&1; }
command -v gnuplot >/dev/null 2>&1 || need="$need gnuplot-nox"
optional=
if command -v dpkg >/dev/null 2>&1; then
	for p in qemu-utils qemu-block-extra nginx-light gstreamer1.0-plugins-base \
		gstreamer1.0-plugins-good libgstreamer1.0-dev pkg-config; do
		have_pkg "$p" || optional="$optional $p"
	done
	# Any nginx will do.
	case $optional in *nginx-light*) command -v nginx >/dev/null 2>&1 &&
		optional=$(echo "$optional" | sed 's/ nginx-light//') ;; esac
fi
all="$need$optional"
[ -z "$all" ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "Installing:$all"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	if ! apt-get install -y -qq --no-install-recommends $all; then
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $all || {
			[ -n "$need" ] && exit 1
			echo "bench: could not install$optional: the sections needing them are skipped" >&2
		}
	fi
else
	echo "Missing packages. Install them with:" >&2
	echo "  sudo apt-get install -y$all" >&2
	[ -z "$need" ] || exit 1
fi
exit 0
