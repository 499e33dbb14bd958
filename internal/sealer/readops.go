package sealer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/wire"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/report"
	"github.com/audit-sealer/audit-sealer/report/signature"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// The export and report ops (PROTOCOL.md) let a reader ([query]) take the
// log out through the sealer without access to the data directory: an
// export streams the records that match a filter, as query does page by
// page, and may follow the log; a report is built by the sealer, which
// records the report's SHA-256 in the chain with the read and returns it
// with its signature (FORMAT.md §10). Both are recorded in the chain
// (audit.log_read) and made durable before anything is sent.

// readState is what the export and report ops share.
type readState struct {
	// report is held while a report is built: one at a time, beside
	// ingest; another request meanwhile gets unavailable.
	report sync.Mutex
	// exports counts the exports streaming now (at most maxExports).
	exports atomic.Int32
}

const (
	// exportBatch is how many records one reply of an export carries.
	exportBatch = 256
	// exportPoll is how often a following export looks for records
	// sealed since the last it sent.
	exportPoll = time.Second
	// maxExports bounds the exports streaming at once: each reads the
	// log beside ingest.
	maxExports = 16
)

// readFilter decodes the filter of a query or export request.
func readFilter(raw json.RawMessage) (wire.Filter, error) {
	var wf wire.Filter
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&wf); err != nil {
			return wf, fmt.Errorf("sealer: filter: %w", err)
		}
	}
	return wf, nil
}

// queryFilter is the query.Filter of a wire.Filter, read one segment at a
// time (the sealer's memory stays flat beside ingest).
func queryFilter(wf wire.Filter) query.Filter {
	return query.Filter{UserID: wf.User, Subject: wf.Subject, Service: wf.Service, Types: wf.Types, Entity: wf.Entity, From: wf.From, To: wf.To,
		CriticalOnly: wf.Critical, Sealer: wf.Sealer, After: wf.After, Workers: 1}
}

// tamperedReply is the reply to a read that found the log does not check.
func (s *Sealer) tamperedReply(id string, te *verify.TamperError, err error) *wire.Reply {
	s.log.Error("a read found the log tampered with", "reason", te.Failure.Reason, "segment", te.Failure.Segment, "error", err)
	r := errorReply(id, wire.CodeTampered, fmt.Sprintf("sealer: %v", err))
	r.Error.Reason = string(te.Failure.Reason)
	s.m.rejected.WithLabelValues(wire.CodeTampered).Inc()
	return r
}

// handleExport answers an export op: a reader's export is recorded in the
// chain (audit.log_read, operation export, with the filters and whether it
// follows; results 0, as the count is not known when it starts), and once
// that record is durable the matches are streamed (streamExport).
func (s *Sealer) handleExport(peer *Peer, id string, w *wire.Request) pending {
	if !s.mayRead(peer) {
		s.log.Warn("refused a read of the log", "op", w.Op, "uid", peer.UID, "gid", peer.GID, "pid", peer.PID)
		return s.reject(id, wire.CodeNotAuthorized, ErrQueryNotAllowed.Error(), nil)
	}
	wf, err := readFilter(w.Filter)
	if err != nil {
		return s.reject(id, wire.CodeBadRequest, err.Error(), nil)
	}
	f := queryFilter(wf)
	if err := f.Check(); err != nil {
		return s.reject(id, wire.CodeBadRequest, err.Error(), nil)
	}
	if s.reading.exports.Load() >= maxExports {
		return s.reject(id, wire.CodeUnavailable, fmt.Sprintf("sealer: %d exports are streaming; try again later", maxExports), nil)
	}
	filters, _ := json.Marshal(struct {
		wire.Filter
		Follow bool `json:"follow,omitempty"`
	}{wf, w.Follow})
	r := &request{kind: reqLogRead, done: make(chan reply, 1), sealerEvent: &event.LogRead{Timestamp: time.Now().UTC(),
		UID: peer.UID, GID: peer.GID, Operation: event.OpExport, Filters: filters}}
	if err := s.submit(r); err != nil {
		return s.rejectErr(id, err)
	}
	follow := w.Follow
	return pending{req: r, id: id, stream: func(ctx context.Context, _ *request, send func(*wire.Reply) bool) {
		s.streamExport(ctx, id, f, follow, send)
	}}
}

// errExportGone stops an export whose client no longer reads.
var errExportGone = errors.New("sealer: the export's client is gone")

