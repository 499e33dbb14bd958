package sealer

import "time"

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
	UptimeSeconds        float64  `json:"uptime_seconds"`
}

// setIdentity fills in the parts of the status that do not change while
// the sealer runs: the log and the signing key. updateStatus runs on every
// writer round, and the key ID alone (a DER encoding and a hash) cost more
// than the rest of it.
func (s *Sealer) setIdentity() {
	pub := s.signer.Public()
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	st := &s.status
	st.LogID = s.ledger.LogID().String()
	st.KeyID, st.KeyKind, st.Algorithm, st.Dev = pub.ID(), string(s.signer.Kind()), string(pub.Algorithm), s.cfg.Dev
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

func (s *Sealer) setSignerError(msg string) {
	s.statusMu.Lock()
	s.status.SignerError = msg
	s.statusMu.Unlock()
}
