set terminal pngcairo size 900,560 noenhanced
set output 'bench/results/throughput.png'
set title 'Commits per second against concurrency (3 nodes, 100 B, loopback, same run)'
set logscale x 2; set logscale y; set xlabel 'proposals in flight'; set ylabel 'ops/s'
set key left top box opaque
set grid
plot 'bench/results/tput-canonical-raft-0.15_uv_durable.dat' using 1:2 with linespoints title 'canonical-raft-0.15 uv durable', 'bench/results/tput-canonical-raft-0.15_uv_durable_snapshot_10000.dat' using 1:2 with linespoints title 'canonical-raft-0.15 uv durable snapshot 10000', 'bench/results/tput-etcd-3.4_durable.dat' using 1:2 with linespoints title 'etcd-3.4 durable', 'bench/results/tput-skiff-LMDB_durable.dat' using 1:2 with linespoints title 'skiff-LMDB durable', 'bench/results/tput-skiff-WAL_durable.dat' using 1:2 with linespoints title 'skiff-WAL durable', 'bench/results/tput-skiff-in-memory_log.dat' using 1:2 with linespoints title 'skiff-in-memory log'