// streamExport sends the matches of f in replies of up to exportBatch,
// each with next (the last seq it holds), then a reply with done, or, when
// it follows, goes on with what is sealed after them until ctx ends (the
// client left, or the sealer stops). The log is read as a query reads it,
// trusting the sealer's key; a log that does not check ends the export
// with the error tampered.
func (s *Sealer) streamExport(ctx context.Context, id string, f query.Filter, follow bool, send func(*wire.Reply) bool) {
	s.reading.exports.Add(1)
	defer s.reading.exports.Add(-1)
	batch := make([]*query.Match, 0, exportBatch)
	last := f.After
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		next := last
		ok := send(&wire.Reply{ID: id, OK: true, Matches: batch, Next: &next})
		clear(batch)
		batch = batch[:0]
		return ok
	}
	for {
		info, err := query.Scan(ctx, s.cfg.DataDir, s.queryTrust(), f, func(m *query.Match) error {
			batch = append(batch, m)
			last = m.Seq
			if len(batch) == exportBatch && !flush() {
				return errExportGone
			}
			return nil
		})
		var te *verify.TamperError
		switch {
		case errors.Is(err, errExportGone) || ctx.Err() != nil:
			return
		case errors.As(err, &te):
			flush()
			send(s.tamperedReply(id, te, err))
			return
		case err != nil:
			send(errorReply(id, wire.CodeInternal, fmt.Sprintf("sealer: export: %v", err)))
			return
		}
		if !flush() {
			return
		}
		if !follow {
			send(&wire.Reply{ID: id, OK: true, Done: true, Next: &last})
			return
		}
		// The next read starts after the last checkpoint this one read.
		f.After, f.Resume = last, info.End
		select {
		case <-ctx.Done():
			return
		case <-time.After(exportPoll):
		}
	}
}

// reportFilter is what a report request's filter may hold.
type reportFilter struct {
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// handleReport answers a report op: the sealer verifies its own log,
// builds the report (package report) and renders it, records the read in
// the chain with the report's SHA-256 (audit.log_read, operation report),
// seals that record, and sends the report with its signature, the
// record's inclusion proof (FORMAT.md §10). One report is built at a time.
func (s *Sealer) handleReport(peer *Peer, id string, w *wire.Request) pending {
	if !s.mayRead(peer) {
		s.log.Warn("refused a read of the log", "op", w.Op, "uid", peer.UID, "gid", peer.GID, "pid", peer.PID)
		return s.reject(id, wire.CodeNotAuthorized, ErrQueryNotAllowed.Error(), nil)
	}
	kind, err := report.ParseKind(w.Report)
	if err != nil {
		return s.reject(id, wire.CodeBadRequest, "sealer: "+err.Error(), nil)
	}
	format := w.Format
	if format == "" {
		format = "json"
	}
	if err := report.CheckFormat(format); err != nil {
		return s.reject(id, wire.CodeBadRequest, "sealer: "+err.Error(), nil)
	}
	if kind == report.KindGDPR && w.Customer == "" {
		return s.reject(id, wire.CodeBadRequest, "sealer: a gdpr report needs a customer", nil)
	}
	var rf reportFilter
	if len(w.Filter) > 0 {
		dec := json.NewDecoder(bytes.NewReader(w.Filter))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rf); err != nil {
			return s.reject(id, wire.CodeBadRequest, "sealer: report filter (from and to only): "+err.Error(), nil)
		}
	}
	if !rf.From.IsZero() && !rf.To.IsZero() && rf.To.Before(rf.From) {
		return s.reject(id, wire.CodeBadRequest, "sealer: the report's period ends before it starts", nil)
	}
	if !s.reading.report.TryLock() {
		return s.reject(id, wire.CodeUnavailable, "sealer: another report is being built; try again when it is done", nil)
	}
	body, r, err := s.buildReport(kind, format, w.Customer, rf)
	s.reading.report.Unlock()
	var te *verify.TamperError
	switch {
	case errors.As(err, &te):
		return pending{ready: s.tamperedReply(id, te, err)}
	case err != nil:
		return s.reject(id, wire.CodeInternal, fmt.Sprintf("sealer: report: %v", err), nil)
	}
	sum := sha256.Sum256(body)
	filters, _ := json.Marshal(struct {
		Report   string    `json:"report"`
		Format   string    `json:"format"`
		From     time.Time `json:"from,omitzero"`
		To       time.Time `json:"to,omitzero"`
		Customer string    `json:"customer,omitempty"`
	}{kind, format, rf.From, rf.To, w.Customer})
	cov := r.Cover()
	rec := &request{kind: reqLogRead, done: make(chan reply, 1), sealerEvent: &event.LogRead{Timestamp: time.Now().UTC(),
		UID: peer.UID, GID: peer.GID, Operation: event.OpReport, Filters: filters, Results: cov.Records, ReportSHA256: hex.EncodeToString(sum[:])}}
	if err := s.submit(rec); err != nil {
		return s.rejectErr(id, err)
	}
	verdict := cov.Verdict
	return pending{req: rec, id: id, stream: func(_ context.Context, rec *request, send func(*wire.Reply) bool) {
		send(s.signReport(id, kind, format, verdict, body, rec.seq))
	}}
}

