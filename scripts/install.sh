#!/bin/sh
# SPDX-License-Identifier: MIT
# install.sh BUILD PREFIX [DESTDIR] - what `make install` runs: installs the
# build configured in BUILD under PREFIX, staged under DESTDIR when given,
# without changing BUILD's configuration. When BUILD was configured for
# another prefix, the install is built in BUILD-prefix/ (configured for
# PREFIX, reconfigured only when PREFIX changes), since paths of the
# installed files (the .pc file's, the tool's) depend on the prefix.
set -eu
build=$1
prefix=$(realpath -m "$2")
destdir=${3:-}
[ -n "$destdir" ] && destdir=$(realpath -m "$destdir")

configured_prefix() {
	meson introspect --buildoptions "$1" |
		python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))'
}

dir=$build
if [ "$(configured_prefix "$build")" != "$prefix" ]; then
	dir=$build-prefix
	if [ ! -f "$dir/build.ninja" ]; then
		# shellcheck disable=SC2086
		meson setup ${MESON_OPTS:-} --prefix="$prefix" "$dir"
	elif [ "$(configured_prefix "$dir")" != "$prefix" ]; then
		meson configure "$dir" -Dprefix="$prefix"
	fi
	ninja -C "$dir"
fi
if [ -n "$destdir" ]; then
	meson install -C "$dir" --no-rebuild --destdir "$destdir"
else
	meson install -C "$dir" --no-rebuild
fi
