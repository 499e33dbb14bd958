package sealer

import (
	"fmt"
	"strings"
	"time"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
)

// Status is what `audit-sealer status` shows and the status op returns.
type Status struct {
	LogID              string    `json:"log_id"`
	LastSeq            uint64    `json:"last_seq"`
	Records            uint64    `json:"records"`
	Unsealed           uint64    `json:"unsealed"`
	LastCheckpointSize uint64    `json:"last_checkpoint_size"`
	LastCheckpointTime time.Time `json:"last_checkpoint_time"`
	QueueDepth         int64     `json:"queue_depth"`
	QueueBytes         int64     `json:"queue_bytes"`
	QueueUIDs          int64     `json:"queue_uids"` // peer uids with events queued, which share the queue
	ShedTotal          uint64    `json:"shed_total"`
	KeyID              string    `json:"key_id"`
	KeyKind            string    `json:"key_kind"`
	Algorithm          string    `json:"algorithm"`
	Dev                bool      `json:"dev"`
	SignerError        string    `json:"signer_error"`
	// Anchoring (TPM NV counter): the last anchored value, its age, how many
	// anchors this process made, and the NV writes a year at that rate.
	Anchoring            bool     `json:"anchoring"`
	LastAnchor           *uint64  `json:"last_anchor,omitempty"`
	LastAnchorAgeSeconds *float64 `json:"last_anchor_age_seconds,omitempty"`
	AnchorsMade          uint64   `json:"anchors_made"`
	NVWritesPerYearEstim float64  `json:"nv_writes_per_year_estimate"`
	AnchorError          string   `json:"anchor_error"`
	StorageError         string   `json:"storage_error"`
	Connections          int64    `json:"connections"`
	// Witnessing (FORMAT.md §5.6), with witnesses configured: each
	// witness, the quorum, and the largest size that a quorum of them
	// cosigned in this run.
	Witnesses     []WitnessStatus `json:"witnesses,omitempty"`
	WitnessQuorum int             `json:"witness_quorum,omitempty"`
	WitnessedSize *uint64         `json:"witnessed_size,omitempty"`
	UptimeSeconds float64         `json:"uptime_seconds"`
	// Version is the sealer's build (buildinfo).
	Version string `json:"version"`
	// For each dependency: how many failures this process has seen, and
	// since when the current failure lasts (absent while it works).
	SealErrors          uint64     `json:"seal_errors"`
	AnchorErrors        uint64     `json:"anchor_errors"`
	StorageErrors       uint64     `json:"storage_errors"`
	SignerFailingSince  *time.Time `json:"signer_failing_since,omitempty"`
	AnchorFailingSince  *time.Time `json:"anchor_failing_since,omitempty"`
	StorageFailingSince *time.Time `json:"storage_failing_since,omitempty"`
	// ConfigReloadedAt is when the configuration was last reloaded
	// (absent before the first reload); ConfigReloadError why the last
	// reload failed ("" when it did not): the configuration in force is
	// then the one before it.
	ConfigReloadedAt  *time.Time `json:"config_reloaded_at,omitempty"`
	ConfigReloadError string     `json:"config_reload_error"`
}

// Degraded returns what fails among the sealer's dependencies, the most
// serious first, one line each: what, since when (as of now), how many
// errors, and the error. It is empty while every dependency works. The
// order: the disk (nothing can be written), the log key (nothing is
// sealed), a witness's split view (someone rewrote history), the TPM
// counter (checkpoints are not anchored), witnessing below its quorum.
// audit-sealer status makes the first one its headline.
func (st *Status) Degraded(now time.Time) []string {
	var out []string
	failing := func(what, err string, since *time.Time, count uint64, noun string) {
		if err == "" {
			return
		}
		line := what + " failing"
		if since != nil {
			line += " for " + now.Sub(*since).Round(time.Second).String()
		}
		if count > 0 {
			line += fmt.Sprintf(" (%d %s)", count, noun)
		}
		out = append(out, line+": "+err)
	}
	failing("storage", st.StorageError, st.StorageFailingSince, st.StorageErrors, "errors")
	failing("signing", st.SignerError, st.SignerFailingSince, st.SealErrors, "failed seals")
	var working int
	var failingWitnesses []string
	for _, w := range st.Witnesses {
		switch {
		case w.SplitView:
			out = append(out, fmt.Sprintf("SPLIT VIEW reported by witness %s: %s", w.Name, w.Error))
		case w.Error != "":
			failingWitnesses = append(failingWitnesses, w.Name+": "+w.Error)
		default:
			working++
		}
	}
	failing("tpm anchoring", st.AnchorError, st.AnchorFailingSince, st.AnchorErrors, "errors")
	if len(st.Witnesses) > 0 && working < st.WitnessQuorum && len(failingWitnesses) > 0 {
		out = append(out, fmt.Sprintf("witnessing below its quorum (%d of %d witnesses cosign, quorum %d): %s",
			working, len(st.Witnesses), st.WitnessQuorum, strings.Join(failingWitnesses, "; ")))
	}
	return out
}

