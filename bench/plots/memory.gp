# SPDX-License-Identifier: MIT
# PSS of the index per process, 16 processes at once: mapped against read.
load "common.gp"
stats res."/plot-memory-ref.dat" u 2 nooutput name "REF"
stats res."/plot-memory-ref.dat" u 3 nooutput name "NPROC"
stats res."/plot-memory-ref.dat" u 4 nooutput name "MODS"
set title sprintf("Memory of an index of %d modules, per process, %d processes at once\n{/*0.8 Pss of the index's mapping from /proc/PID/smaps, median of the rounds, bars p25-p75}", MODS_max, NPROC_max)
set ylabel "PSS per process (KiB, log scale)"
set logscale y
set format y "%g"
set xrange [-0.6:1.6]
set yrange [REF_min/3:*]
set style fill solid 0.6 border -1
set boxwidth 0.5
set xtics ("mapped by lazymod" 0, "read into malloc'ed memory" 1)
set key top right
plot res."/plot-memory.dat" u 1:3 w boxes lc rgb "#1f77b4" notitle, \
     res."/plot-memory.dat" u 1:3:4:5 w yerrorbars lc rgb "black" pt 7 ps 0.3 notitle, \
     res."/plot-memory.dat" u 1:3:(sprintf("%.0f KiB", $3)) w labels offset 0,1 notitle, \
     REF_min w lines dt 2 lc rgb "#d62728" t sprintf("index size / %d = %.0f KiB", NPROC_max, REF_min)
