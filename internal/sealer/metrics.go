package sealer

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
	"github.com/audit-sealer/audit-sealer/internal/wire"
)

// codeTooManyConnections labels a connection refused because every slot
// was taken (its reply says unavailable).
const codeTooManyConnections = "too_many_connections"

// metrics are the sealer's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg      *prometheus.Registry
	accepted *prometheus.CounterVec
	// acceptedWaits and acceptedNow are accepted's two children, looked up
	// once: WithLabelValues hashes and locks on every call, once per event.
	acceptedWaits, acceptedNow prometheus.Counter
	rejected                   *prometheus.CounterVec
	shed                       prometheus.Counter
	badLineWaits               prometheus.Counter
	records                    prometheus.Counter
	checkpoints                prometheus.Counter
	sealErrors                 prometheus.Counter
	queueDepth                 prometheus.GaugeFunc
	queueBytes                 prometheus.GaugeFunc
	queueUIDs                  prometheus.GaugeFunc
	unsealed                   prometheus.Gauge
	connections                prometheus.Gauge
	lastSeal                   prometheus.Gauge
	fsync                      prometheus.Histogram
	sign                       prometheus.Histogram
	batch                      prometheus.Histogram
	anchors                    prometheus.Counter
	anchorErrors               prometheus.Counter
	lastAnchor                 prometheus.Gauge
	anchorValue                prometheus.Gauge
	nvWrites                   prometheus.Gauge
	indexes                    prometheus.Counter
	indexErrors                prometheus.Counter
	tailDiscarded              prometheus.Counter
	identityRefused            prometheus.Counter
	reloads                    *prometheus.CounterVec
	rotations                  *prometheus.CounterVec
}

// metricMaker makes the sealer's metrics in its namespace and registers
// each on its registry as it is made.
type metricMaker struct{ reg *prometheus.Registry }

const metricNamespace = "audit_sealer"

func (mk metricMaker) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricNamespace, Name: name, Help: help})
	mk.reg.MustRegister(c)
	return c
}

func (mk metricMaker) counterVec(name, help, label string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricNamespace, Name: name, Help: help}, []string{label})
	mk.reg.MustRegister(c)
	return c
}

func (mk metricMaker) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricNamespace, Name: name, Help: help})
	mk.reg.MustRegister(g)
	return g
}

func (mk metricMaker) gaugeFunc(name, help string, read func() float64) prometheus.GaugeFunc {
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricNamespace, Name: name, Help: help}, read)
	mk.reg.MustRegister(g)
	return g
}

func (mk metricMaker) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricNamespace, Name: name, Help: help, Buckets: buckets})
	mk.reg.MustRegister(h)
	return h
}

