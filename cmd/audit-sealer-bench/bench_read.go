package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/audit-sealer/audit-sealer/export"
	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/verify"
)

// queryFigures are the figures of one filter of the query phase.
type queryFigures struct {
	Filter        string  `json:"filter"`
	Runs          int     `json:"runs"`
	QueriesPerSec float64 `json:"queries_per_sec"`
	MeanMs        float64 `json:"mean_ms"`
	P99Ms         float64 `json:"p99_ms"`          // nearest rank: with fewer than 100 runs, the slowest
	Scanned       uint64  `json:"records_scanned"` // per query (the last run)
	Matched       int     `json:"matched"`         // per query (the last run)
}

// exportFigures are the figures of one format of the export phase.
type exportFigures struct {
	Lines        int     `json:"lines"`
	OutputMiB    float64 `json:"output_mib"`
	Seconds      float64 `json:"seconds"`
	MiBPerSec    float64 `json:"mib_per_sec"`
	EventsPerSec float64 `json:"events_per_sec"`
	// HeapBaseMiB is this process's heap in use (runtime.MemStats.HeapInuse)
	// after a GC just before the export; HeapPeakMiB the largest sampled
	// (every 20 ms) during it. The difference is what the export held,
	// garbage not yet collected included (the GC lets the heap grow to
	// about twice the live heap).
	HeapBaseMiB float64 `json:"heap_base_mib"`
	HeapPeakMiB float64 `json:"heap_peak_mib"`
	// RSSPeakMiB is this process's largest VmRSS sampled during the export
	// (the load generator's memory included).
	RSSPeakMiB float64 `json:"rss_peak_mib"`
}

// benchQuery is one filter of the query phase.
type benchQuery struct {
	name, desc string
	f          query.Filter
	paged      bool // each run asks for the page after the previous run's
}

// benchQueries returns the query phase's filters for a log whose events
// were received between start and end.
func benchQueries(start, end time.Time) []benchQuery {
	span := end.Sub(start)
	from, to := start.Add(span*45/100), start.Add(span*55/100)
	return []benchQuery{
		{name: "user", desc: "--user customer-00000042@tenants.example.com",
			f: query.Filter{UserID: "customer-00000042@tenants.example.com"}},
		{name: "entity", desc: "--entity customer-00000042", f: query.Filter{Entity: "customer-00000042"}},
		{name: "type", desc: "--type authz.denied", f: query.Filter{Types: []string{"authz.denied"}}},
		{name: "category", desc: "--type security.*", f: query.Filter{Types: []string{"security.*"}}},
		{name: "time_range", desc: "--from/--to: the middle 10% of the load's time span",
			f: query.Filter{From: from, To: to}},
		{name: "critical", desc: "--critical", f: query.Filter{CriticalOnly: true}},
		{name: "paged", desc: "--type auth.* --limit 100, each query from the previous page's --after",
			f: query.Filter{Types: []string{"auth.*"}, Limit: 100}, paged: true},
	}
}

// runQueryPhase runs each filter runs times (the paged one 10 times as
// often) over the log in dir, as audit-sealer query does without the
// printing (trusting trust, the run's key), and returns the figures by
// filter name.
func runQueryPhase(ctx context.Context, dir string, trust verify.Trust, qs []benchQuery, runs int) (map[string]*queryFigures, error) {
	out := map[string]*queryFigures{}
	for _, q := range qs {
		n := runs
		if q.paged {
			n = 10 * runs
		}
		fig := &queryFigures{Filter: q.desc, Runs: n}
		lat := make([]time.Duration, 0, n)
		f := q.f
		var total time.Duration
		for range n {
			matched := 0
			t0 := time.Now()
			info, err := query.Scan(ctx, dir, trust, f, func(*query.Match) error { matched++; return nil })
			d := time.Since(t0)
			if err != nil {
				return nil, fmt.Errorf("query %s: %w", q.name, err)
			}
			total += d
			lat = append(lat, d)
			fig.Scanned, fig.Matched = info.Scanned, info.Matched
			if q.paged {
				f.After = 0
				if info.More {
					f.After = info.Next
				}
			}
		}
		fig.QueriesPerSec = round3(float64(n) / total.Seconds()) // a full scan of a large log takes seconds
		fig.MeanMs = round3(float64(total.Microseconds()) / 1000 / float64(n))
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fig.P99Ms = round3(ms(lat[int(math.Ceil(0.99*float64(len(lat))))-1])) // nearest rank
		out[q.name] = fig
	}
	return out, nil
}

// countingWriter counts the bytes written and drops them.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// runExportPhase exports the whole log in dir (every client event, as
// audit-sealer export does with no filter) in each format to a counting
// writer behind the same 4 KiB buffer as the command, sampling the heap and
// RSS meanwhile.
func runExportPhase(ctx context.Context, dir string, trust verify.Trust) (map[string]*exportFigures, error) {
	out := map[string]*exportFigures{}
	for _, fm := range []export.Format{export.JSONL, export.CEF, export.OCSF} {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var heapPeak uint64
		var rssPeak int64
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heapPeak = max(heapPeak, ms.HeapInuse)
				if st, err := readProcStatus(os.Getpid()); err == nil {
					rssPeak = max(rssPeak, st["VmRSS"])
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		cw := &countingWriter{}
		bw := bufio.NewWriter(cw)
		x := export.NewWriter(bw, fm, buildinfo.Version())
		lines := 0
		t0 := time.Now()
		_, err := query.Scan(ctx, dir, trust, query.Filter{}, func(m *query.Match) error { lines++; return x.Write(m) })
		if err == nil {
			err = bw.Flush()
		}
		d := time.Since(t0)
		close(stop)
		wg.Wait()
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", fm, err)
		}
		fig := &exportFigures{Lines: lines, OutputMiB: round1(float64(cw.n) / (1 << 20)), Seconds: round3(d.Seconds()),
			MiBPerSec: round1(float64(cw.n) / (1 << 20) / d.Seconds()), EventsPerSec: round1(float64(lines) / d.Seconds()),
			RSSPeakMiB: mib(rssPeak), HeapBaseMiB: mib(int64(base)), HeapPeakMiB: mib(int64(heapPeak))}
		out[string(fm)] = fig
	}
	return out, nil
}

// printReadSummary prints the query and export phases of a run.
func printReadSummary(w io.Writer, r *benchResult) {
	if r.Query != nil {
		names := make([]string, 0, len(r.Query))
		for k := range r.Query {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprintf(w, "query:   every query scans the log (no index yet); one at a time, %d runs each (paged: %d pages)\n",
			r.Query[names[0]].Runs, r.Query["paged"].Runs)
		for _, k := range names {
			q := r.Query[k]
			fmt.Fprintf(w, "         %-10s %8.3f queries/s, mean %9.3f ms, p99 %9.3f ms; %d records scanned, %d matched  (%s)\n",
				k, q.QueriesPerSec, q.MeanMs, q.P99Ms, q.Scanned, q.Matched, q.Filter)
		}
	}
	if r.Export != nil {
		for _, k := range []string{"jsonl", "cef", "ocsf"} {
			e := r.Export[k]
			fmt.Fprintf(w, "export:  %-5s %6.1f MiB/s, %8.0f events/s (%d lines, %.1f MiB in %.3f s); heap %.1f MiB before, peak %.1f MiB; RSS peak %.1f MiB\n",
				k, e.MiBPerSec, e.EventsPerSec, e.Lines, e.OutputMiB, e.Seconds, e.HeapBaseMiB, e.HeapPeakMiB, e.RSSPeakMiB)
		}
	}
}
