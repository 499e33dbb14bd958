// Package sealer is the audit-sealer daemon: it accepts audit events on a
// Unix socket (PROTOCOL.md), validates them, and hands them to one writer
// goroutine that appends them to the log (package ledger) with group commit,
// seals the head with signed checkpoints at the configured cadence, and
// acknowledges each event as the emitter asked: on acceptance, once durable,
// or (critical events) once durable and sealed.
package sealer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/wire"
	"github.com/audit-sealer/audit-sealer/signer"
)

// Sealer is a running daemon. Create it with New, run it with Run.
type Sealer struct {
	cfg config.Config
	log hclog.Logger
	// signer signs checkpoints: the start's, or the key an online
	// rotation handed over to (rotate.go); read it with currentSigner.
	signerMu sync.Mutex
	signer   signer.Signer
	// openKey opens the key of an online rotation (nil: none allowed);
	// rotating is the rotation in progress, if any.
	openKey  KeyOpener
	rotating atomic.Pointer[rotation]
	ledger   *ledger.Ledger
	m        *metrics
	// live holds what a reload changes while the sealer runs (reload.go);
	// reloadMu serialises reloads. startQueueEvents is the queue's events
	// bound at start, which sized the intake.
	live             atomic.Pointer[liveSettings]
	reloadMu         sync.Mutex
	startQueueEvents int

	intake  chan *request
	queued  atomic.Int64 // events in intake
	queuedB atomic.Int64 // their bytes
	// criticalWaiting counts critical events waiting for queue room; while
	// any wait, non-critical events are shed rather than take the room
	// the writer frees, so critical events are not starved under overload.
	criticalWaiting atomic.Int32
	space           chan struct{} // signalled when the writer frees queue space
	peers           peerQueues    // each peer uid's share of the queue
	badLines        *badLineBudget
	stopping        atomic.Bool
	// rounds counts the writer's rounds: the watchdog pings only while it
	// moves (systemd.go). activated is set when the listening socket came
	// from the service manager, which keeps it across restarts.
	rounds    atomic.Uint64
	activated bool
	// writerGone is set when the writer returned early (the log cannot be
	// written): from then on nothing may be queued for it.
	writerGone atomic.Bool
	// idLog rate-limits the log lines of refused identities (impersonation.go).
	idLog identityLog
	// reading is what the export and report ops share (readops.go);
	// rootCandidates lists the keys that may have started the log
	// (WithReportKeys).
	reading        readState
	rootCandidates func() (signer.Verifiers, error)

	shedMu sync.Mutex
	shed   shedState

	statusMu sync.Mutex
	status   Status

	conns     sync.WaitGroup
	connCount atomic.Int64
	connsMu   sync.Mutex
	open      map[*net.UnixConn]*connState
	started   time.Time
	openInfo  *ledger.OpenInfo
	// uncleanStop: the previous run of the log did not stop cleanly
	// (wasUncleanStop); logged at start.
	uncleanStop bool
	anchoring   bool
	ledgerCfg   ledger.Config // to open the log again after a storage failure
	// identity is the TPM's, recorded at every start when anchoring.
	identity *event.TPMIdentity
	hsmFIPS  *HSMFIPS // what the PKCS#11 token reported about FIPS 140 (WithHSMFIPS)
	// startSeq is the first record of this run; startSealErr why the
	// start could not be sealed (the writer retries).
	startSeq     uint64
	startSealErr error

	// indexQueue carries the names of segments the writer closed to the
	// indexer goroutine (indexer.go).
	indexQueue chan string
	// witnessing submits checkpoints to the configured witnesses off the
	// acknowledgement path (witnessing.go); nil without witnesses.
	witnessing *witnessing

	// testHookRound, if set, is called by the writer at the start of every
	// round, after it woke up and before it takes anything off the queue.
	// It is nil outside tests (export_test.go sets it before Run) and lets a
	// test hold the writer so that a full queue is deterministic.
	testHookRound func()
	// testHookCriticalRoom, if set, is called by submit once a critical
	// event has its queue room, before it is queued (nil outside tests).
	testHookCriticalRoom func()
	// testHookPeerUID, if set, replaces the uid a connection's credentials
	// gave (nil outside tests): one test process stands for several peers.
	testHookPeerUID func(uid uint32) uint32
}

