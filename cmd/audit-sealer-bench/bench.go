package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
	"github.com/audit-sealer/audit-sealer/verify"
)

// benchResult is the one JSON document of `bench --json`. Durations are in
// milliseconds, rates per second, memory in MiB (2^20 bytes).
type benchResult struct {
	// Parameters.
	Mode             string `json:"mode"`
	Algorithm        string `json:"algorithm"`
	Clients          int    `json:"clients"`
	Events           int    `json:"events"`
	Durable          bool   `json:"durable"`
	Window           int    `json:"window"`
	RateTarget       int    `json:"rate_target"`
	SegmentSize      int64  `json:"segment_size"`
	SealRecords      int    `json:"seal_records"`
	SealInterval     string `json:"seal_interval"`
	CriticalPermille int    `json:"critical_permille"`
	// Witnesses is --witnesses; WitnessedSize the size each had cosigned
	// when the load ended.
	Witnesses       int      `json:"witnesses,omitempty"`
	WitnessedSize   []uint64 `json:"witnessed_size,omitempty"`
	EventTypes      int      `json:"event_types"`
	EventBytesMean  int      `json:"event_bytes_mean"`
	RecordBytesMean int      `json:"record_bytes_mean"`
	DataDir         string   `json:"data_dir"`

	// Ingest, as the clients saw it.
	IngestEventsPerSec float64        `json:"ingest_events_per_sec"`
	IngestSeconds      float64        `json:"ingest_seconds"`
	SealedEventsPerSec float64        `json:"sealed_events_per_sec"` // until each client's final flush: all durable and sealed
	AckP50ms           float64        `json:"ack_latency_p50_ms"`
	AckP90ms           float64        `json:"ack_latency_p90_ms"`
	AckP99ms           float64        `json:"ack_latency_p99_ms"`
	AckP999ms          float64        `json:"ack_latency_p999_ms"`
	AckMaxms           float64        `json:"ack_latency_max_ms"`
	AckCriticalP99ms   float64        `json:"ack_latency_critical_p99_ms"`
	AckPlainP99ms      float64        `json:"ack_latency_noncritical_p99_ms"`
	Refused            int            `json:"refused"`
	RefusedByCode      map[string]int `json:"refused_by_code"`

	// Sealing, from the log.
	SealLagP50ms       float64 `json:"seal_lag_p50_ms"`
	SealLagP99ms       float64 `json:"seal_lag_p99_ms"`
	SealLagMaxms       float64 `json:"seal_lag_max_ms"`
	SendToSealP99ms    float64 `json:"send_to_seal_p99_ms"`
	Checkpoints        int     `json:"checkpoints"`
	CriticalEvents     int     `json:"critical_events"`
	Anchors            int     `json:"anchors"`
	LogEvents          int     `json:"log_events"`
	CheckpointsPerSec  float64 `json:"checkpoints_per_sec"`
	FsyncsPerSec       float64 `json:"fsyncs_per_sec"`
	Fsyncs             int     `json:"fsyncs"`          // group commits, one fdatasync each (the anchored seals' own are not counted)
	FsyncMeanms        float64 `json:"fsync_mean_ms"`   // group commit: commit record, write and fdatasync
	FsyncP99ms         float64 `json:"fsync_p99_le_ms"` // upper bound of the histogram bucket
	SealMeanms         float64 `json:"seal_mean_ms"`    // the log key's signature (off the ack path), or a whole anchored seal
	SealP99ms          float64 `json:"seal_p99_le_ms"`
	FsyncMaxms         float64 `json:"fsync_max_le_ms"`
	SealMaxms          float64 `json:"seal_max_le_ms"`
	BatchRecordsMean   float64 `json:"batch_records_mean"`
	Shed               int     `json:"shed"`
	SealerExitStatus   int     `json:"sealer_exit_status"`
	SealerRSSPeakMiB   float64 `json:"sealer_rss_peak_mib"`
	SealerVmHWMMiB     float64 `json:"sealer_vmhwm_mib"`
	SealerMaxRSSMiB    float64 `json:"sealer_maxrss_mib"` // getrusage at exit: the whole life, shutdown included
	RSSSamples         int     `json:"rss_samples"`
	HeapInusePeakMiB   float64 `json:"sealer_heap_inuse_peak_mib"` // go_memstats_heap_inuse_bytes, sampled every 250 ms
	QueueDepthPeak     int     `json:"queue_depth_peak"`           // events accepted, not yet written (sampled)
	QueueBytesPeakMiB  float64 `json:"queue_bytes_peak_mib"`
	SealerCPUSeconds   float64 `json:"sealer_cpu_seconds"` // during the load
	SealerCPUTotal     float64 `json:"sealer_cpu_seconds_total"`
	SealerCPUCores     float64 `json:"sealer_cpu_cores"` // sealer_cpu_seconds / ingest_seconds
	LoadgenCPUSeconds  float64 `json:"loadgen_cpu_seconds"`
	SealerGCCycles     int     `json:"sealer_gc_cycles"` // garbage collections in the sealer during the run
	SealerCPUProfile   string  `json:"sealer_cpuprofile,omitempty"`
	BenchCPUProfile    string  `json:"cpuprofile,omitempty"`
	VerifyVerdict      string  `json:"verify_verdict"`
	VerifyRecords      uint64  `json:"verify_records"`
	VerifySegments     int     `json:"verify_segments"`
	VerifyMiB          float64 `json:"verify_mib"`
	Verify1Core        float64 `json:"verify_events_per_sec_1core"`
	VerifyAllCores     float64 `json:"verify_events_per_sec_allcores"`
	VerifyMiBPerSec1   float64 `json:"verify_mib_per_sec_1core"`
	VerifyMiBPerSec    float64 `json:"verify_mib_per_sec"` // all cores
	VerifySeconds1Core float64 `json:"verify_seconds_1core"`
	VerifySecondsAll   float64 `json:"verify_seconds_allcores"`

	// Reading the log after the sealer stopped (one query or export at a
	// time, in this process): by filter name and by format. Absent with
	// --skip-query or --skip-export.
	QueryPerSec     map[string]float64        `json:"query_per_sec,omitempty"`
	ExportMiBPerSec map[string]float64        `json:"export_mib_per_sec,omitempty"`
	Query           map[string]*queryFigures  `json:"query,omitempty"`
	Export          map[string]*exportFigures `json:"export,omitempty"`

	Machine machineInfo `json:"machine"`
	Notes   []string    `json:"notes,omitempty"`
}