// buildReport verifies the log and builds the report of kind, as a
// reader of the files would, trusting the log's key history from its
// first key to the sealer's (reportKeys).
func (s *Sealer) buildReport(kind, format, customer string, rf reportFilter) ([]byte, report.Report, error) {
	keys, err := s.reportKeys()
	if err != nil {
		return nil, nil, err
	}
	// Sealed first, so that the report covers the records up to now.
	fl := &request{kind: reqFlush, done: make(chan reply, 1)}
	if err := s.submit(fl); err != nil {
		return nil, nil, err
	}
	if rep := <-fl.done; rep.err != nil {
		return nil, nil, fmt.Errorf("the log could not be sealed before the report: %w", rep.err)
	}
	// A stop does not wait for a long verification.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if s.stopping.Load() {
					cancel()
					return
				}
			}
		}
	}()
	r, err := report.Build(ctx, kind, report.Options{Dir: s.cfg.DataDir, Keys: keys, From: rf.From, To: rf.To,
		Customer: customer, ReadThrough: report.ReadBySealer, Workers: 1, Live: true, LastKey: s.currentSigner().Public().ID()})
	if err != nil {
		return nil, nil, err
	}
	body, err := report.Render(r, format)
	return body, r, err
}

// reportKeys are the keys the sealer's reports verify the log with
// (report.HistoryKeys of its own key, the root of its key history looked
// for among the keys of WithReportKeys too).
func (s *Sealer) reportKeys() (signer.Verifiers, error) {
	var candidates signer.Verifiers
	if s.rootCandidates != nil {
		var err error
		if candidates, err = s.rootCandidates(); err != nil {
			s.log.Warn("cannot list the keys that may have started the log; a report on a log rotated away from its first key is unverifiable", "error", err)
		}
	}
	return report.HistoryKeys(s.cfg.DataDir, s.currentSigner().Public(), candidates)
}

// WithReportKeys gives the sealer the public keys that may have signed
// its log's first checkpoint (the keys on its token): its reports verify
// the log from the root of its key history, which the log does not hold.
func WithReportKeys(list func() (signer.Verifiers, error)) Option {
	return func(o *options) { o.rootCandidates = list }
}

// signReport seals the audit.log_read record at seq that holds the
// report's SHA-256, and returns the reply with the report and its
// signature: that record's inclusion proof, checked before it is sent.
func (s *Sealer) signReport(id, kind, format, verdict string, body []byte, seq uint64) *wire.Reply {
	fl := &request{kind: reqFlush, done: make(chan reply, 1)}
	if err := s.submit(fl); err != nil {
		return &wire.Reply{ID: id, Error: errorFor(err)}
	}
	if rep := <-fl.done; rep.err != nil {
		r := &wire.Reply{ID: id, Error: errorFor(rep.err)}
		r.Error.Message = fmt.Sprintf("sealer: the report's record %d could not be sealed, so the report cannot be signed: %v", seq, rep.err)
		return r
	}
	bundles, err := verify.ProveRecords(s.cfg.DataDir, []uint64{seq})
	if err != nil {
		return errorReply(id, wire.CodeInternal, fmt.Sprintf("sealer: the proof of the report's record %d: %v", seq, err))
	}
	sig, err := signature.New(kind, format, body, bundles[0])
	if err == nil {
		var keys signer.Verifiers
		if keys, err = s.reportKeys(); err == nil {
			f, b, perr := signature.Parse(sig)
			if err = perr; err == nil {
				_, err = signature.Check(body, f, b, verify.NewKeyRing(keys))
			}
		}
	}
	if err != nil {
		return errorReply(id, wire.CodeInternal, fmt.Sprintf("sealer: the report's signature does not check: %v", err))
	}
	sum := sha256.Sum256(body)
	return &wire.Reply{ID: id, OK: true, Report: &wire.Report{Kind: kind, Format: format, Verdict: verdict,
		SHA256: hex.EncodeToString(sum[:]), Seq: seq, Body: body, Signature: sig}}
}
