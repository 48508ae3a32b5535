// etcd_load: a closed-loop put load generator for an etcd 3.4 cluster, used as
// a peer figure for skiff's benchmarks (issue 9). It is built by
// scripts/bench-peers in GOPATH mode against Debian's golang-etcd-server-dev
// (the clientv3 package of etcd 3.4), so nothing is fetched from outside.
//
// Model: -clients goroutines, each doing Put after Put (one outstanding
// request each, so -clients requests are in flight), all to the leader's
// client URL (found with the maintenance Status call) unless -target all.
// The goroutines share -conns clientv3 clients (one gRPC connection each;
// goroutine i uses connection i mod conns), the way etcd's own benchmark
// tool shares a few connections among many clients. Keys are
// "bench/<client>/<n mod 1024>", values -size bytes. After -warmup seconds
// that are not counted, every put that completes inside the next -seconds is
// counted and its latency (from the call to its answer, µs) recorded. At the
// end one CSV line goes to stdout:
//
//	system,config,nodes,concurrency,size,ops,seconds,ops_per_s,p50_us,p90_us,p99_us,p999_us,max_us
//
// Progress goes to stderr once a second. Every request has a timeout and the
// whole run a deadline, so it always ends.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "etcd_load: "+format+"\n", args...)
	os.Exit(1)
}

// leader returns the client URL of the member that currently leads.
func leader(endpoints []string) (string, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return "", err
	}
	defer cli.Close()
	for _, ep := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := cli.Status(ctx, ep)
		cancel()
		if err != nil {
			continue
		}
		if st.Header.MemberId == st.Leader {
			return ep, nil
		}
	}
	return "", fmt.Errorf("no endpoint reports itself as leader")
}

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []uint32, p float64) uint32 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

func main() {
	endpointsFlag := flag.String("endpoints", "127.0.0.1:2379", "comma-separated client URLs of the members")
	target := flag.String("target", "leader", "send puts to the leader or to all endpoints (leader|all)")
	clients := flag.Int("clients", 1, "concurrent closed-loop clients (requests in flight)")
	conns := flag.Int("conns", 0, "gRPC connections shared by the clients (0: min(clients, 16))")
	size := flag.Int("size", 100, "value size in bytes")
	seconds := flag.Float64("seconds", 10, "measured duration")
	warmup := flag.Float64("warmup", 2, "warm-up not counted")
	config := flag.String("config", "3.4 durable", "config column of the CSV line")
	nodes := flag.Int("nodes", 3, "nodes column of the CSV line")
	flag.Parse()

	endpoints := strings.Split(*endpointsFlag, ",")
	if *clients < 1 || *size < 1 || *seconds <= 0 {
		fail("bad -clients, -size or -seconds")
	}
	if *conns <= 0 {
		*conns = *clients
		if *conns > 16 {
			*conns = 16
		}
	}
	use := endpoints
	if *target == "leader" {
		ep, err := leader(endpoints)
		if err != nil {
			fail("finding the leader: %v", err)
		}
		use = []string{ep}
	} else if *target != "all" {
		fail("-target must be leader or all")
	}

	clis := make([]*clientv3.Client, *conns)
	for i := range clis {
		cli, err := clientv3.New(clientv3.Config{Endpoints: use, DialTimeout: 5 * time.Second})
		if err != nil {
			fail("connecting: %v", err)
		}
		defer cli.Close()
		clis[i] = cli
	}

	value := strings.Repeat("v", *size)
	start := time.Now()
	measureFrom := start.Add(time.Duration(*warmup * float64(time.Second)))
	measureTo := measureFrom.Add(time.Duration(*seconds * float64(time.Second)))

	var completed, errors int64
	lat := make([][]uint32, *clients)
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cli := clis[c%len(clis)]
			mine := make([]uint32, 0, 1<<12)
			for n := 0; ; n++ {
				t0 := time.Now()
				if !t0.Before(measureTo) {
					break
				}
				key := fmt.Sprintf("bench/%d/%d", c, n%1024)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := cli.Put(ctx, key, value)
				cancel()
				t1 := time.Now()
				if err != nil {
					if atomic.AddInt64(&errors, 1) <= 5 {
						fmt.Fprintf(os.Stderr, "etcd_load: put: %v\n", err)
					}
					continue
				}
				atomic.AddInt64(&completed, 1)
				if !t1.Before(measureFrom) && t1.Before(measureTo) {
					us := t1.Sub(t0).Microseconds()
					if us > math.MaxUint32 {
						us = math.MaxUint32
					}
					mine = append(mine, uint32(us))
				}
			}
			lat[c] = mine
		}(c)
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.After(time.Until(measureTo) + 15*time.Second)
	last, lastT := int64(0), start
loop:
	for {
		select {
		case <-done:
			break loop
		case now := <-tick.C:
			n := atomic.LoadInt64(&completed)
			phase, t := "warm-up", 0.0
			if !lastT.Before(measureFrom) {
				phase, t = "measure", now.Sub(measureFrom).Seconds()
			}
			fmt.Fprintf(os.Stderr, "  etcd  c=%-3d %-7s t=%4.1fs %8.0f ops/s\n",
				*clients, phase, t, float64(n-last)/now.Sub(lastT).Seconds())
			last, lastT = n, now
		case <-deadline:
			fail("puts still outstanding 15 s after the end of the run")
		}
	}

	var all []uint32
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	var max uint32
	if len(all) > 0 {
		max = all[len(all)-1]
	}
	fmt.Printf("etcd,%s,%d,%d,%d,%d,%.1f,%.0f,%d,%d,%d,%d,%d\n",
		*config, *nodes, *clients, *size, len(all), *seconds, float64(len(all))/(*seconds),
		percentile(all, 50), percentile(all, 90), percentile(all, 99), percentile(all, 99.9), max)
	if errors != 0 {
		fail("%d puts failed", errors)
	}
}
