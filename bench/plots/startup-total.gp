# SPDX-License-Identifier: MIT
# Total time (spawn to exit) of the synthetic host against N, one line per mode.
load "common.gp"
# Each mode a little aside, so that the bars do not hide one another.
set title "Start-up of a host with N available modules: spawn to exit\n{/*0.8 median of the runs, bars p25-p75; each module has a library of its own}"
set xlabel "N, modules available (each with its own shared library)"
set ylabel "time from spawn to exit (ms, log scale)"
set logscale y
set format y "%g"
set xrange [-0.3:3.3]
set xtics ("0" 0, "10" 1, "100" 2, "1000" 3)
plot res."/plot-startup-eager.dat" u ($1-0.075):3:4:5 w yerrorlines ls 1 t "eager link (all DT\\_NEEDED, all initialised)", \
     res."/plot-startup-dlopen-all.dat" u ($1-0.025):3:4:5 w yerrorlines ls 2 t "dlopen-all (every module at start)", \
     res."/plot-startup-builtin.dat" u ($1+0.025):3:4:5 w yerrorlines ls 4 t "built-in (compiled in, init on first use)", \
     res."/plot-startup-lazy.dat" u ($1+0.075):3:4:5 w yerrorlines ls 3 t "lazy (lazymod context over the index)"
