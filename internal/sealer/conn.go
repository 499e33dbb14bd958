package sealer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
	"github.com/audit-sealer/audit-sealer/internal/wire"
)

// maxPending bounds the replies a connection may owe; a client that sends
// faster than it reads replies is slowed down, not buffered without bound.
const maxPending = 512

// writeTimeout cuts off a client that does not read its replies.
const writeTimeout = 10 * time.Second

// pending is one reply owed, in request order: either ready now, or waiting
// for the writer's outcome of req.
type pending struct {
	ready *wire.Reply
	req   *request
	id    string
	// accepted: the reply is {"ok":true,"accepted":true} with id, written
	// without building a wire.Reply (most replies under load are this one).
	accepted bool
	// result, if set, is the reply to send once req succeeded (a query's
	// matches, sent only after its read is recorded).
	result *wire.Reply
	// stream, if set, sends the replies once req succeeded (an export's
	// matches, a report), as many as it needs, through send, which
	// reports false once the client no longer reads; ctx ends when the
	// connection's reader stops (the client left, the sealer stops). The
	// connection's other replies wait until it returns.
	stream func(ctx context.Context, req *request, send func(*wire.Reply) bool)
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
	peer := &Peer{UID: uid, GID: gid, PID: pid, Groups: peerGroups(c), queue: s.peers.of(uid)}
	s.refreshPeer(peer)
	limits := s.settings().cfg.Limits
	st := s.trackConn(c, true)
	defer s.trackConn(c, false)

	replies := make(chan pending, maxPending)
	writerDone := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer close(writerDone)
		s.writeReplies(ctx, c, st, replies)
	}()
	lr := newLineReader(c, wire.MaxLine, limits.LineTimeout.Duration, limits.IdleTimeout.Duration, s.stopping.Load)
	lr.onSkip = func() { s.holdBackBadLine(uid, pid) } // an over-long line costs a refused line per 128 KiB
	bad := badLines{s: s, uid: uid, pid: pid}
	for {
		line, err := lr.next()
		if t := lr.lastRead(); !t.IsZero() {
			st.lastActive.Store(t.UnixNano())
		}
		if errors.Is(err, errLineTooLong) {
			s.m.rejected.WithLabelValues(wire.CodeFrameTooLarge).Inc()
			replies <- pending{ready: errorReply("", wire.CodeFrameTooLarge, "sealer: request line longer than 131072 bytes; skipped")}
			if bad.refused() {
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
		if p.stream != nil {
			// An export may follow the log for hours, and a report
			// takes a while to build: the client waits in silence.
			lr.idleTimeout = 0
		}
		replies <- p
		if p.ready != nil && !p.ready.OK && wire.IsClientFault(p.ready.Error.Code) {
			if bad.refused() {
				break
			}
		} else {
			bad.n = 0
		}
	}
	cancel() // a stream in progress ends
	close(replies)
	<-writerDone
}

// badLines counts a connection's consecutive lines refused as the
// client's fault.
type badLines struct {
	s   *Sealer
	uid uint32
	pid int32
	n   int
}

// refused counts a refused line, already answered: it reports whether the
// connection is to be closed (more than the limit of consecutive bad
// lines, PROTOCOL.md; the limit itself is tolerated), and otherwise charges
// the uid's budget.
func (b *badLines) refused() (closeConn bool) {
	if b.n++; b.n > b.s.settings().cfg.Limits.MaxBadLines {
		b.s.log.Warn("closing a connection that sends too many bad lines", "uid", b.uid, "pid", b.pid)
		return true
	}
	b.s.holdBackBadLine(b.uid, b.pid)
	return false
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
			"uid", uid, "pid", pid, "bad_lines_per_second", s.settings().cfg.Limits.BadLinesPerSecond)
	}
	for end := time.Now().Add(wait); !s.stopping.Load(); {
		left := time.Until(end)
		if left <= 0 {
			return
		}
		time.Sleep(min(left, 100*time.Millisecond))
	}
}