// Option adds an optional part to a Sealer.
type Option func(*options)

type options struct {
	counter        ledger.Counter
	identity       *event.TPMIdentity
	openKey        KeyOpener
	witnessKey     signer.Signer
	hsmFIPS        *HSMFIPS
	rootCandidates func() (signer.Verifiers, error)
}

// WithWitnessKey has k, an Ed25519 key, sign what the sealer sends to its
// witnesses, under the log's origin, instead of the log key (FORMAT.md
// §5.6: witnesses verify Ed25519 log signatures only). It signs nothing
// else: no record, no checkpoint in the log. The caller owns k.
func WithWitnessKey(k signer.Signer) Option { return func(o *options) { o.witnessKey = k } }

// HSMFIPS is what the PKCS#11 token reported about the FIPS 140 validation
// of the signing key (package hsm, FIPSStatus), for the start record.
type HSMFIPS struct {
	State      event.HSMFIPS
	Validation string // the NIST CMVP validation the token reported, if any
	Detail     string // why State is what it is, for the log
}

// WithHSMFIPS records f, what the signer's PKCS#11 token reported about
// FIPS 140, in audit.sealer_started (hsm_fips, hsm_validation). Without it
// (a software key) the record states the Go Cryptographic Module only.
func WithHSMFIPS(f HSMFIPS) Option { return func(o *options) { o.hsmFIPS = &f } }

// WithCounter anchors checkpoints in c (the TPM NV counter, FORMAT.md §5.3).
// Without it the sealer does not anchor, and says so in the chain.
func WithCounter(c ledger.Counter) Option { return func(o *options) { o.counter = c } }

// WithTPMIdentity records id, the identity of the TPM that holds the
// counter (its attestation key, the counter index and, if it has one, its
// endorsement key certificate), in the chain at every start, before the
// checkpoint that seals the start: auditors accept counter evidence only
// from the attestation key the log last recorded (FORMAT.md §5.4). Its
// Timestamp is set when it is recorded. It applies only with WithCounter.
func WithTPMIdentity(id event.TPMIdentity) Option {
	return func(o *options) { o.identity = &id }
}

// New opens the log and prepares the daemon; it does not listen yet. The
// caller owns the signer (and the counter). With a counter, New compares it
// with the log's last anchor and refuses a rollback or an anchor reset
// unless the configuration accepts it (ledger.ErrRollback,
// ledger.ErrAnchorReset).
//
// cfg must have passed Config.Validate, which the command that loads it
// runs once (it looks users and groups up); New does not check it again.
func New(cfg config.Config, s signer.Signer, log hclog.Logger, opts ...Option) (*Sealer, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	live, err := newLiveSettings(cfg)
	if err != nil {
		return nil, err
	}
	lc := ledger.Config{Dir: cfg.DataDir, Signer: s, KeyName: cfg.Signer.KeyName, Dev: cfg.Dev,
		SegmentSize: cfg.SegmentSize, AcceptNewKey: cfg.Signer.AcceptNewKey,
		AcceptUnauthenticatedTail: cfg.AcceptUnauthenticatedTail, ArchiveDir: cfg.Retention.ArchiveDir,
		Witnessed: len(cfg.Witnesses) > 0}
	if o.counter != nil {
		lc.Counter, lc.AnchorIndex = o.counter, cfg.TPM.Index
		lc.AcceptRollback, lc.AcceptAnchorReset = cfg.TPM.AcceptRollback, cfg.TPM.AcceptAnchorReset
	}
	wit, err := newWitnessing(cfg, s, o.witnessKey)
	if err != nil {
		return nil, err
	}
	l, info, err := ledger.Open(lc)
	if err != nil {
		return nil, err
	}
	unclean := wasUncleanStop(info, l.LastCheckpoint())
	sl := &Sealer{cfg: cfg, log: log, signer: s, openKey: o.openKey, rootCandidates: o.rootCandidates, ledger: l, startQueueEvents: cfg.Queue.Events,
		intake: make(chan *request, cfg.Queue.Events+criticalReserve), space: make(chan struct{}, 1),
		started: time.Now(), openInfo: info, anchoring: o.counter != nil, identity: o.identity, hsmFIPS: o.hsmFIPS, ledgerCfg: lc,
		indexQueue: make(chan string, indexQueueLen), badLines: newBadLineBudget(cfg.Limits.BadLinesPerSecond), uncleanStop: unclean}
	// The queue gauges were registered but never set (always 0): they now
	// read the queue's counters at each scrape.
	sl.m = newMetrics(func() float64 { return float64(sl.queued.Load()) }, func() float64 { return float64(sl.queuedB.Load()) },
		func() float64 { return float64(sl.peers.active.Load()) })
	sl.live.Store(live)
	sl.witnessing = wit.attach(sl)
	sl.setIdentity()
	sl.updateStatus()
	return sl, nil
}

