// Command clientbench measures the Go client package's durable emits per
// second on one connection, pipelined, against a running sealer: the
// figure BENCHMARKS.md sets beside the Rust client's
// (clients/rust/examples/bench.rs), which sends the same events the same
// way.
//
//	clientbench --socket PATH [--events 100000] [--window 256]
//
// The client shares one connection among its callers, so --window
// goroutines each calling EmitDurable keep up to --window durable emits in
// flight on it. Each event is a vram.sealed of 230-odd bytes whose
// timestamp is its emit time.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/audit-sealer/audit-sealer/client"
)

func main() {
	socket := flag.String("socket", client.DefaultSocketPath, "the sealer's socket")
	events := flag.Int("events", 100000, "durable emits to send")
	window := flag.Int("window", 256, "durable emits in flight")
	flag.Parse()
	if err := run(*socket, *events, *window); err != nil {
		fmt.Fprintln(os.Stderr, "clientbench:", err)
		os.Exit(1)
	}
}

func run(socket string, events, window int) error {
	if events < 1 || window < 1 {
		return fmt.Errorf("clientbench: --events and --window must be at least 1")
	}
	c, err := client.New(socket, client.Options{})
	if err != nil {
		return err
	}
	ctx := context.Background()
	// One durable emit first, so that the connection is up before timing.
	if _, err := c.EmitDurable(ctx, client.VRAMSealed("shard-warmup", 0, 1<<30, strings.Repeat("ab", 32), "worker-bench")); err != nil {
		return fmt.Errorf("clientbench: warm-up: %w", err)
	}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr atomic.Pointer[error]
		lastSeq  atomic.Uint64
	)
	digest := strings.Repeat("0123456789abcdef", 4)
	start := time.Now()
	for range window {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(events) {
					return
				}
				r, err := c.EmitDurable(ctx, client.VRAMSealed(fmt.Sprintf("shard-%d", i), 1, 8<<30, digest, "worker-bench"))
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				for {
					s := lastSeq.Load()
					if r.Seq <= s || lastSeq.CompareAndSwap(s, r.Seq) {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if p := firstErr.Load(); p != nil {
		return fmt.Errorf("clientbench: %w", *p)
	}
	if err := c.Close(ctx); err != nil {
		return fmt.Errorf("clientbench: close: %w", err)
	}
	fmt.Printf("go client: %d durable emits in %.3f s: %.0f/s (one connection, window %d, last seq %d)\n",
		events, took.Seconds(), float64(events)/took.Seconds(), window, lastSeq.Load())
	return nil
}