// writeReplies writes owed replies in order, batching writes while more
// replies are ready.
func (s *Sealer) writeReplies(ctx context.Context, c *net.UnixConn, st *connState, replies <-chan pending) {
	rw := &replyWriter{c: c, w: bufio.NewWriterSize(c, 8<<10)}
	var line []byte
	for p := range replies {
		switch {
		case p.stream != nil:
			if rep := rw.await(p.req); rep.err != nil {
				line = wire.AppendReply(line[:0], replyFor(p.id, p.req, rep))
				break
			}
			p.stream(ctx, p.req, func(r *wire.Reply) bool {
				if rw.broken {
					return false
				}
				line = wire.AppendReply(line[:0], r)
				rw.write(line)
				rw.flush()
				st.lastActive.Store(time.Now().UnixNano())
				return !rw.broken
			})
			continue
		case p.accepted:
			line = wire.AppendAccepted(line[:0], p.id)
		case p.ready != nil:
			line = wire.AppendReply(line[:0], p.ready)
		case p.result != nil:
			// A query's matches go out only once its read is recorded.
			if rep := rw.await(p.req); rep.err != nil {
				line = wire.AppendReply(line[:0], replyFor(p.id, p.req, rep))
			} else {
				line = wire.AppendReply(line[:0], p.result)
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
// without building a wire.Reply (byte for byte what wire.AppendReply writes
// for replyFor's reply); anything else goes through replyFor.
func appendOutcome(dst []byte, id string, r *request, rep reply) []byte {
	if rep.err == nil && r.kind == reqEmit && rep.hasSeq && !rep.sealed && rep.auditID != "" {
		return wire.AppendDurable(dst, id, rep.seq, rep.auditID)
	}
	return wire.AppendReply(dst, replyFor(id, r, rep))
}

// connState is what the sealer knows of an open connection.
type connState struct {
	lastActive atomic.Int64 // Unix nanoseconds of the last complete request line (or the accept)
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
		return s.reject("", wire.CodeBadJSON, "sealer: request is not valid UTF-8", nil)
	}
	if line[len(line)-1] == '\r' {
		return s.reject("", wire.CodeBadJSON, "sealer: request line ends in a carriage return (lines end in a newline alone)", nil)
	}
	if t := bytes.TrimLeft(line, " \t"); len(t) == 0 || t[0] != '{' {
		return s.reject("", wire.CodeBadJSON, "sealer: request is not a JSON object", nil)
	}
	w, err := wire.ParseRequest(line)
	var pe *wire.ParseError
	if errors.As(err, &pe) {
		if pe.Code == wire.CodeInvalidEvent {
			return s.rejectErr(pe.ID, &event.ValidationError{Rule: event.RuleTooDeep, Detail: "JSON nested too deeply"})
		}
		return s.reject(pe.ID, pe.Code, "sealer: "+pe.Message, nil)
	}
	s.refreshPeer(peer)
	id := ""
	if w.ID != nil {
		id = *w.ID
		if len(id) > wire.MaxID {
			return s.reject("", wire.CodeBadRequest, "sealer: id longer than 64 bytes", nil)
		}
	}
	switch w.Op {
	case wire.OpEmit:
		return s.handleEmit(peer, id, &w)
	case wire.OpFlush:
		return s.toWriter(id, &request{kind: reqFlush, done: make(chan reply, 1)})
	case wire.OpStatus:
		st := s.Status()
		return pending{ready: &wire.Reply{ID: id, OK: true, Status: &st}}
	case wire.OpQuery:
		return s.handleQuery(peer, id, &w)
	case wire.OpHello:
		return pending{ready: &wire.Reply{ID: id, OK: true, Hello: s.hello(peer)}}
	case wire.OpPing:
		return pending{ready: &wire.Reply{ID: id, OK: true, Time: time.Now().UTC().Format(time.RFC3339Nano)}}
	case wire.OpReportDropped:
		return s.handleReportDropped(peer, id, &w)
	case wire.OpRotateKey:
		return s.handleRotateKey(peer, id, &w)
	case wire.OpExport:
		return s.handleExport(peer, id, &w)
	case wire.OpReport:
		return s.handleReport(peer, id, &w)
	case "":
		return s.reject(id, wire.CodeBadRequest, "sealer: request has no op", nil)
	}
	return s.reject(id, wire.CodeBadRequest, "sealer: unknown op", nil)
}

// hello is the reply to a hello request: what a client may send to this
// sealer, and as which services.
func (s *Sealer) hello(peer *Peer) *wire.Hello {
	types := event.Types()
	var critical []string
	for _, t := range types {
		if event.IsCritical(t) {
			critical = append(critical, t)
		}
	}
	services := append([]string{}, peer.Services...)
	return &wire.Hello{Protocol: wire.ProtocolVersion, Version: buildinfo.Version(), Ops: wire.Ops(),
		Types: types, CriticalTypes: critical, Services: services}
}

// toWriter submits r to the writer; its reply is owed once the writer
// answers.
func (s *Sealer) toWriter(id string, r *request) pending {
	if err := s.submit(r); err != nil {
		return s.rejectErr(id, err)
	}
	return pending{req: r, id: id}
}

// handleReportDropped records a client's count of events it dropped
// (audit.client_dropped), as one of the services the peer may send for.
func (s *Sealer) handleReportDropped(peer *Peer, id string, w *wire.Request) pending {
	if w.Count == 0 {
		return s.reject(id, wire.CodeBadRequest, "sealer: report_dropped needs a count above 0", nil)
	}
	reason := w.Reason
	if reason == "" {
		reason = "unspecified"
	}
	service, err := s.chooseService(peer, w.Service)
	if err != nil {
		return s.rejectErr(id, err)
	}
	// The reason goes into a sealer event: refuse here what that event
	// may not hold, rather than fail in the writer.
	ev := &event.ClientDropped{Timestamp: time.Now().UTC(), ServiceID: service, Count: w.Count, Reason: reason}
	if err := event.Validate(ev, time.Time{}); err != nil {
		return s.rejectErr(id, err)
	}
	return s.toWriter(id, &request{kind: reqDropped, service: service, sealerEvent: ev, done: make(chan reply, 1)})
}

func (s *Sealer) handleEmit(peer *Peer, id string, w *wire.Request) pending {
	if len(w.Event) == 0 || string(w.Event) == "null" {
		return s.reject(id, wire.CodeBadRequest, "sealer: emit needs an event", nil)
	}
	service, err := s.chooseService(peer, w.Service)
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
func replyFor(id string, r *request, rep reply) *wire.Reply {
	w := &wire.Reply{ID: id}
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
	return pending{ready: &wire.Reply{ID: id, Error: e}}
}

func errorReply(id, code, msg string) *wire.Reply {
	return &wire.Reply{ID: id, Error: &wire.Error{Code: code, Message: msg}}
}

// errorFor maps an error to its protocol error code.
func errorFor(err error) *wire.Error {
	var ve *event.ValidationError
	switch {
	case errors.As(err, &ve):
		return &wire.Error{Code: wire.CodeInvalidEvent, Message: err.Error(), Field: ve.Field, Rule: ve.Rule}
	case errors.Is(err, ErrNotAuthorized):
		return &wire.Error{Code: wire.CodeNotAuthorized, Message: err.Error()}
	case errors.Is(err, ErrShed), errors.Is(err, ErrPeerShare):
		return &wire.Error{Code: wire.CodeShed, Message: err.Error()}
	case errors.Is(err, ErrQueueWait):
		return &wire.Error{Code: wire.CodeTimeout, Message: err.Error()}
	case errors.Is(err, ErrNotSealed):
		return &wire.Error{Code: wire.CodeNotSealed, Message: err.Error()}
	case errors.Is(err, ErrUnavailable):
		return &wire.Error{Code: wire.CodeUnavailable, Message: err.Error()}
	}
	return &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
}
