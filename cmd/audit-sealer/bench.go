package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// benchTemplates is the event mix the benchmark sends, each about 500 bytes
// once encoded. %s is the timestamp, %d a counter.
var benchTemplates = []string{
	`{"type":"data.inference_executed","timestamp":"%s","customer_id":"customer-%08d","job_id":"job-0000000000000000000001","model_ref":"hf:meta-llama/Meta-Llama-3.1-70B-Instruct@8c22764a7e3675c50d4c7c9a4edb4744-q4_k_m-00001-of-00008","tokens_processed":4096,"provider_id":"provider-eu-west-gpu-pool-00017-node-0042","result":{"status":"partial_success","details":"completed with truncated output after max_tokens was reached; the streaming client disconnected before the final chunk arrived"}}`,
	`{"type":"authz.denied","timestamp":"%s","actor":{"user_id":"customer-%08d@tenants.example.com","ip":"2001:db8:85a3::8a2e:370:7334","auth_method":"api_key","session_id":"sess-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c"},"resource":{"resource_type":"pool","resource_id":"pool-llama-3-70b-instruct-eu-west-production-0007","parent_id":"node-gpu-eu-west-0042"},"action":"delete","reason":"insufficient_permissions: the api key is scoped to read:pools and write:tasks but delete on pools requires admin:pools"}`,
	`{"type":"vram.sealed","timestamp":"%s","shard_id":"shard-%08d-llama-3-70b-instruct-layer-block-0000-0019-of-0080-tp-rank-00","gpu_device":3,"vram_bytes":17179869184,"digest":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae","worker_id":"worker-gpu-eu-west-0042-device-03-process-000000001234-generation-0000000000000007-instance-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"}`,
	`{"type":"task.submitted","timestamp":"%s","actor":{"user_id":"customer-%08d","ip":"203.0.113.77","auth_method":"bearer_token","session_id":"sess-2c26b46b68ffc68ff99b453c1d304134"},"task_id":"task-0000000000000000000000000000000000000000000000000001","model_ref":"hf:mistralai/Mixtral-8x22B-Instruct-v0.1@main-q5_k_m-00001-of-00004","prompt_length":18432,"prompt_hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","max_tokens":4096}`,
}

type benchResult struct {
	Mode               string  `json:"mode"`
	Clients            int     `json:"clients"`
	Events             int     `json:"events"`
	Durable            bool    `json:"durable"`
	RateTarget         int     `json:"rate_target"`
	Window             int     `json:"window"`
	SegmentSize        int64   `json:"segment_size"`
	SealRecords        int     `json:"seal_records"`
	SealInterval       string  `json:"seal_interval"`
	EventBytes         int     `json:"event_bytes_mean"`
	IngestEventsPerSec float64 `json:"ingest_events_per_sec"`
	AckP50ms           float64 `json:"ack_latency_p50_ms"`
	AckP99ms           float64 `json:"ack_latency_p99_ms"`
	AckP999ms          float64 `json:"ack_latency_p999_ms"`
	Refused            int     `json:"refused"`
	Checkpoints        int     `json:"checkpoints"`
	VerifyVerdict      string  `json:"verify_verdict"`
	VerifyEventsPerSec float64 `json:"verify_events_per_sec_allcores"`
	VerifyMiBPerSec    float64 `json:"verify_mib_per_sec"`
}