// idleEvictAfter is how long a connection must have been silent before a
// new one may take its slot when all slots are in use.
const idleEvictAfter = time.Second

// criticalReserve is intake room kept for critical events and control
// requests beyond the configured queue size.
const criticalReserve = 4096

// Run records the start, listens on the socket and serves until ctx is
// cancelled; then it stops intake, drains the queue, records the stop,
// seals, syncs and closes the log. It returns nil after a clean stop.
func (s *Sealer) Run(ctx context.Context) error {
	if err := s.recordStart(); err != nil {
		s.ledger.Close()
		return err
	}
	ln, err := s.listen()
	if err != nil {
		s.ledger.Close()
		return err
	}
	var metricsSrv *http.Server
	if s.cfg.Metrics.Listen != "" {
		metricsSrv, err = s.serveMetrics()
		if err != nil {
			ln.Close()
			s.ledger.Close()
			return err
		}
	}
	// Read the ledger before the writer starts: from then on only the
	// writer goroutine may touch it.
	nextSeq := s.ledger.NextSeq()
	s.startSeq = s.openInfo.NextSeq
	writerDone := make(chan error, 1)
	go func() { writerDone <- s.writer() }()
	indexCtx, stopIndexer := context.WithCancel(context.Background())
	indexerDone := make(chan struct{})
	if s.cfg.Query.Index {
		go func() { s.indexer(indexCtx, s.indexQueue); close(indexerDone) }()
	} else {
		close(indexerDone)
		s.log.Info("index: segment indexes are off ([query] index = false); queries read every segment")
	}
	stopWitnessing := s.startWitnessing()
	acceptDone := make(chan struct{})
	go func() { s.accept(ln); close(acceptDone) }()
	s.log.Info("sealer ready", "socket", s.cfg.Socket, "data_dir", s.cfg.DataDir, "next_seq", nextSeq,
		"key_id", s.currentSigner().Public().ID(), "key_kind", s.currentSigner().Kind(), "algorithm", s.currentSigner().Public().Algorithm,
		"socket_activated", s.activated)
	s.sdNotify("READY=1\nSTATUS=" + statusLine(s.Status()))
	stopNotify := make(chan struct{})
	go s.superviseNotify(stopNotify)

	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info("stopping: intake closed, draining the queue")
	case err := <-writerDone:
		// The writer only returns early when the log cannot be written.
		s.writerGone.Store(true)
		runErr = err
		writerDone <- err
	}
	close(stopNotify)
	s.sdNotify("STOPPING=1\nSTATUS=stopping: draining the queue, sealing the log")
	// Stop accepting first: connections not yet accepted stay queued on
	// the socket, which under socket activation outlives this process and
	// is served by the next one; those accepted are served until stopping
	// interrupts their reads.
	ln.Close()
	<-acceptDone
	s.stopping.Store(true)
	s.interruptReads()
	s.conns.Wait() // every connection has submitted its last request and written its last reply
	s.intake <- &request{kind: reqStop}
	werr := <-writerDone
	stopIndexer()
	<-indexerDone
	stopWitnessing()
	if metricsSrv != nil {
		metricsSrv.Close()
	}
	if !s.activated {
		os.Remove(s.cfg.Socket)
	}
	if runErr != nil {
		return runErr
	}
	return werr
}

