package sealer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/query"
)

// MaxLine is the longest request line, newline included (PROTOCOL.md).
const MaxLine = 128 << 10

// maxPending bounds the replies a connection may owe; a client that sends
// faster than it reads replies is slowed down, not buffered without bound.
const maxPending = 512

// writeTimeout cuts off a client that does not read its replies.
const writeTimeout = 10 * time.Second

// wireRequest is a request line (PROTOCOL.md "Requests").
type wireRequest struct {
	Op      string          `json:"op"`
	ID      *string         `json:"id"`
	Durable bool            `json:"durable"`
	Service string          `json:"service"`
	Event   json.RawMessage `json:"event"`
	Count   uint64          `json:"count"`
	Reason  string          `json:"reason"`
	Filter  json.RawMessage `json:"filter"`
	Limit   int             `json:"limit"`
}

// wireReply is a reply line.
type wireReply struct {
	ID             string         `json:"id,omitempty"`
	OK             bool           `json:"ok"`
	Accepted       bool           `json:"accepted,omitempty"`
	Seq            *uint64        `json:"seq,omitempty"`
	AuditID        string         `json:"audit_id,omitempty"`
	Durable        bool           `json:"durable,omitempty"`
	Sealed         bool           `json:"sealed,omitempty"`
	CheckpointSize *uint64        `json:"checkpoint_size,omitempty"`
	Time           string         `json:"time,omitempty"`
	Status         *Status        `json:"status,omitempty"`
	Matches        []*query.Match `json:"matches,omitempty"`
	More           *bool          `json:"more,omitempty"`
	Next           *uint64        `json:"next,omitempty"`
	Error          *wireError     `json:"error,omitempty"`
}

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Reason  string `json:"reason,omitempty"` // tampered: the verifier's reason code
}

// pending is one reply owed, in request order: either ready now, or waiting
// for the writer's outcome of req.
type pending struct {
	ready *wireReply
	req   *request
	id    string
	// accepted: the reply is {"ok":true,"accepted":true} with id, written
	// without building a wireReply (most replies under load are this one).
	accepted bool
	// result, if set, is the reply to send once req succeeded (a query's
	// matches, sent only after its read is recorded).
	result *wireReply
}

// serveConn reads request lines, answers them in order, and closes the
// connection when the client leaves, misbehaves or the sealer stops.
func (s *Sealer) serveConn(c *net.UnixConn) {
	defer c.Close()
	uid, gid, pid, err := peerCred(c)
	if err != nil {
		s.log.Error("cannot read peer credentials; closing", "error", err)
		return
	}
	if s.testHookPeerUID != nil {
		uid = s.testHookPeerUID(uid)
	}
	peer := &Peer{UID: uid, GID: gid, PID: pid, Services: s.policy.services(uid, gid), queue: s.peers.of(uid)}
	st := s.trackConn(c, true)
	defer s.trackConn(c, false)

	replies := make(chan pending, maxPending)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeReplies(c, replies)
	}()
	lr := newLineReader(c, MaxLine, s.cfg.Limits.LineTimeout.Duration, s.cfg.Limits.IdleTimeout.Duration, s.stopping.Load)
	lr.onSkip = func() { s.holdBackBadLine(uid, pid) } // an over-long line costs a refused line per 128 KiB
	// refused counts a line refused as the client's fault, already
	// answered: it reports whether the connection is to be closed (more
	// than the limit of consecutive bad lines, PROTOCOL.md; the limit
	// itself is tolerated), and otherwise charges the uid's budget.
	bad := 0
	refused := func() (closeConn bool) {
		if bad++; bad > s.cfg.Limits.MaxBadLines {
			s.log.Warn("closing a connection that sends too many bad lines", "uid", uid, "pid", pid)
			return true
		}
		s.holdBackBadLine(uid, pid)
		return false
	}
	for {
		line, err := lr.next()
		if t := lr.lastRead(); !t.IsZero() {
			st.lastActive.Store(t.UnixNano())
		}
		if errors.Is(err, errLineTooLong) {
			s.m.rejected.WithLabelValues("frame_too_large").Inc()
			replies <- pending{ready: errorReply("", "frame_too_large", "sealer: request line longer than 131072 bytes; skipped")}
			if refused() {
				break
			}
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !s.stopping.Load() {
				s.log.Debug("connection closed", "uid", uid, "pid", pid, "reason", err)
			}
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		p := s.handle(peer, line)
		replies <- p
		if p.ready != nil && !p.ready.OK && isClientFault(p.ready.Error.Code) {
			if refused() {
				break
			}
		} else {
			bad = 0
		}
	}
	close(replies)
	<-writerDone
}

