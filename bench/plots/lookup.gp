# SPDX-License-Identifier: MIT
# Opening a context against the index's size, and probing against the rules.
load "common.gp"
set terminal pngcairo size 1000,480 enhanced font "DejaVu Sans,11" linewidth 1.5
set output out
set multiplot layout 1,2 title "Scaling of the lookups {/*0.8 (median, bars p25-p75)}"
set logscale xy
set format x "%g"
set format y "%g"
set xrange [5:20000]
set key top left
set title "Opening a context"
set xlabel "modules in the index"
set ylabel "time (us)"
set yrange [1:1000]
set key bottom right
plot res."/plot-open.dat" u 1:2:3:4 w yerrorlines ls 3 t "in a running process (CPU time)", \
     res."/plot-open-cold.dat" u 1:2:3:4 w yerrorlines ls 5 t "first of a new process (wall time)"
set title "Probing a head and a tail of bytes"
set xlabel "declarative rules (none matching until the last)"
set xrange [5:2000]
set yrange [*:*]
set key top left
set ylabel "CPU time (us)"
plot res."/plot-probe.dat" u 1:2:3:4 w yerrorlines ls 6 t "lm\\_probe, loading nothing (CPU time)"
unset multiplot