// recordStart writes audit.sealer_started (with any torn tail cut at open),
// records what Open discarded or completed, and the TPM's identity, and
// seals: the checkpoint names this run's key, so that from then on every
// group commit is authenticated. Every run of the sealer is visible in the
// chain.
func (s *Sealer) recordStart() error {
	mode := event.ModeProduction
	if s.cfg.Dev {
		mode = event.ModeDev
		s.log.Warn("DEVELOPMENT MODE: checkpoints are signed with a software key from the data directory and no TPM anchors the log; every checkpoint says \"mode dev\"; never use this in production")
	}
	cur := s.currentSigner()
	pub := cur.Public()
	ev := &event.SealerStarted{Timestamp: time.Now().UTC(), Version: buildinfo.Version(), Mode: mode, KeyID: pub.ID(),
		KeyKind: event.KeyKind(cur.Kind()), Algorithm: event.Algorithm(pub.Algorithm), Settings: s.cfg.Settings()}
	s.fipsStart(ev)
	info := s.openInfo
	if r := info.Recovery; r != nil && r.Segment != "" {
		n := uint64(r.Bytes)
		ev.TornTailBytes, ev.TornTailKeptAs = &n, r.KeptAs
	}
	s.logOpen(info)
	if _, err := s.ledger.AppendSealerEvent(ev); err != nil {
		return err
	}
	if err := s.recordDiscarded(s.ledger, info.Discarded); err != nil {
		return err
	}
	if !s.anchoring {
		if _, err := s.ledger.AppendSealerEvent(&event.AnchorState{Timestamp: time.Now().UTC(), Status: event.AnchorDisabled,
			Details: "no TPM counter is configured"}); err != nil {
			return err
		}
	} else if s.identity != nil {
		// At every start, not only when it changed: the start-up check
		// reads only the end of the log, and one record per start is
		// cheap. The checkpoint below seals it.
		id := *s.identity
		id.Timestamp = time.Now().UTC()
		if _, err := s.ledger.AppendSealerEvent(&id); err != nil {
			return err
		}
		s.log.Info("TPM identity recorded", "ak_name", id.AKName, "nv_index", fmt.Sprintf("0x%08x", id.NVIndex), "ek_certificate", id.EKCertificate != "")
	}
	if _, err := s.ledger.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		if s.ledger.Err() != nil {
			return err
		}
		// The log key cannot sign now: the records stay durable, and the
		// writer refuses events until a checkpoint names this run's key.
		if err := s.ledger.Sync(); err != nil {
			return err
		}
		s.startSealErr = err
		s.noteSealError(err)
	}
	s.updateStatus()
	return nil
}