// setIdentity fills in the parts of the status that do not change while
// the sealer runs: the log and the signing key. updateStatus runs on every
// writer round, and the key ID alone (a DER encoding and a hash) cost more
// than the rest of it.
func (s *Sealer) setIdentity() {
	cur := s.currentSigner()
	pub := cur.Public()
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	st := &s.status
	st.LogID = s.ledger.LogID().String()
	st.KeyID, st.KeyKind, st.Algorithm, st.Dev = pub.ID(), string(cur.Kind()), string(pub.Algorithm), s.cfg.Dev
	st.Version = buildinfo.Version()
}

// updateStatus refreshes the snapshot from the ledger; only the writer (or
// New and recordStart, before the writer runs) calls it.
func (s *Sealer) updateStatus() {
	l := s.ledger
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	st := &s.status
	st.Records = l.NextSeq()
	st.LastSeq = l.NextSeq() - 1
	st.Unsealed = l.Unsealed()
	if cp := l.LastCheckpoint(); cp != nil {
		st.LastCheckpointSize, st.LastCheckpointTime = cp.Size, cp.Time
	}
	if err := l.Err(); err != nil {
		st.StorageError = err.Error()
	}
	st.Anchoring = s.anchoring
	if a := l.LastAnchor(); a != nil {
		v := *a
		st.LastAnchor = &v
		if age := l.SinceAnchor(); age > 0 {
			secs := age.Seconds()
			st.LastAnchorAgeSeconds = &secs
		}
	}
	st.AnchorsMade = l.AnchorsMade()
	if up := time.Since(s.started).Seconds(); up > 0 {
		st.NVWritesPerYearEstim = float64(st.AnchorsMade) / up * 365 * 24 * 3600
	}
	s.m.nvWrites.Set(st.NVWritesPerYearEstim)
	if st.LastAnchor != nil {
		s.m.anchorValue.Set(float64(*st.LastAnchor))
	}
	if st.LastAnchorAgeSeconds != nil {
		s.m.lastAnchor.Set(float64(time.Now().Add(-time.Duration(*st.LastAnchorAgeSeconds*float64(time.Second))).UnixNano()) / 1e9)
	}
	s.m.unsealed.Set(float64(st.Unsealed))
	if !st.LastCheckpointTime.IsZero() {
		s.m.lastSeal.Set(float64(st.LastCheckpointTime.UnixNano()) / 1e9)
	}
}

// component is one of the three things the sealer depends on to seal:
// the log key, the TPM counter and the disk. Each is either working or
// failing with an error, which the status shows.
type component int

const (
	logKey component = iota
	tpmCounter
	disk
)

// fieldsOf returns where the status keeps c's error ("" while it works),
// its error count and since when it fails.
func (st *Status) fieldsOf(c component) (err *string, count *uint64, since **time.Time) {
	switch c {
	case logKey:
		return &st.SignerError, &st.SealErrors, &st.SignerFailingSince
	case tpmCounter:
		return &st.AnchorError, &st.AnchorErrors, &st.AnchorFailingSince
	default:
		return &st.StorageError, &st.StorageErrors, &st.StorageFailingSince
	}
}

// failing records err as c's error, counts it, and reports whether c
// worked until now: only that transition is logged, so a failure that
// lasts does not flood the log.
func (s *Sealer) failing(c component, err error) (first bool) {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	e, count, since := s.status.fieldsOf(c)
	first = *e == ""
	*e = err.Error()
	*count++
	if first {
		now := time.Now().UTC()
		*since = &now
	}
	return first
}

// working clears c's error and returns the one it had ("" if c was
// working already).
func (s *Sealer) working(c component) (was string) {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	e, _, since := s.status.fieldsOf(c)
	was, *e, *since = *e, "", nil
	return was
}

// noteStorageError notes a storage failure: after it the ledger refuses
// every write (fail closed), and every emitter gets "unavailable". It
// returns err.
func (s *Sealer) noteStorageError(err error) error {
	if s.failing(disk, err) {
		s.log.Error("THE LOG CANNOT BE WRITTEN: refusing events until it can be written again", "error", err)
	}
	return err
}

// noteSealError notes that the log key could not sign.
func (s *Sealer) noteSealError(err error) {
	s.m.sealErrors.Inc()
	if s.failing(logKey, err) {
		s.log.Error("cannot seal: records stay durable and unsealed until signing works again", "error", err)
	}
}

// noteSealOK notes a signed checkpoint.
func (s *Sealer) noteSealOK() {
	if was := s.working(logKey); was != "" {
		s.log.Info("signing works again: unsealed records are sealed", "previous_error", was)
	}
}

// noteAnchor notes a checkpoint anchored in the TPM counter.
func (s *Sealer) noteAnchor(cp *chain.Checkpoint) {
	s.m.anchors.Inc()
	if was := s.working(tpmCounter); was != "" {
		s.log.Info("the TPM counter works again", "counter", *cp.Anchor, "previous_error", was)
	}
}

// noteAnchorError notes that a checkpoint could not be anchored.
func (s *Sealer) noteAnchorError(err error) {
	s.m.anchorErrors.Inc()
	if s.failing(tpmCounter, err) {
		s.log.Error("cannot anchor in the TPM counter: checkpoints are signed but not anchored until it works again", "error", err)
	}
}
