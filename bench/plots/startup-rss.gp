# SPDX-License-Identifier: MIT
# Peak RSS of the synthetic host against N, one line per mode.
load "common.gp"
# Each mode a little aside, so that the bars do not hide one another.
set title "Peak RSS of a host with N available modules\n{/*0.8 wait4's ru\\_maxrss, median of the runs, bars p25-p75}"
set xlabel "N, modules available (each with its own shared library)"
set ylabel "peak RSS (MiB, log scale)"
set logscale y
set format y "%g"
set xrange [-0.3:3.3]
set xtics ("0" 0, "10" 1, "100" 2, "1000" 3)
plot res."/plot-startup-eager.dat" u ($1-0.075):9:10:11 w yerrorlines ls 1 t "eager link", \
     res."/plot-startup-dlopen-all.dat" u ($1-0.025):9:10:11 w yerrorlines ls 2 t "dlopen-all", \
     res."/plot-startup-builtin.dat" u ($1+0.025):9:10:11 w yerrorlines ls 4 t "built-in", \
     res."/plot-startup-lazy.dat" u ($1+0.075):9:10:11 w yerrorlines ls 3 t "lazy"