type machineInfo struct {
	NProc      int    `json:"nproc"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Kernel     string `json:"kernel"`
	GoVersion  string `json:"go_version"`
	CPUModel   string `json:"cpu_model"`
	// Revision is the commit this binary was built from (+dirty when the
	// tree had changes), as go build stamped it.
	Revision     string    `json:"revision"`
	LoadAvgStart []float64 `json:"loadavg_start"`
	LoadAvgEnd   []float64 `json:"loadavg_end"`
	// Pressure stall information over the load phase, for the whole
	// machine (the benchmark included): the share of time some task (some)
	// or every task (full) waited for a CPU or for I/O. Other work on the
	// machine shows here.
	PSICPUSomePct float64 `json:"psi_cpu_some_pct"`
	PSIIOSomePct  float64 `json:"psi_io_some_pct"`
	PSIIOFullPct  float64 `json:"psi_io_full_pct"`
}

// benchFlags are the benchmark's settings.
type benchFlags struct {
	mode, algorithm                string
	clients, events, rate, window  int
	sealRecords, criticalPermille  int
	durable, asJSON, keep          bool
	skipQuery, skipExport          bool
	queryRuns                      int
	segmentSize                    int64
	sealInterval, anchorInterval   time.Duration
	cpuProfile, sealerProfile, dir string
	sealer                         string
	witnesses                      int
}

const (
	modeDev        = "dev"
	modeSoftHSM    = "softhsm"
	modeSoftHSMTPM = "softhsm+swtpm"
)

func benchCommand() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "audit-sealer-bench [--sealer PATH] [--mode dev|softhsm|softhsm+swtpm] --clients K --events N [--durable] [--json]",
		Short: "Start a sealer process on a temporary directory, drive it over the socket, measure it, verify the result",
		Long: `audit-sealer-bench is the project's benchmark. It starts "audit-sealer
serve" (--sealer, default the audit-sealer beside this binary or on PATH)
as a separate process on a temporary data directory, with a dev key
(--mode dev), a throwaway SoftHSM2 token (--mode softhsm) or SoftHSM and a
software TPM (--mode softhsm+swtpm). K clients send N events of a fixed mix
of 13 types (about 500 bytes each; 1% critical by default) over the socket, each with
up to --window requests in flight, optionally paced to --rate events/s in
all. Then the sealer is stopped with SIGTERM (it must exit 0), the log is
verified with one worker and with all cores (it must be intact and hold
every accepted event), and the seal lag is read from the log. Last, the
log is read as audit-sealer query and export read it: each of seven
representative filters (user, entity, type, category, time range, critical
only, a paged query) --query-runs times, and a whole-log export in jsonl,
cef and ocsf, measuring its output rate and memory (skip with --skip-query,
--skip-export).

It prints a summary, or with --json one JSON document. It asserts no figure.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.mode, "mode", modeDev, "dev (software key), softhsm (SoftHSM2 token) or softhsm+swtpm (and a TPM anchor)")
	fl.StringVar(&f.algorithm, "algorithm", "ed25519", "signing key algorithm of the softhsm modes: ed25519 or ecdsa-p256")
	fl.IntVar(&f.clients, "clients", 8, "concurrent client connections")
	fl.IntVar(&f.events, "events", 100000, "events to send in all")
	fl.BoolVar(&f.durable, "durable", false, "ask for durable acks (each ack after fdatasync); otherwise acks on acceptance")
	fl.IntVar(&f.rate, "rate", 0, "target events/s over all clients (0 = as fast as the window allows)")
	fl.IntVar(&f.window, "window", 256, "requests each client keeps in flight (pipelining depth)")
	fl.IntVar(&f.criticalPermille, "critical-permille", 10, "critical events (auth.failure, sealed before the ack) per 1000 events")
	fl.Int64Var(&f.segmentSize, "segment-size", 100*1000*1000, "segment size of the sealer")
	fl.IntVar(&f.sealRecords, "seal-records", 100, "the sealer seals once this many records are unsealed")
	fl.DurationVar(&f.sealInterval, "seal-interval", time.Second, "the sealer seals unsealed records at least this often")
	fl.DurationVar(&f.anchorInterval, "anchor-interval", 0, "TPM anchor interval of the sealer (softhsm+swtpm; 0 = the sealer's default)")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON document")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (load generator, verifier, log reader; pprof label phase) to this file")
	fl.StringVar(&f.sealerProfile, "sealer-cpuprofile", "", "write a CPU profile of the sealer process to this file (from its /debug/pprof, which the benchmark turns on)")
	fl.StringVar(&f.sealer, "sealer", "", "the audit-sealer binary to benchmark (default: beside this binary, else on PATH)")
	fl.StringVar(&f.dir, "dir", "", "make the temporary data directory under this directory (default $TMPDIR)")
	fl.BoolVar(&f.keep, "keep", false, "keep the temporary directory (its path is printed)")
	fl.BoolVar(&f.skipQuery, "skip-query", false, "skip the query phase")
	fl.BoolVar(&f.skipExport, "skip-export", false, "skip the export phase")
	fl.IntVar(&f.queryRuns, "query-runs", 5, "runs of each filter in the query phase (the paged query: 10 times as many pages)")
	fl.IntVar(&f.witnesses, "witnesses", 0, "run this many litewitness instances (scripts/witness) and have the sealer submit its checkpoints to them (at least every second)")
	return cmd
}