// holdBackBadLine charges a refused line to uid's budget (badLineBudget)
// and, past it, waits before the connection's next read: the sealer spends
// no more CPU on the uid's garbage than limits.bad_lines_per_second allows.
// The wait ends early when the sealer stops.
func (s *Sealer) holdBackBadLine(uid uint32, pid int32) {
	wait, first := s.badLines.charge(uid, time.Now())
	if wait <= 0 {
		return
	}
	s.m.badLineWaits.Inc()
	if first {
		s.log.Warn("a peer sends refused lines faster than bad_lines_per_second: its connections wait before each further read",
			"uid", uid, "pid", pid, "bad_lines_per_second", s.cfg.Limits.BadLinesPerSecond)
	}
	for end := time.Now().Add(wait); !s.stopping.Load(); {
		left := time.Until(end)
		if left <= 0 {
			return
		}
		time.Sleep(min(left, 100*time.Millisecond))
	}
}

func isClientFault(code string) bool {
	switch code {
	case "bad_json", "bad_request", "frame_too_large", "invalid_event", "not_authorized":
		return true
	}
	return false
}

// writeReplies writes owed replies in order, batching writes while more
// replies are ready.
func (s *Sealer) writeReplies(c *net.UnixConn, replies <-chan pending) {
	rw := &replyWriter{c: c, w: bufio.NewWriterSize(c, 8<<10)}
	var line []byte
	for p := range replies {
		switch {
		case p.accepted:
			line = appendAccepted(line[:0], p.id)
		case p.ready != nil:
			line = appendReply(line[:0], p.ready)
		case p.result != nil:
			// A query's matches go out only once its read is recorded.
			if rep := rw.await(p.req); rep.err != nil {
				line = appendReply(line[:0], replyFor(p.id, p.req, rep))
			} else {
				line = appendReply(line[:0], p.result)
			}
		default:
			line = appendOutcome(line[:0], p.id, p.req, rw.await(p.req))
		}
		if rw.broken {
			continue // keep draining so that the reader never blocks
		}
		rw.write(line)
		if len(replies) == 0 {
			rw.flush()
		}
	}
	rw.flush()
}

// replyWriter is the buffered reply side of one connection. Once a write
// fails it is broken: it writes nothing more, and the connection's reader
// is stopped.
type replyWriter struct {
	c      *net.UnixConn
	w      *bufio.Writer
	broken bool
	// deadlineSet is when the write deadline was last moved. It is moved
	// at most once a second (moving it touches the runtime's timers), so
	// a client that reads nothing is cut off after 9 to 10 s.
	deadlineSet time.Time
}

func (rw *replyWriter) deadline() {
	if now := time.Now(); now.Sub(rw.deadlineSet) >= time.Second {
		rw.c.SetWriteDeadline(now.Add(writeTimeout))
		rw.deadlineSet = now
	}
}

func (rw *replyWriter) write(line []byte) {
	if rw.broken {
		return
	}
	rw.deadline()
	if _, err := rw.w.Write(line); err != nil {
		rw.fail()
	}
}

func (rw *replyWriter) flush() {
	if rw.broken || rw.w.Buffered() == 0 {
		return
	}
	rw.deadline()
	if err := rw.w.Flush(); err != nil {
		rw.fail()
	}
}

func (rw *replyWriter) fail() {
	rw.broken = true
	rw.c.CloseRead() // make the reader stop too
}

