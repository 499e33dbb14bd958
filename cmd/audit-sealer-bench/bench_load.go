package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/wire"
)

// loadParams say what the load generator sends.
type loadParams struct {
	socket  string
	clients int
	events  int
	durable bool
	rate    int // events/s over all clients; 0 = as fast as the window allows
	window  int // requests in flight per client
	mix     *benchMix
}

// loadResult is what the clients saw.
type loadResult struct {
	lat         []time.Duration // ack latency of every accepted event, sorted
	critLat     []time.Duration // the same, critical events only (sealed before their ack)
	plainLat    []time.Duration // the same, the other events (durable or accepted)
	refused     int
	refusedBy   map[string]int // error code -> count
	bytes       int64          // event JSON bytes sent
	ingest      time.Duration  // first send to last event reply
	sealed      time.Duration  // first send to the last flush reply: everything durable and sealed
	firstRefuse string
}

// flushBatch is how many requests an unpaced client writes to its socket
// at once (about 8 KB): fewer write calls, and no request waits in the
// client's buffer for long.
const flushBatch = 16

// inflight is one request waiting for its reply.
type inflight struct {
	sent     time.Duration // since the run's start (monotonic)
	critical bool
	flush    bool
}

// driveLoad runs params.clients connections, each sending its share of the
// events with up to params.window requests in flight, and then a flush (so
// that the run ends when everything sent is durable and sealed).
func driveLoad(p loadParams) (*loadResult, error) {
	res := &loadResult{refusedBy: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	start := time.Now()
	for c := 0; c < p.clients; c++ {
		n := p.events / p.clients
		if c < p.events%p.clients {
			n++
		}
		wg.Add(1)
		go func(c, n int) {
			defer wg.Done()
			cr, err := driveClient(p, c, n, start)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("client %d: %w", c, err))
				return
			}
			res.lat = append(res.lat, cr.lat...)
			res.critLat = append(res.critLat, cr.critLat...)
			res.plainLat = append(res.plainLat, cr.plainLat...)
			res.refused += cr.refused
			for k, v := range cr.refusedBy {
				res.refusedBy[k] += v
			}
			res.bytes += cr.bytes
			res.ingest = max(res.ingest, cr.ingest)
			res.sealed = max(res.sealed, cr.sealed)
			if res.firstRefuse == "" {
				res.firstRefuse = cr.firstRefuse
			}
		}(c, n)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(res.lat)
	slices.Sort(res.critLat)
	slices.Sort(res.plainLat)
	return res, nil
}

func driveClient(p loadParams, client, n int, start time.Time) (*loadResult, error) {
	rc, err := dialSealer(p.socket)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	window := make(chan inflight, max(p.window, 1))
	var sendErr error
	var sent int64
	go func() {
		defer close(window)
		var interval time.Duration
		if p.rate > 0 {
			interval = time.Duration(float64(time.Second) * float64(p.clients) / float64(p.rate))
		}
		// Each request is this prefix, the event built in place and the
		// line's end. It has no id: replies come in the order of requests.
		prefix := wire.AppendEmitHead(nil, 0, "", p.durable)
		buf := make([]byte, 0, 2048)
		// Requests written to the buffer but not yet to the socket. Their
		// latency clock starts when they are handed to the kernel.
		pending := make([]inflight, 0, flushBatch)
		flush := func() bool {
			if err := rc.flush(); err != nil {
				sendErr = err
				rc.c.Close()
				return false
			}
			t := time.Since(start)
			for _, it := range pending {
				it.sent = t
				window <- it // blocks while the window is full
			}
			pending = pending[:0]
			return true
		}
		next := time.Now()
		for i := 0; i < n; i++ {
			if interval > 0 {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(interval)
			}
			tmpl := p.mix.pick(client, i)
			buf = append(buf[:0], prefix...)
			l := len(buf)
			// The event's timestamp is its send time: the log keeps it, and
			// the send-to-seal lag is measured from it after the run.
			buf = tmpl.appendEvent(buf, time.Now().UTC(), client*10_000_000+i)
			sent += int64(len(buf) - l)
			buf = wire.AppendEmitEnd(buf)
			if _, err := rc.w.Write(buf); err != nil {
				sendErr = err
				rc.c.Close()
				return
			}
			pending = append(pending, inflight{critical: tmpl.critical})
			// Paced: every event goes out at its time. Unpaced: in batches
			// of flushBatch, or at once when nothing is in flight.
			if interval > 0 || len(pending) >= flushBatch || len(window) == 0 {
				if !flush() {
					return
				}
			}
		}
		rc.w.Write(wire.AppendFlush(nil, 0))
		pending = append(pending, inflight{flush: true})
		flush()
	}()
	res := &loadResult{refusedBy: map[string]int{}, lat: make([]time.Duration, 0, n)}
	var readErr error
	for it := range window {
		if readErr != nil {
			continue // drain, so that the sender is not blocked
		}
		line, err := rc.r.ReadSlice('\n')
		if err != nil {
			readErr = err
			rc.c.Close()
			continue
		}
		now := time.Since(start)
		ok := bytes.Contains(line, []byte(`"ok":true`))
		if it.flush {
			if !ok {
				readErr = fmt.Errorf("flush refused: %s", bytes.TrimSpace(line))
			}
			res.sealed = now
			continue
		}
		res.ingest = now
		if !ok {
			res.refused++
			res.refusedBy[errorCode(line)]++
			if res.firstRefuse == "" {
				res.firstRefuse = string(bytes.TrimSpace(line))
			}
			continue
		}
		d := now - it.sent
		res.lat = append(res.lat, d)
		if it.critical {
			res.critLat = append(res.critLat, d)
		} else {
			res.plainLat = append(res.plainLat, d)
		}
	}
	res.bytes = sent
	if sendErr != nil {
		return nil, sendErr
	}
	if readErr != nil {
		return nil, readErr
	}
	return res, nil
}

// errorCode returns the error code of a refusal reply line.
func errorCode(line []byte) string {
	const key = `"code":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return "unknown"
	}
	rest := line[i+len(key):]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		return string(rest[:j])
	}
	return "unknown"
}

// pct returns the p-quantile of sorted in milliseconds (nearest rank).
func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return round3(ms(sorted[i]))
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func warnf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "audit-sealer-bench: "+format+"\n", args...)
}

// sealerConn is one load-generating connection: the benchmark writes
// request lines and reads reply lines itself, through large buffers, to
// spend as little of the shared CPUs as it can.
type sealerConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func dialSealer(path string) (*sealerConn, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the sealer at %s: %w", path, err)
	}
	return &sealerConn{c: c, r: bufio.NewReaderSize(c, 256<<10), w: bufio.NewWriterSize(c, 256<<10)}, nil
}

func (rc *sealerConn) flush() error { return rc.w.Flush() }

func (rc *sealerConn) Close() error { return rc.c.Close() }
