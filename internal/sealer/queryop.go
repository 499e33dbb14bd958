package sealer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/wire"
	"github.com/audit-sealer/audit-sealer/query"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// ErrQueryNotAllowed is returned when a peer that the configuration does
// not list asks to read the log.
var ErrQueryNotAllowed = errors.New("sealer: this peer may not read the log")

// maxQueryResults bounds one query reply; clients page with "after".
const maxQueryResults = 1000

// mayRead reports whether the configuration lets peer read the log
// ([query]: its uid, or a group it is in, primary or supplementary).
func (s *Sealer) mayRead(peer *Peer) bool {
	return s.settings().reader.allows(peer.UID, peer.GID, peer.Groups)
}

// queryTrust is what the sealer's own queries trust: its signing key (by
// the key itself, whatever name a checkpoint's signature line gives it).
// The log's older segments, signed by keys rotated out, are authenticated
// through the later ones (package query), never by an old key.
func (s *Sealer) queryTrust() verify.Trust {
	pub := s.currentSigner().Public()
	pub.Name = ""
	return verify.Trust{Keys: signer.Verifiers{pub}}
}

// handleQuery answers a query op: only peers the configuration allows may
// read the log, and every read is recorded in the chain (audit.log_read:
// who asked, with what filters, how many results) and made durable before
// the results are sent. The query trusts the sealer's own key and checks
// what it reads (package query); a log that does not check gets the error
// code tampered, with the verifier's reason code, and no results.
func (s *Sealer) handleQuery(peer *Peer, id string, w *wire.Request) pending {
	if !s.mayRead(peer) {
		s.log.Warn("refused a read of the log", "uid", peer.UID, "gid", peer.GID, "pid", peer.PID)
		return s.reject(id, wire.CodeNotAuthorized, ErrQueryNotAllowed.Error(), nil)
	}
	wf, err := readFilter(w.Filter)
	if err != nil {
		return s.reject(id, wire.CodeBadRequest, err.Error(), nil)
	}
	limit := w.Limit
	if limit <= 0 || limit > maxQueryResults {
		limit = maxQueryResults
	}
	// One segment at a time: the sealer's memory stays flat beside ingest.
	f := queryFilter(wf)
	f.Limit = limit
	if err := f.Check(); err != nil {
		return s.reject(id, wire.CodeBadRequest, err.Error(), nil)
	}
	var matches []*query.Match
	info, err := query.Scan(context.Background(), s.cfg.DataDir, s.queryTrust(), f, func(m *query.Match) error {
		matches = append(matches, m)
		return nil
	})
	var te *verify.TamperError
	switch {
	case errors.As(err, &te):
		// The log does not check: nothing is sent, and the reply names
		// the verifier's reason code.
		return pending{ready: s.tamperedReply(id, te, err)}
	case err != nil:
		return s.reject(id, wire.CodeInternal, fmt.Sprintf("sealer: query: %v", err), nil)
	}
	filters, _ := json.Marshal(wf)
	r := &request{kind: reqLogRead, done: make(chan reply, 1), sealerEvent: &event.LogRead{Timestamp: time.Now().UTC(),
		UID: peer.UID, GID: peer.GID, Operation: event.OpQuery, Filters: filters, Results: uint64(len(matches))}}
	if err := s.submit(r); err != nil {
		return s.rejectErr(id, err)
	}
	more, next := info.More, info.Next
	result := &wire.Reply{ID: id, OK: true, More: &more, Next: &next}
	if len(matches) > 0 {
		result.Matches = matches // a nil slice would be written as "matches":null
	}
	return pending{req: r, id: id, result: result}
}