// await returns the writer's outcome of r. If it is not there yet, the
// replies already buffered are sent first, so that a slow fsync or seal
// does not hold back pings and acceptances.
func (rw *replyWriter) await(r *request) reply {
	select {
	case rep := <-r.done:
		return rep
	default:
		rw.flush()
		return <-r.done
	}
}

// appendOutcome appends the reply to r, whose outcome the writer gave. A
// durable emit's success, the reply most durable traffic gets, is written
// by hand (byte for byte what appendReply writes for it); anything else
// goes through replyFor and appendReply.
func appendOutcome(dst []byte, id string, r *request, rep reply) []byte {
	if rep.err == nil && r.kind == reqEmit && rep.hasSeq && !rep.sealed &&
		len(id) <= 64 && isPlainJSONString(id) && rep.auditID != "" && isPlainJSONString(rep.auditID) {
		dst = appendIDField(append(dst, '{'), id)
		dst = append(dst, `"ok":true,"seq":`...)
		dst = strconv.AppendUint(dst, rep.seq, 10)
		dst = append(dst, `,"audit_id":"`...)
		dst = append(dst, rep.auditID...)
		return append(dst, `","durable":true}`+"\n"...)
	}
	return appendReply(dst, replyFor(id, r, rep))
}

// connState is what the sealer knows of an open connection.
type connState struct {
	lastActive atomic.Int64 // Unix nanoseconds of the last complete request line (or the accept)
}

// appendReply appends r's line (JSON and a newline). The two replies that
// most emits get (accepted; durable with seq and audit_id) are written by
// hand, byte for byte what encoding/json writes for them; every other reply
// goes through encoding/json.
func appendReply(dst []byte, r *wireReply) []byte {
	simpleID := len(r.ID) <= 64 && isPlainJSONString(r.ID)
	switch {
	case simpleID && r.OK && r.Accepted && r.Seq == nil && r.Status == nil && r.Matches == nil:
		dst = appendIDField(append(dst, '{'), r.ID)
		return append(dst, `"ok":true,"accepted":true}`+"\n"...)
	case simpleID && r.OK && r.Seq != nil && r.Durable && !r.Sealed && r.CheckpointSize == nil && r.Error == nil &&
		r.Status == nil && r.Matches == nil && r.AuditID != "" && isPlainJSONString(r.AuditID):
		dst = appendIDField(append(dst, '{'), r.ID)
		dst = append(dst, `"ok":true,"seq":`...)
		dst = strconv.AppendUint(dst, *r.Seq, 10)
		dst = append(dst, `,"audit_id":"`...)
		dst = append(dst, r.AuditID...)
		return append(dst, `","durable":true}`+"\n"...)
	}
	b, _ := json.Marshal(r)
	return append(append(dst, b...), '\n')
}

// appendAccepted appends the reply to an emit acknowledged on acceptance.
func appendAccepted(dst []byte, id string) []byte {
	if !isPlainJSONString(id) {
		return appendReply(dst, &wireReply{ID: id, OK: true, Accepted: true})
	}
	dst = appendIDField(append(dst, '{'), id)
	return append(dst, `"ok":true,"accepted":true}`+"\n"...)
}

func appendIDField(dst []byte, id string) []byte {
	if id == "" {
		return dst
	}
	dst = append(dst, `"id":"`...)
	dst = append(dst, id...)
	return append(dst, `",`...)
}

// isPlainJSONString reports whether s needs no escaping in JSON (printable
// ASCII without quotes, backslashes or HTML characters encoding/json escapes).
func isPlainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// trackConn records open connections so that a stop can interrupt their
// reads and a full house can make room.
func (s *Sealer) trackConn(c *net.UnixConn, open bool) *connState {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.open == nil {
		s.open = map[*net.UnixConn]*connState{}
	}
	if !open {
		delete(s.open, c)
		return nil
	}
	st := &connState{}
	st.lastActive.Store(time.Now().UnixNano())
	s.open[c] = st
	if s.stopping.Load() {
		c.SetReadDeadline(time.Now())
	}
	return st
}