// logOpen logs what opening the log found and did: a cut torn tail, the
// anchor check, a run key not locked in memory, a foreign checkpoint file,
// a completed prune, records of the previous run sealed now.
func (s *Sealer) logOpen(info *ledger.OpenInfo) {
	if r := info.Recovery; r != nil {
		if r.Segment != "" {
			s.log.Warn("cut a torn tail left by a crash; the bytes are kept aside", "segment", r.Segment, "offset", r.Offset, "bytes", r.Bytes, "kept_as", r.KeptAs)
		}
		for _, n := range r.Notes {
			s.log.Warn("storage recovery", "note", n)
		}
	}
	if a := info.Anchor; a != nil {
		s.log.Info("TPM anchor checked", "status", a.Status, "counter", a.Counter)
		if a.Status == event.AnchorRollbackOverride || a.Status == event.AnchorReset {
			s.log.Warn("the operator accepted an anchor problem; it is recorded in the chain", "status", a.Status, "counter", a.Counter)
		}
	} else if !s.anchoring && !s.cfg.Dev {
		s.log.Warn("NO TPM ANCHOR: a restored old copy of the log would not be detected at start; configure [tpm] transport")
	}
	if w := info.RunKeyNotLocked; w != "" {
		s.log.Warn("the run key's memory could not be locked against swapping (raise LimitMEMLOCK): it may reach swap", "error", w)
	}
	if w := info.CheckpointFileWarning; w != "" {
		s.log.Error("the checkpoint file is not this sealer's: ignored (auditors will see it fail)", "problem", w)
	}
	if len(info.PruneCompleted) > 0 {
		s.log.Warn("completed an interrupted retention prune: removed segments whose deletion the log had recorded and sealed", "segments", info.PruneCompleted)
	}
	if info.Unsealed > 0 {
		s.log.Warn("records of the previous run that its run key authenticated but no checkpoint covered are sealed now", "records", info.Unsealed)
	}
	if s.uncleanStop {
		var discarded uint64
		if info.Discarded != nil {
			discarded = info.Discarded.Records
		}
		var torn int64
		if r := info.Recovery; r != nil {
			torn = r.Bytes
		}
		s.log.Warn("the previous run did not stop cleanly (killed, crashed or the power failed): its log was recovered",
			"records_recovered", info.Unsealed, "records_discarded", discarded, "torn_tail_bytes", torn)
	}
}

// wasUncleanStop reports whether the run that last wrote an existing log
// ended without a clean stop: a clean stop seals with a checkpoint that
// says closed and writes nothing after it, so an unclean one leaves a last
// checkpoint that does not say so (or none), or records that had to be
// cut. It is read right after Open, before this run appends anything.
func wasUncleanStop(info *ledger.OpenInfo, last *chain.Checkpoint) bool {
	if info.Created {
		return false
	}
	return last == nil || !last.Closed || info.Discarded != nil || (info.Recovery != nil && info.Recovery.Segment != "")
}

// recordDiscarded records in the chain, and logs loudly, records Open cut
// from the end of the log because nothing the sealer signed authenticated
// them.
func (s *Sealer) recordDiscarded(l *ledger.Ledger, d *ledger.Discarded) error {
	if d == nil {
		return nil
	}
	decided := event.DiscardCrash
	msg := "cut the remains of a group commit that a crash interrupted (never acknowledged); the bytes are kept aside and recorded in the chain"
	if d.Accepted {
		decided = event.DiscardOperator
		msg = "THE OPERATOR ACCEPTED DISCARDING RECORDS THE SEALER DID NOT AUTHENTICATE: kept aside, never sealed, recorded in the chain"
	}
	s.log.Error(msg, "first_seq", d.FirstSeq, "records", d.Records, "segment", d.Segment, "offset", d.Offset,
		"bytes", d.Bytes, "sha256", d.SHA256, "kept_as", d.KeptAs, "reason", d.Reason)
	s.m.tailDiscarded.Inc()
	_, err := l.AppendSealerEvent(&event.TailDiscarded{Timestamp: time.Now().UTC(), FirstSeq: d.FirstSeq, Records: d.Records,
		Segment: d.Segment, Offset: uint64(d.Offset), Bytes: uint64(d.Bytes), SHA256: d.SHA256, KeptAs: d.KeptAs,
		Reason: d.Reason, DecidedBy: decided})
	return err
}