func benchCommand() *cobra.Command {
	var clients, events, rate, sealRecords int
	var durable, asJSON bool
	var segmentSize int64
	var sealInterval time.Duration
	var cpuProfile string
	var window int
	cmd := &cobra.Command{
		Use:   "bench --clients K --events N [--durable] [--json]",
		Short: "Run a sealer on a temporary directory, drive it over the socket, verify the result",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			root, err := os.MkdirTemp("", "audit-sealer-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(root)
			cfg := config.Defaults()
			cfg.Dev = true
			cfg.DataDir = filepath.Join(root, "data")
			cfg.Socket = filepath.Join(root, "audit.sock")
			cfg.SegmentSize = segmentSize
			cfg.Seal.Records = sealRecords
			cfg.Seal.Interval.Duration = sealInterval
			cfg.Log.Level = "warn"
			s, err := devSigner(cfg, true)
			if err != nil {
				return err
			}
			sl, err := sealer.New(cfg, s, hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr}))
			if err != nil {
				return err
			}
			ctx, stop := context.WithCancel(context.Background())
			runErr := make(chan error, 1)
			go func() { runErr <- sl.Run(ctx) }()
			if err := waitForSocket(cfg.Socket, 10*time.Second); err != nil {
				stop()
				return err
			}
			res := benchResult{Mode: "dev", Clients: clients, Events: events, Durable: durable, RateTarget: rate,
				Window: window, SegmentSize: segmentSize, SealRecords: sealRecords, SealInterval: sealInterval.String()}
			lat, refused, elapsed, meanBytes, err := drive(cfg.Socket, clients, events, durable, rate, window)
			stop()
			if rerr := <-runErr; err == nil {
				err = rerr
			}
			if err != nil {
				return err
			}
			res.EventBytes, res.Refused = meanBytes, refused
			res.IngestEventsPerSec = float64(events-refused) / elapsed.Seconds()
			res.AckP50ms, res.AckP99ms, res.AckP999ms = pct(lat, 0.50), pct(lat, 0.99), pct(lat, 0.999)
			rep, err := verify.Dir(context.Background(), cfg.DataDir, verify.Options{Keys: signer.Verifiers{s.Public()}})
			if err != nil {
				return err
			}
			res.VerifyVerdict, res.Checkpoints = string(rep.Verdict), rep.Checkpoints
			res.VerifyEventsPerSec = float64(rep.Records) / rep.Seconds
			res.VerifyMiBPerSec = float64(rep.Bytes) / (1 << 20) / rep.Seconds
			if asJSON {
				b, _ := json.MarshalIndent(res, "", "  ")
				fmt.Println(string(b))
			} else {
				fmt.Printf("%d events (%d B mean) from %d clients, durable=%v: %.0f events/s\n", events, res.EventBytes, clients, durable, res.IngestEventsPerSec)
				fmt.Printf("ack latency: p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms; refused %d\n", res.AckP50ms, res.AckP99ms, res.AckP999ms, refused)
				fmt.Printf("verify: %s, %d checkpoints, %.0f events/s, %.1f MiB/s\n", rep.Verdict, rep.Checkpoints, res.VerifyEventsPerSec, res.VerifyMiBPerSec)
			}
			if rep.Verdict != verify.Intact {
				return fmt.Errorf("the benchmark's log does not verify: %v", rep.FirstFailure)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&clients, "clients", 8, "concurrent client connections")
	cmd.Flags().IntVar(&events, "events", 100000, "events to send in all")
	cmd.Flags().BoolVar(&durable, "durable", false, "ask for durable acks (each ack after fsync)")
	cmd.Flags().IntVar(&rate, "rate", 0, "target events/s over all clients (0 = as fast as possible)")
	cmd.Flags().Int64Var(&segmentSize, "segment-size", 100*1000*1000, "segment size")
	cmd.Flags().IntVar(&sealRecords, "seal-records", 100, "seal once this many records are unsealed")
	cmd.Flags().DurationVar(&sealInterval, "seal-interval", time.Second, "seal at least this often")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	cmd.Flags().IntVar(&window, "window", 256, "requests each client keeps in flight (pipelining depth)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run (sealer and clients) to this file")
	return cmd
}

func waitForSocket(path string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if rc, err := dialSealer(path); err == nil {
			rc.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the sealer did not open %s", path)
}

// drive sends events from clients connections, each keeping up to window
// requests in flight, and returns every ack latency.
func drive(socket string, clients, events int, durable bool, rate, window int) ([]time.Duration, int, time.Duration, int, error) {
	var mu sync.Mutex
	var all []time.Duration
	refused, totalBytes := 0, 0
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := time.Now()
	for c := 0; c < clients; c++ {
		n := events / clients
		if c < events%clients {
			n++
		}
		wg.Add(1)
		go func(c, n int) {
			defer wg.Done()
			lat, bad, bytes, err := driveOne(socket, c, n, durable, rate/max(clients, 1), window)
			mu.Lock()
			all = append(all, lat...)
			refused += bad
			totalBytes += bytes
			mu.Unlock()
			if err != nil {
				errs <- err
			}
		}(c, n)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		return nil, 0, 0, 0, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return all, refused, elapsed, totalBytes / max(events, 1), nil
}

func driveOne(socket string, client, n int, durable bool, rate, window int) ([]time.Duration, int, int, error) {
	rc, err := dialSealer(socket)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rc.Close()
	inflight := make(chan time.Time, window)
	var sendErr error
	bytes := 0
	go func() {
		defer close(inflight)
		var interval time.Duration
		if rate > 0 {
			interval = time.Second / time.Duration(rate)
		}
		next := time.Now()
		for i := 0; i < n; i++ {
			if interval > 0 {
				if d := time.Until(next); d > 0 {
					rc.flush()
					time.Sleep(d)
				}
				next = next.Add(interval)
			}
			ev := fmt.Sprintf(benchTemplates[i%len(benchTemplates)], time.Now().UTC().Format(time.RFC3339Nano), client*10_000_000+i)
			bytes += len(ev)
			// Built by hand: the benchmark's own JSON encoding must not
			// compete with the sealer for the CPU.
			prefix := `{"op":"emit","event":`
			if durable {
				prefix = `{"op":"emit","durable":true,"event":`
			}
			rc.w.WriteString(prefix)
			rc.w.WriteString(ev)
			if err := rc.w.WriteByte('}'); err == nil {
				err = rc.w.WriteByte('\n')
			}
			t := time.Now()
			if len(inflight) == 0 || interval > 0 {
				rc.flush()
			}
			select {
			case inflight <- t:
			default:
				rc.flush()
				inflight <- t
			}
		}
		rc.flush()
	}()
	lat := make([]time.Duration, 0, n)
	bad := 0
	for t := range inflight {
		line, err := rc.r.ReadSlice('\n')
		if err != nil {
			return nil, 0, 0, err
		}
		if !strings.Contains(string(line), `"ok":true`) {
			bad++
			if bad == 1 {
				fmt.Fprintf(os.Stderr, "audit-sealer bench: refused: %s", line)
			}
			continue
		}
		lat = append(lat, time.Since(t))
	}
	return lat, bad, bytes, sendErr
}

func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i].Microseconds()) / 1000
}
