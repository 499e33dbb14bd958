package sealer

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sealer's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg      *prometheus.Registry
	accepted *prometheus.CounterVec
	// acceptedWaits and acceptedNow are accepted's two children, looked up
	// once: WithLabelValues hashes and locks on every call, once per event.
	acceptedWaits, acceptedNow prometheus.Counter
	rejected                   *prometheus.CounterVec
	shed                       prometheus.Counter
	records                    prometheus.Counter
	checkpoints                prometheus.Counter
	sealErrors                 prometheus.Counter
	queueDepth                 prometheus.GaugeFunc
	queueBytes                 prometheus.GaugeFunc
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
}

// newMetrics creates the metrics; queueDepth and queueBytes read the queue's
// counters at every scrape.
func newMetrics(queueDepth, queueBytes func() float64) *metrics {
	const ns = "audit_sealer"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_accepted_total",
			Help: "Events accepted, by whether the emitter asked for a durable ack."}, []string{"durable"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_rejected_total",
			Help: "Requests refused, by error code."}, []string{"code"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "events_shed_total",
			Help: "Non-critical events dropped because the queue was full (each drop is recorded in the chain)."}),
		records: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "records_written_total",
			Help: "Records appended to the log by this process."}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "checkpoints_total",
			Help: "Signed checkpoints written."}),
		sealErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "seal_errors_total",
			Help: "Checkpoints that could not be signed."}),
		queueDepth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "queue_depth",
			Help: "Events accepted but not yet written."}, queueDepth),
		queueBytes: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "queue_bytes",
			Help: "What the events accepted but not yet written cost against the queue's byte bound: their bytes plus a per-event overhead."}, queueBytes),
		unsealed: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "unsealed_records",
			Help: "Records not yet covered by a signed checkpoint."}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "connections",
			Help: "Open client connections."}),
		lastSeal: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "last_checkpoint_timestamp_seconds",
			Help: "Unix time of the last signed checkpoint."}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "fsync_seconds",
			Help: "Group commit latency (write and fdatasync).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		sign: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "seal_seconds",
			Help: "Checkpoint latency (sign, append, sync, checkpoint file).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		anchors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "anchors_total",
			Help: "Anchored checkpoints (TPM NV counter increments, i.e. NV writes) made by this process."}),
		anchorErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "anchor_errors_total",
			Help: "Anchors that failed because the TPM counter could not be incremented."}),
		lastAnchor: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "last_anchor_timestamp_seconds",
			Help: "Unix time of this process's last anchored checkpoint (0 before the first)."}),
		anchorValue: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "last_anchor_counter",
			Help: "TPM counter value of the log's last anchored checkpoint."}),
		nvWrites: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "nv_writes_per_year_estimate",
			Help: "TPM NV writes a year at this process's anchoring rate (TPMs wear out and rate-limit NV writes)."}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "batch_records",
			Help: "Records per group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 16)}),
	}
	m.acceptedWaits, m.acceptedNow = m.accepted.WithLabelValues("true"), m.accepted.WithLabelValues("false")
	m.indexes = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "indexes_written_total",
		Help: "Segment index files written by the sealer (after rotation, and at start for segments without one)."})
	m.indexErrors = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "index_errors_total",
		Help: "Segment indexes the sealer could not write (queries read those segments in full; audit-sealer index build writes them)."})
	m.reg.MustRegister(m.indexes, m.indexErrors, m.accepted, m.rejected, m.shed, m.records, m.checkpoints, m.sealErrors, m.queueDepth,
		m.queueBytes, m.unsealed, m.connections, m.lastSeal, m.fsync, m.sign, m.batch, m.anchors, m.anchorErrors, m.lastAnchor, m.anchorValue, m.nvWrites,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}