// interruptReads makes every connection's reader return, so that a stop
// does not wait for idle clients.
func (s *Sealer) interruptReads() {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	for c := range s.open {
		c.SetReadDeadline(time.Now())
	}
}

// evictIdle makes room when every connection slot is taken: it closes the
// connection that has been silent longest, if it has been silent for at
// least minIdle, so that a crowd of idle connections cannot lock services
// out. It reports whether it closed one.
func (s *Sealer) evictIdle(minIdle time.Duration) bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	var oldest *net.UnixConn
	var oldestAt int64
	for c, st := range s.open {
		if at := st.lastActive.Load(); oldest == nil || at < oldestAt {
			oldest, oldestAt = c, at
		}
	}
	if oldest == nil || time.Since(time.Unix(0, oldestAt)) < minIdle {
		return false
	}
	oldest.SetReadDeadline(time.Now()) // its reader returns and closes it
	s.open[oldest].lastActive.Store(time.Now().UnixNano())
	return true
}

// handle turns one request line into the reply owed for it.
func (s *Sealer) handle(peer *Peer, line []byte) pending {
	if !utf8.Valid(line) {
		return s.reject("", "bad_json", "sealer: request is not valid UTF-8", nil)
	}
	if line[len(line)-1] == '\r' {
		return s.reject("", "bad_json", "sealer: request line ends in a carriage return (lines end in a newline alone)", nil)
	}
	if t := bytes.TrimLeft(line, " \t"); len(t) == 0 || t[0] != '{' {
		return s.reject("", "bad_json", "sealer: request is not a JSON object", nil)
	}
	w, perr := parseRequest(line)
	if perr != nil {
		if perr.code == "invalid_event" {
			return s.rejectErr(perr.id, &event.ValidationError{Rule: event.RuleTooDeep, Detail: "JSON nested too deeply"})
		}
		return s.reject(perr.id, perr.code, perr.message, nil)
	}
	id := ""
	if w.ID != nil {
		id = *w.ID
		if len(id) > 64 {
			return s.reject("", "bad_request", "sealer: id longer than 64 bytes", nil)
		}
	}
	switch w.Op {
	case "emit":
		return s.handleEmit(peer, id, &w)
	case "flush":
		r := &request{kind: reqFlush, done: make(chan reply, 1)}
		if err := s.submit(r); err != nil {
			return s.rejectErr(id, err)
		}
		return pending{req: r, id: id}
	case "status":
		st := s.Status()
		return pending{ready: &wireReply{ID: id, OK: true, Status: &st}}
	case "query":
		return s.handleQuery(peer, id, &w)
	case "ping":
		return pending{ready: &wireReply{ID: id, OK: true, Time: time.Now().UTC().Format(time.RFC3339Nano)}}
	case "report_dropped":
		if w.Count == 0 {
			return s.reject(id, "bad_request", "sealer: report_dropped needs a count above 0", nil)
		}
		reason := w.Reason
		if reason == "" {
			reason = "unspecified"
		}
		service, err := peer.choose(w.Service)
		if err != nil {
			return s.rejectErr(id, err)
		}
		// The reason goes into a sealer event: refuse here what that event
		// may not hold, rather than fail in the writer.
		ev := &event.ClientDropped{Timestamp: time.Now().UTC(), ServiceID: service, Count: w.Count, Reason: reason}
		if err := event.Validate(ev, time.Time{}); err != nil {
			return s.rejectErr(id, err)
		}
		r := &request{kind: reqDropped, service: service, sealerEvent: ev, done: make(chan reply, 1)}
		if err := s.submit(r); err != nil {
			return s.rejectErr(id, err)
		}
		return pending{req: r, id: id}
	case "":
		return s.reject(id, "bad_request", "sealer: request has no op", nil)
	}
	return s.reject(id, "bad_request", "sealer: unknown op", nil)
}

