# SPDX-License-Identifier: MIT
# Shared look of the benchmark's plots. The caller sets `res` (the results
# directory) and `out` (the PNG).
set terminal pngcairo size 900,560 enhanced font "DejaVu Sans,11" linewidth 1.5
set output out
set grid ytics mytics lc rgb "#dddddd"
set border 3
set tics nomirror
set key top left box opaque
set style line 1 lc rgb "#d62728" pt 7 ps 1.2   # eager
set style line 2 lc rgb "#ff7f0e" pt 5 ps 1.2   # dlopen-all
set style line 3 lc rgb "#1f77b4" pt 9 ps 1.4   # lazy
set style line 4 lc rgb "#2ca02c" pt 11 ps 1.4  # builtin
set style line 5 lc rgb "#555555" pt 13 ps 1.2
set style line 6 lc rgb "#9467bd" pt 7 ps 1.2