// newMetrics creates the metrics; queueDepth, queueBytes and queueUIDs read the queue's
// counters at every scrape.
func newMetrics(queueDepth, queueBytes, queueUIDs func() float64) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	mk := metricMaker{m.reg}
	latency := prometheus.ExponentialBuckets(0.0001, 2, 16)
	m.accepted = mk.counterVec("events_accepted_total", "Events accepted, by whether the emitter asked for a durable ack.", "durable")
	m.acceptedWaits, m.acceptedNow = m.accepted.WithLabelValues("true"), m.accepted.WithLabelValues("false")
	m.rejected = mk.counterVec("requests_rejected_total", "Requests refused, by error code.", "code")
	// Every label value the sealer can use exists from the start, at
	// zero: rate() and alerts see a series before the first refusal.
	for _, code := range append(wire.Codes(), codeTooManyConnections) {
		m.rejected.WithLabelValues(code)
	}
	m.shed = mk.counter("events_shed_total", "Non-critical events dropped because the queue was full or their uid held its share of it (each drop is recorded in the chain).")
	m.badLineWaits = mk.counter("bad_line_waits_total", "Times a connection was made to wait before its next line because its uid sent refused lines faster than limits.bad_lines_per_second.")
	m.records = mk.counter("records_written_total", "Records appended to the log by this process.")
	m.checkpoints = mk.counter("checkpoints_total", "Signed checkpoints written.")
	m.sealErrors = mk.counter("seal_errors_total", "Checkpoints that could not be signed.")
	m.queueDepth = mk.gaugeFunc("queue_depth", "Events accepted but not yet written.", queueDepth)
	m.queueBytes = mk.gaugeFunc("queue_bytes", "What the events accepted but not yet written cost against the queue's byte bound: their bytes plus a per-event overhead.", queueBytes)
	m.queueUIDs = mk.gaugeFunc("queue_uids", "Peer uids with events accepted but not yet written; they share the queue.", queueUIDs)
	m.unsealed = mk.gauge("unsealed_records", "Records not yet covered by a signed checkpoint.")
	m.connections = mk.gauge("connections", "Open client connections.")
	m.lastSeal = mk.gauge("last_checkpoint_timestamp_seconds", "Unix time of the last signed checkpoint.")
	m.fsync = mk.histogram("fsync_seconds", "Group commit latency (the run key's commit record, write and fdatasync).", latency)
	m.sign = mk.histogram("seal_seconds", "Checkpoint latency: the log key's signature (on its own goroutine, off the acknowledgement path), or the whole anchored seal.", latency)
	m.batch = mk.histogram("batch_records", "Records per group commit.", prometheus.ExponentialBuckets(1, 2, 16))
	m.anchors = mk.counter("anchors_total", "Anchored checkpoints (TPM NV counter increments, i.e. NV writes) made by this process.")
	m.anchorErrors = mk.counter("anchor_errors_total", "Anchors that failed because the TPM counter could not be incremented.")
	m.lastAnchor = mk.gauge("last_anchor_timestamp_seconds", "Unix time of this process's last anchored checkpoint (0 before the first).")
	m.anchorValue = mk.gauge("last_anchor_counter", "TPM counter value of the log's last anchored checkpoint.")
	m.nvWrites = mk.gauge("nv_writes_per_year_estimate", "TPM NV writes a year at this process's anchoring rate (TPMs wear out and rate-limit NV writes).")
	m.indexes = mk.counter("indexes_written_total", "Segment index files written by the sealer (after rotation, and at start for segments without one).")
	m.indexErrors = mk.counter("index_errors_total", "Segment indexes the sealer could not write (queries read those segments in full; audit-sealer index build writes them).")
	m.identityRefused = mk.counter("identity_refused_total", "Requests refused because the peer asked to emit as a service the policy does not give its uid (not_authorized; logged at most once a second).")
	m.reloads = mk.counterVec("config_reloads_total", "Configuration reloads (SIGHUP): ok, or error (the configuration did not load or validate, or the reload could not be recorded; the configuration in force was kept).", "result")
	m.rotations = mk.counterVec("key_rotations_total", "Key rotations asked for over the socket (rotate_key): ok, refused (the peer is not an admin: not_authorized) or error.", "result")
	for _, r := range []string{"ok", "error"} {
		m.reloads.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "refused", "error"} {
		m.rotations.WithLabelValues(r)
	}
	m.tailDiscarded = mk.counter("tail_discarded_total", "Times the end of the log held records that none of the sealer's keys authenticated and the sealer cut them at start (kept aside, never sealed, recorded in the chain as audit.tail_discarded).")
	// build_info is the usual Prometheus info metric: a constant 1 whose
	// labels name the build, so dashboards can join on it.
	build := buildinfo.Read()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricNamespace, Name: "build_info",
		Help: "Always 1; the labels name the running build: version (the release version, or the one Go derived from VCS), VCS revision (+dirty when built from a modified work tree, unknown when not stamped), Go version, " +
			"and the Go Cryptographic Module: fips140 (its mode: off, on or only) and fips140_module (the frozen module GOFIPS140 selected, or latest).",
		ConstLabels: prometheus.Labels{"version": build.Version, "revision": build.RevisionText(), "goversion": build.GoVersion,
			"fips140": build.FIPS140Mode, "fips140_module": build.FIPS140Module}})
	buildInfo.Set(1)
	m.reg.MustRegister(buildInfo)
	m.reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}