func runBench(ctx context.Context, f benchFlags) (err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	switch {
	case f.mode != modeDev && f.mode != modeSoftHSM && f.mode != modeSoftHSMTPM:
		return &exitError{code: 2, err: fmt.Errorf("--mode %q: want dev, softhsm or softhsm+swtpm", f.mode)}
	case f.clients < 1 || f.events < f.clients || f.window < 1 || f.rate < 0:
		return &exitError{code: 2, err: errors.New("want --clients >= 1, --events >= --clients, --window >= 1, --rate >= 0")}
	case f.criticalPermille < 0 || f.criticalPermille > mixSlots:
		return &exitError{code: 2, err: errors.New("--critical-permille must be 0..1000")}
	case f.queryRuns < 1:
		return &exitError{code: 2, err: errors.New("--query-runs must be at least 1")}
	case f.witnesses < 0 || f.witnesses > 8:
		return &exitError{code: 2, err: errors.New("--witnesses must be 0..8")}
	}
	if _, err := signer.ParseAlgorithm(f.algorithm); err != nil {
		return &exitError{code: 2, err: err}
	}
	if sealerBinary, err = findSealer(f.sealer); err != nil {
		return &exitError{code: 2, err: err}
	}
	res := &benchResult{Mode: f.mode, Algorithm: f.algorithm, Clients: f.clients, Events: f.events, Durable: f.durable,
		Window: f.window, RateTarget: f.rate, SegmentSize: f.segmentSize, SealRecords: f.sealRecords,
		SealInterval: f.sealInterval.String(), CriticalPermille: f.criticalPermille, EventTypes: len(benchTemplates),
		Machine: machine(), SealerCPUProfile: f.sealerProfile, BenchCPUProfile: f.cpuProfile}
	if f.mode == modeDev {
		res.Algorithm = "ed25519"
	}
	// Everything the run sets up is undone at the end, or at once on
	// SIGINT or SIGTERM (then the benchmark exits 130).
	var cl cleanups
	defer cl.run()
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	go func() {
		if _, ok := <-sigc; ok {
			warnf("interrupted: stopping the sealer and cleaning up")
			cl.run()
			os.Exit(130)
		}
	}()
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			pf.Close()
			return err
		}
		cl.add(func() { pprof.StopCPUProfile(); pf.Close() })
	}
	if f.sealerProfile != "" {
		if f.sealerProfile, err = filepath.Abs(f.sealerProfile); err != nil {
			return err
		}
		res.SealerCPUProfile = f.sealerProfile
	}
	root, err := os.MkdirTemp(f.dir, "audit-sealer-bench-")
	if err != nil {
		return err
	}
	res.DataDir = root
	if f.keep {
		warnf("keeping %s", root)
	} else {
		cl.add(func() { os.RemoveAll(root) })
	}
	dataDir := filepath.Join(root, "data")

	// The mode: where the key (and the TPM) come from.
	ms := &modeSetup{}
	cl.add(ms.close)
	switch f.mode {
	case modeDev:
		ms.dev = true
	case modeSoftHSM, modeSoftHSMTPM:
		if f.mode == modeSoftHSMTPM && repoScript("swtpm/start.sh") == "" {
			return errors.New("TPM mode needs scripts/swtpm (not in this build)")
		}
		if err := setupSoftHSM(filepath.Join(root, "softhsm"), f.algorithm, ms); err != nil {
			return err
		}
		if f.mode == modeSoftHSMTPM {
			if err := setupSwtpm(filepath.Join(root, "swtpm"), ms); err != nil {
				return err
			}
			if f.anchorInterval > 0 {
				ms.env = append(ms.env, "AUDIT_SEALER_ANCHOR_INTERVAL="+f.anchorInterval.String())
			}
		}
	}
	res.Notes = append(res.Notes, ms.notes...)

	sa := sealerArgs{dataDir: dataDir, socket: filepath.Join(root, "audit.sock"), dev: ms.dev,
		segmentSize: f.segmentSize, sealRecords: f.sealRecords, sealInterval: f.sealInterval, env: ms.env,
		cpuProfile: f.sealerProfile, logPath: filepath.Join(root, "sealer.log")}
	var witnesses *benchWitnesses
	if f.witnesses > 0 {
		if witnesses, err = setupWitnesses(f.witnesses, root, dataDir, sa, ms); err != nil {
			return err
		}
		sa.config = witnesses.config
		res.Witnesses = f.witnesses
		res.Notes = append(res.Notes, ms.notes[len(ms.notes)-1])
	}
	sp, err := startSealer(sa)
	if err != nil {
		return err
	}
	cl.add(sp.kill) // after a failure or an interrupt; a no-op once stopped
	var prof *sealerProfiler
	if f.sealerProfile != "" {
		prof = startProfiler(sp.metricsAddr)
	}
	m0, err := sp.scrape()
	if err != nil {
		return err
	}
	cpu0, err := cpuSeconds(sp.pid)
	if err != nil {
		return err
	}
	self0 := selfCPU()
	psi0, t0 := readPSI(), time.Now()

	// The load.
	var lr *loadResult
	loadStart := time.Now()
	pprof.Do(ctx, pprof.Labels("phase", "load"), func(context.Context) {
		lr, err = driveLoad(loadParams{socket: filepath.Join(root, "audit.sock"), clients: f.clients, events: f.events,
			durable: f.durable, rate: f.rate, window: f.window, mix: newBenchMix(f.criticalPermille)})
	})
	if err != nil {
		return fmt.Errorf("%w\nsealer log:\n%s", err, sp.logTail())
	}
	loadEnd := time.Now()
	cpu1, err := cpuSeconds(sp.pid)
	if err != nil {
		return err
	}
	res.LoadgenCPUSeconds = selfCPU() - self0
	if psi1, span := readPSI(), time.Since(t0); psi0 != nil && psi1 != nil {
		p := func(k string) float64 { return round1(100 * float64(psi1[k]-psi0[k]) / float64(span.Microseconds())) }
		res.Machine.PSICPUSomePct, res.Machine.PSIIOSomePct, res.Machine.PSIIOFullPct = p("cpu some"), p("io some"), p("io full")
	}
	m1, err := sp.scrape()
	if err != nil {
		return err
	}
	if st, err := readProcStatus(sp.pid); err == nil {
		res.SealerVmHWMMiB = mib(st["VmHWM"])
	}
	if prof != nil {
		// The profile covers the sealer's start to the end of the load
		// (and up to one chunk after it); the stop is not in it.
		if err := prof.stop(f.sealerProfile); err != nil {
			return err
		}
	}
	// Stop: intake closes, the queue drains, the stop is recorded and sealed.
	if witnesses != nil {
		// What the witnesses cosigned by the end of the load: the lag they
		// add is not on the acknowledgement path, but it is their use.
		if m, err := sp.scrape(); err == nil {
			for _, name := range witnesses.names {
				res.WitnessedSize = append(res.WitnessedSize, uint64(m[`audit_sealer_witness_size{witness="`+name+`"}`]))
			}
		}
	}
	if err := sp.stop(sealerStopLimit); err != nil {
		return err
	}
	res.SealerExitStatus = sp.cmd.ProcessState.ExitCode()
	peak, samples := sp.peak()
	res.SealerRSSPeakMiB, res.RSSSamples = mib(peak), samples
	res.HeapInusePeakMiB = mib(int64(sp.gaugePeak("go_memstats_heap_inuse_bytes")))
	res.QueueDepthPeak = int(sp.gaugePeak("audit_sealer_queue_depth"))
	res.QueueBytesPeakMiB = mib(int64(sp.gaugePeak("audit_sealer_queue_bytes")))
	total, maxRSS := sp.rusage()
	res.SealerCPUTotal, res.SealerMaxRSSMiB = round3(total), mib(maxRSS)

	accepted := f.events - lr.refused
	res.Refused, res.RefusedByCode = lr.refused, lr.refusedBy
	res.EventBytesMean = int(lr.bytes / int64(f.events))
	res.IngestSeconds = round3(lr.ingest.Seconds())
	res.IngestEventsPerSec = round1(float64(accepted) / lr.ingest.Seconds())
	res.SealedEventsPerSec = round1(float64(accepted) / lr.sealed.Seconds())
	res.AckP50ms, res.AckP90ms, res.AckP99ms = pct(lr.lat, 0.50), pct(lr.lat, 0.90), pct(lr.lat, 0.99)
	res.AckP999ms, res.AckMaxms = pct(lr.lat, 0.999), pct(lr.lat, 1)
	res.AckCriticalP99ms = pct(lr.critLat, 0.99)
	res.AckPlainP99ms = pct(lr.plainLat, 0.99)
	res.SealerCPUSeconds = round3(cpu1 - cpu0)
	res.SealerCPUCores = round3((cpu1 - cpu0) / lr.ingest.Seconds())
	res.LoadgenCPUSeconds = round3(res.LoadgenCPUSeconds)
	d := func(name string) float64 { return m1[name] - m0[name] }
	// Seals no longer sync (the next group commit makes a checkpoint
	// durable); the group commits are the fdatasyncs.
	fsyncs := d("audit_sealer_fsync_seconds_count")
	res.Fsyncs = int(fsyncs)
	res.FsyncsPerSec = round1(fsyncs / lr.sealed.Seconds())
	res.CheckpointsPerSec = round1(d("audit_sealer_checkpoints_total") / lr.sealed.Seconds())
	if n := d("audit_sealer_fsync_seconds_count"); n > 0 {
		res.FsyncMeanms = round3(1000 * d("audit_sealer_fsync_seconds_sum") / n)
	}
	if n := d("audit_sealer_seal_seconds_count"); n > 0 {
		res.SealMeanms = round3(1000 * d("audit_sealer_seal_seconds_sum") / n)
	}
	for _, h := range []struct {
		dst    *float64
		metric string
		q      float64
	}{
		{&res.FsyncP99ms, "audit_sealer_fsync_seconds", 0.99}, {&res.SealP99ms, "audit_sealer_seal_seconds", 0.99},
		{&res.FsyncMaxms, "audit_sealer_fsync_seconds", 1}, {&res.SealMaxms, "audit_sealer_seal_seconds", 1},
	} {
		le, beyond := histQuantile(m0, m1, h.metric, h.q)
		*h.dst = round3(1000 * le)
		if beyond {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: the %v quantile is beyond the largest histogram bucket (%.1f ms); the figure is a lower bound", h.metric, h.q, 1000*le))
		}
	}
	if n := d("audit_sealer_batch_records_count"); n > 0 {
		res.BatchRecordsMean = round1(d("audit_sealer_batch_records_sum") / n)
	}
	res.Shed = int(d("audit_sealer_events_shed_total"))
	res.SealerGCCycles = int(d("go_gc_duration_seconds_count"))

	// Verification of the result, with one worker and with all cores.
	keys, err := benchKeys(dataDir, ms)
	if err != nil {
		return err
	}
	var rep1, repAll *verify.Report
	pprof.Do(ctx, pprof.Labels("phase", "verify"), func(ctx context.Context) {
		rep1, err = verify.Dir(ctx, dataDir, verify.Options{Keys: keys, Workers: 1})
		if err == nil {
			repAll, err = verify.Dir(ctx, dataDir, verify.Options{Keys: keys, Workers: 0})
		}
	})
	if err != nil {
		return err
	}
	res.VerifyVerdict, res.VerifyRecords, res.VerifySegments = string(repAll.Verdict), repAll.Records, repAll.Segments
	res.VerifyMiB = round1(mib(repAll.Bytes))
	res.Checkpoints = repAll.Checkpoints
	res.RecordBytesMean = int(repAll.Bytes / int64(max(repAll.Records, 1)))
	res.Verify1Core = round1(float64(rep1.Records) / rep1.Seconds)
	res.VerifyAllCores = round1(float64(repAll.Records) / repAll.Seconds)
	res.VerifyMiBPerSec1 = round1(mib(rep1.Bytes) / rep1.Seconds)
	res.VerifyMiBPerSec = round1(mib(repAll.Bytes) / repAll.Seconds)
	res.VerifySeconds1Core, res.VerifySecondsAll = round3(rep1.Seconds), round3(repAll.Seconds)
	if repAll.LastAnchor != nil {
		res.Anchors = repAll.LastAnchor.Anchors
	}

	var lags *sealLags
	pprof.Do(ctx, pprof.Labels("phase", "seal-lag"), func(context.Context) {
		lags, err = readSealLags(dataDir, event.IsCritical)
	})
	if err != nil {
		return err
	}
	res.SealLagP50ms, res.SealLagP99ms, res.SealLagMaxms = pct(lags.lag, 0.5), pct(lags.lag, 0.99), pct(lags.lag, 1)
	res.SendToSealP99ms = pct(lags.sendLag, 0.99)
	res.LogEvents, res.CriticalEvents = lags.events, lags.critical

	// Reading the log back: queries, then exports. The per-event latencies
	// are summarised above; dropping them keeps this process's live heap
	// small, so that the export's heap figures are the export's.
	lr.lat, lr.critLat, lr.plainLat, lags.lag, lags.sendLag = nil, nil, nil, nil, nil
	if !f.skipQuery {
		pprof.Do(ctx, pprof.Labels("phase", "query"), func(ctx context.Context) {
			res.Query, err = runQueryPhase(ctx, dataDir, verify.Trust{Keys: keys}, benchQueries(loadStart, loadEnd), f.queryRuns)
		})
		if err != nil {
			return err
		}
		res.QueryPerSec = map[string]float64{}
		for k, q := range res.Query {
			res.QueryPerSec[k] = q.QueriesPerSec
		}
	}
	if !f.skipExport {
		pprof.Do(ctx, pprof.Labels("phase", "export"), func(ctx context.Context) {
			res.Export, err = runExportPhase(ctx, dataDir, verify.Trust{Keys: keys})
		})
		if err != nil {
			return err
		}
		res.ExportMiBPerSec = map[string]float64{}
		for k, e := range res.Export {
			res.ExportMiBPerSec[k] = e.MiBPerSec
		}
	}
	res.Machine.LoadAvgEnd = loadAvg()

	// The run counts only if the log is whole: intact, sealed, and holding
	// exactly the events that were accepted.
	var fails []string
	for _, r := range []*verify.Report{rep1, repAll} {
		if r.Verdict != verify.Intact {
			fails = append(fails, fmt.Sprintf("the log does not verify: %s: %v", r.Verdict, r.FirstFailure))
			break
		}
	}
	if lags.unsealed > 0 {
		fails = append(fails, fmt.Sprintf("%d events are not covered by a checkpoint after the stop", lags.unsealed))
	}
	if lags.events != accepted {
		fails = append(fails, fmt.Sprintf("the log holds %d client events, the clients had %d accepted", lags.events, accepted))
	}
	for code, n := range lr.refusedBy {
		// shed and timeout are the sealer's answers to overload (PROTOCOL.md);
		// anything else means the benchmark sent something wrong.
		if code != "shed" && code != "timeout" {
			fails = append(fails, fmt.Sprintf("%d events refused with %s (first: %s)", n, code, lr.firstRefuse))
		}
	}
	if q := res.Query["critical"]; q != nil && q.Matched != lags.critical {
		fails = append(fails, fmt.Sprintf("the critical-only query matched %d records, the log holds %d critical events", q.Matched, lags.critical))
	}
	for k, e := range res.Export {
		if e.Lines != lags.events {
			fails = append(fails, fmt.Sprintf("the %s export wrote %d lines, the log holds %d client events", k, e.Lines, lags.events))
		}
	}
	if f.mode == modeSoftHSMTPM && repAll.LastAnchor == nil {
		fails = append(fails, "--mode softhsm+swtpm: the log has no anchored checkpoint (does serve open the TPM of AUDIT_SEALER_TPM?)")
	}
	if f.asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Println(string(b))
	} else {
		printSummary(res)
	}
	if len(fails) > 0 {
		return errors.New("the benchmark run is not valid:\n  " + strings.Join(fails, "\n  "))
	}
	return nil
}

