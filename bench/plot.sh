#!/bin/sh
# SPDX-License-Identifier: MIT
# The plots: bench/plots/NAME.gp -> RESULTS/NAME.png, copied to DOCS (the
# report embeds those). A plot whose data is missing is skipped.
#   plot.sh RESULTS DOCS
set -eu
res=$(cd "$1" && pwd)
docs=$2
here=$(cd "$(dirname "$0")/plots" && pwd)
mkdir -p "$docs"
plot() { # name data-file
	if [ ! -f "$res/$2" ]; then
		echo "bench: no $2: plot $1 skipped"
		return 0
	fi
	(cd "$here" && gnuplot -e "res='$res'; out='$res/$1.png'" "$1.gp")
	cp "$res/$1.png" "$docs/$1.png"
}
plot startup-total plot-startup-lazy.dat
plot startup-rss plot-startup-lazy.dat
plot lookup plot-open.dat
plot memory plot-memory.dat
plot vmrun plot-vmrun.dat
