# SPDX-License-Identifier: MIT
# vmrun: guest instructions per second of each accelerator on each target.
load "common.gp"
set title "vmrun on the guest loop {/*0.8 (median of the runs)}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel "million guest instructions per second"
set yrange [0:*]
set key top left
plot res."/plot-vmrun.dat" u 2:xtic(1) ls 5 lc rgb "#1f77b4" t "interp", \
     "" u 3 ls 6 lc rgb "#ff7f0e" t "fast"