// cleanups are run once, last added first, by whichever of the end of the
// run and an interrupt comes first.
type cleanups struct {
	mu   sync.Mutex
	fns  []func()
	done bool
}

func (c *cleanups) add(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, fn)
}

func (c *cleanups) run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
}

// benchKeys returns the key that verifies the run's log.
func benchKeys(dataDir string, ms *modeSetup) (signer.Verifiers, error) {
	if ms.dev {
		s, err := signer.LoadSoftwareSigner(filepath.Join(dataDir, storage.DevKeyFile), config.Defaults().Signer.KeyName)
		if err != nil {
			return nil, err
		}
		return signer.Verifiers{s.Public()}, nil
	}
	return signer.LoadPublicKeys([]string{ms.pubPEM})
}

func printSummary(r *benchResult) {
	durable := "acknowledged on acceptance"
	if r.Durable {
		durable = "durable (ack after fdatasync)"
	}
	rate := "unpaced"
	if r.RateTarget > 0 {
		rate = fmt.Sprintf("paced to %d/s", r.RateTarget)
	}
	fmt.Printf("mode %s (%s), %d events of %d types (%d B mean, %d‰ critical) from %d clients, window %d, %s, %s\n",
		r.Mode, r.Algorithm, r.Events, r.EventTypes, r.EventBytesMean, r.CriticalPermille, r.Clients, r.Window, rate, durable)
	fmt.Printf("ingest:  %.0f events/s (%.3f s); everything sealed at %.0f events/s; refused %d %v\n",
		r.IngestEventsPerSec, r.IngestSeconds, r.SealedEventsPerSec, r.Refused, r.RefusedByCode)
	fmt.Printf("ack:     p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms; p99 critical %.3f ms, others %.3f ms\n",
		r.AckP50ms, r.AckP90ms, r.AckP99ms, r.AckP999ms, r.AckMaxms, r.AckCriticalP99ms, r.AckPlainP99ms)
	fmt.Printf("seal:    lag p50 %.3f ms, p99 %.3f ms, max %.3f ms (send to seal p99 %.3f ms); %d checkpoints (%.0f/s), %d anchors\n",
		r.SealLagP50ms, r.SealLagP99ms, r.SealLagMaxms, r.SendToSealP99ms, r.Checkpoints, r.CheckpointsPerSec, r.Anchors)
	fmt.Printf("disk:    %.0f fdatasyncs/s (%d), %.1f records per batch; group commit mean %.3f ms, p99 <= %.1f ms, max <= %.1f ms; signing mean %.3f ms, p99 <= %.1f ms, max <= %.1f ms\n",
		r.FsyncsPerSec, r.Fsyncs, r.BatchRecordsMean, r.FsyncMeanms, r.FsyncP99ms, r.FsyncMaxms, r.SealMeanms, r.SealP99ms, r.SealMaxms)
	fmt.Printf("sealer:  RSS peak %.1f MiB (VmHWM %.1f MiB; heap in use peak %.1f MiB; queue peak %d events, %.1f MiB), CPU %.2f s under load (%.2f cores), %.2f s in all; %d garbage collections; load generator CPU %.2f s\n",
		r.SealerRSSPeakMiB, r.SealerVmHWMMiB, r.HeapInusePeakMiB, r.QueueDepthPeak, r.QueueBytesPeakMiB, r.SealerCPUSeconds, r.SealerCPUCores, r.SealerCPUTotal, r.SealerGCCycles, r.LoadgenCPUSeconds)
	fmt.Printf("verify:  %s, %d records in %d segments (%.1f MiB): 1 core %.0f events/s (%.1f MiB/s), all cores %.0f events/s (%.1f MiB/s)\n",
		r.VerifyVerdict, r.VerifyRecords, r.VerifySegments, r.VerifyMiB, r.Verify1Core, r.VerifyMiBPerSec1, r.VerifyAllCores, r.VerifyMiBPerSec)
	fmt.Printf("machine: %d CPUs (%s), GOMAXPROCS %d, Linux %s, %s, revision %s, load average %v -> %v; under load: CPU pressure %.1f%%, I/O pressure %.1f%% (full %.1f%%)\n",
		r.Machine.NProc, r.Machine.CPUModel, r.Machine.GOMAXPROCS, r.Machine.Kernel, r.Machine.GoVersion, r.Machine.Revision, r.Machine.LoadAvgStart, r.Machine.LoadAvgEnd,
		r.Machine.PSICPUSomePct, r.Machine.PSIIOSomePct, r.Machine.PSIIOFullPct)
	if r.Witnesses > 0 {
		fmt.Printf("witness: %d witnesses; cosigned sizes when the load ended %v (of %d records sent)\n", r.Witnesses, r.WitnessedSize, r.Events)
	}
	printReadSummary(os.Stdout, r)
}

func machine() machineInfo {
	m := machineInfo{NProc: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), LoadAvgStart: loadAvg()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, kv := range bi.Settings {
			switch {
			case kv.Key == "vcs.revision":
				rev = kv.Value
			case kv.Key == "vcs.modified" && kv.Value == "true":
				dirty = "+dirty"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			m.Revision = rev + dirty
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// readPSI returns the "total" stall microseconds of /proc/pressure/cpu and
// io, keyed "cpu some", "io some", "io full"; nil where PSI is missing.
func readPSI() map[string]int64 {
	out := map[string]int64{}
	for _, res := range []string{"cpu", "io"} {
		b, err := os.ReadFile("/proc/pressure/" + res)
		if err != nil {
			return nil
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			for _, kv := range f[1:] {
				if v, ok := strings.CutPrefix(kv, "total="); ok {
					var n int64
					fmt.Sscan(v, &n)
					out[res+" "+f[0]] = n
				}
			}
		}
	}
	return out
}

func loadAvg() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	var out []float64
	for _, f := range strings.Fields(string(b))[:3] {
		var v float64
		fmt.Sscan(f, &v)
		out = append(out, v)
	}
	return out
}

func mib(b int64) float64 { return round1(float64(b) / (1 << 20)) }

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
