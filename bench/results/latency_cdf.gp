set terminal pngcairo size 900,560 noenhanced
set output 'bench/results/latency_cdf.png'
set title 'skiff commit latency CDF (3 nodes, durable, 100 B, loopback)'
set logscale x; set xlabel 'latency (us)'; set ylabel 'percentile'; set key left top
set grid
plot 'bench/results/cdf/LMDB_durable-n3-c1-s100.dat' using 2:1 with lines title 'LMDB C=1', 'bench/results/cdf/LMDB_durable-n3-c16-s100.dat' using 2:1 with lines title 'LMDB C=16', 'bench/results/cdf/LMDB_durable-n3-c64-s100.dat' using 2:1 with lines title 'LMDB C=64', 'bench/results/cdf/LMDB_durable-n3-c256-s100.dat' using 2:1 with lines title 'LMDB C=256', 'bench/results/cdf/WAL_durable-n3-c1-s100.dat' using 2:1 with lines title 'WAL C=1', 'bench/results/cdf/WAL_durable-n3-c16-s100.dat' using 2:1 with lines title 'WAL C=16', 'bench/results/cdf/WAL_durable-n3-c64-s100.dat' using 2:1 with lines title 'WAL C=64', 'bench/results/cdf/WAL_durable-n3-c256-s100.dat' using 2:1 with lines title 'WAL C=256'