func (s *Sealer) handleEmit(peer *Peer, id string, w *wireRequest) pending {
	if len(w.Event) == 0 || string(w.Event) == "null" {
		return s.reject(id, "bad_request", "sealer: emit needs an event", nil)
	}
	service, err := peer.choose(w.Service)
	if err != nil {
		return s.rejectErr(id, err)
	}
	now := time.Now()
	opts := event.DecodeOptions{Now: now}
	// Fast path: an event already in canonical form (as the Go client and
	// event.Encode write it) is checked in one pass without being decoded
	// and stored as it came. Anything else is decoded, which names the
	// field and rule of a refusal, and re-encoded canonically.
	var body []byte
	typ, err := event.CheckCanonical(w.Event, opts)
	if err == nil {
		body = bytes.Clone(w.Event)
	} else {
		ev, err := event.Decode(w.Event, opts)
		if err != nil {
			return s.rejectErr(id, err)
		}
		if body, err = event.AppendEncode(nil, ev, now); err != nil {
			return s.rejectErr(id, err)
		}
		typ = ev.EventType()
	}
	r := &request{kind: reqEmit, service: service, typ: typ, body: body, durable: w.Durable,
		critical: event.IsCritical(typ), received: now.UnixNano(), queue: peer.queue}
	if r.durable || r.critical {
		r.done = make(chan reply, 1)
	}
	if err := s.submit(r); err != nil {
		return s.rejectErr(id, err)
	}
	if r.done == nil {
		s.m.acceptedNow.Inc()
		return pending{accepted: true, id: id}
	}
	s.m.acceptedWaits.Inc()
	return pending{req: r, id: id}
}

// replyFor builds the reply to a request the writer has finished.
func replyFor(id string, r *request, rep reply) *wireReply {
	w := &wireReply{ID: id}
	if rep.hasSeq {
		seq := rep.seq
		w.Seq, w.AuditID = &seq, rep.auditID
		w.Durable = true
		w.Sealed = rep.sealed
	}
	if r.kind == reqDropped && rep.err == nil {
		seq := r.seq
		w.Seq = &seq
	}
	if r.kind == reqFlush && rep.err == nil {
		size := rep.checkpointSize
		w.CheckpointSize = &size
	}
	if rep.err != nil {
		w.Error = errorFor(rep.err)
		if !errors.Is(rep.err, ErrNotSealed) {
			w.Seq, w.AuditID, w.Durable = nil, "", false
		}
		return w
	}
	w.OK = true
	return w
}

func (s *Sealer) reject(id, code, msg string, ve *event.ValidationError) pending {
	s.m.rejected.WithLabelValues(code).Inc()
	r := errorReply(id, code, msg)
	if ve != nil {
		r.Error.Field, r.Error.Rule = ve.Field, ve.Rule
	}
	return pending{ready: r}
}

func (s *Sealer) rejectErr(id string, err error) pending {
	e := errorFor(err)
	s.m.rejected.WithLabelValues(e.Code).Inc()
	return pending{ready: &wireReply{ID: id, Error: e}}
}

func errorReply(id, code, msg string) *wireReply {
	return &wireReply{ID: id, Error: &wireError{Code: code, Message: msg}}
}

// errorFor maps an error to its protocol error code.
func errorFor(err error) *wireError {
	var ve *event.ValidationError
	switch {
	case errors.As(err, &ve):
		return &wireError{Code: "invalid_event", Message: err.Error(), Field: ve.Field, Rule: ve.Rule}
	case errors.Is(err, ErrNotAuthorized):
		return &wireError{Code: "not_authorized", Message: err.Error()}
	case errors.Is(err, ErrShed), errors.Is(err, ErrPeerShare):
		return &wireError{Code: "shed", Message: err.Error()}
	case errors.Is(err, ErrQueueWait):
		return &wireError{Code: "timeout", Message: err.Error()}
	case errors.Is(err, ErrNotSealed):
		return &wireError{Code: "not_sealed", Message: err.Error()}
	case errors.Is(err, ErrUnavailable):
		return &wireError{Code: "unavailable", Message: err.Error()}
	}
	return &wireError{Code: "internal", Message: err.Error()}
}