// listen takes over the socket the service manager passed (socket
// activation: its unit sets mode and group), or else creates the socket
// with the configured mode and group.
func (s *Sealer) listen() (*net.UnixListener, error) {
	if ln, err := activatedListener(); err != nil || ln != nil {
		if ln != nil {
			s.activated = true
			if addr := ln.Addr().String(); addr != s.cfg.Socket {
				s.log.Warn("the socket passed by the service manager is not the configured socket; admin commands use the configured one",
					"passed", addr, "configured", s.cfg.Socket)
			}
		}
		return ln, err
	}
	if err := os.MkdirAll(filepath.Dir(s.cfg.Socket), 0o755); err != nil {
		return nil, fmt.Errorf("sealer: socket directory: %w", err)
	}
	if fi, err := os.Lstat(s.cfg.Socket); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("sealer: %s exists and is not a socket", s.cfg.Socket)
		}
		// A stale socket from a previous run: the data-dir lock (held by
		// ledger.Open) proves no other sealer of this log is running, but
		// a sealer of another data directory may serve this socket: never
		// take a socket that still answers.
		if c, err := net.DialTimeout("unix", s.cfg.Socket, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("sealer: %s is in use by another process", s.cfg.Socket)
		}
		os.Remove(s.cfg.Socket)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.cfg.Socket, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("sealer: listen: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	perm, _ := s.cfg.SocketPerm()
	if err := os.Chmod(s.cfg.Socket, perm); err != nil {
		ln.Close()
		return nil, fmt.Errorf("sealer: socket mode: %w", err)
	}
	if s.cfg.SocketGroup != "" {
		g, err := user.LookupGroup(s.cfg.SocketGroup)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("sealer: socket group: %w", err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(s.cfg.Socket, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("sealer: socket group: %w", err)
		}
	}
	return ln, nil
}

func (s *Sealer) serveMetrics() (*http.Server, error) {
	ln, err := net.Listen("tcp", s.cfg.Metrics.Listen)
	if err != nil {
		return nil, fmt.Errorf("sealer: metrics listener: %w", err)
	}
	mux := metricsMux(s.m.reg, s.cfg.Metrics.Pprof)
	s.addHealth(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	s.log.Info("metrics listening", "address", ln.Addr().String())
	return srv, nil
}

// metricsMux serves /metrics from reg and, with withPprof, Go's
// /debug/pprof/ profiles (the benchmark's --sealer-cpuprofile uses them).
func metricsMux(reg *prometheus.Registry, withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// accept serves connections until the listener closes.
func (s *Sealer) accept(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Error("accept failed", "error", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if s.connCount.Load() >= int64(s.settings().cfg.Limits.MaxConnections) && !s.evictIdle(idleEvictAfter) {
			s.m.rejected.WithLabelValues(codeTooManyConnections).Inc()
			c.Write(wire.AppendReply(nil, errorReply("", wire.CodeUnavailable, "sealer: too many connections")))
			c.Close()
			continue
		}
		s.connCount.Add(1)
		s.m.connections.Inc()
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			defer s.m.connections.Dec()
			defer s.connCount.Add(-1)
			s.serveConn(c)
		}()
	}
}

// ReopenSigner asks a signer that holds device sessions (a PKCS#11 token) to
// drop them and connect again, for example after the operator fixed the
// token (SIGHUP does this). Records wait, durable, until sealing works.
func (s *Sealer) ReopenSigner() error {
	r, ok := s.currentSigner().(interface{ Reopen() error })
	if !ok {
		return nil
	}
	err := r.Reopen()
	if err != nil {
		s.log.Error("reopening the signer failed; records stay durable and unsealed", "error", err)
	} else {
		s.log.Info("signer reopened")
	}
	return err
}

// Status returns a snapshot of the sealer's state.
func (s *Sealer) Status() Status {
	s.statusMu.Lock()
	st := s.status
	s.statusMu.Unlock()
	st.QueueDepth = s.queued.Load()
	st.QueueBytes = s.queuedB.Load()
	st.QueueUIDs = s.peers.active.Load()
	st.Connections = s.connCount.Load()
	st.UptimeSeconds = time.Since(s.started).Seconds()
	s.shedMu.Lock()
	st.ShedTotal = s.shed.total
	s.shedMu.Unlock()
	return st
}
