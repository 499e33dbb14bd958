package client

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/wire"
)

// fakeSealer is a Unix socket server speaking PROTOCOL.md well enough for
// the client's tests: it validates requests strictly, answers in order with
// incrementing sequence numbers, and can be told to answer with errors, to
// close connections, to stall (not read), and to stop and restart on the
// same path.
type fakeSealer struct {
	t    *testing.T
	path string

	mu      sync.Mutex
	ln      net.Listener
	quit    chan struct{}
	conns   map[net.Conn]bool
	nconn   int
	seq     uint64
	stallCh chan struct{} // non-nil while stalled; closed to resume
	hook    func(r *wire.Request) fakeAction
	ops     []fakeRecord // every request line, in order of arrival
	events  []fakeRecord // accepted emits, in order
	reports []fakeRecord // acknowledged report_dropped
	wg      sync.WaitGroup
}

// fakeAction tells the fake how to answer one request.
type fakeAction struct {
	code  string // reply with this error code
	close bool   // close the connection without replying
	badID bool   // reply ok with a wrong id
}

type fakeRecord struct {
	Conn    int
	Op      string
	Type    string
	TaskID  string
	Durable bool
	Service string
	Count   uint64
	Reason  string
	Seq     uint64
}

// allowedFields lists the request fields of each op (PROTOCOL.md).
var allowedFields = map[string][]string{
	wire.OpEmit:          {"op", "id", "durable", "service", "event"},
	wire.OpFlush:         {"op", "id"},
	wire.OpStatus:        {"op", "id"},
	wire.OpPing:          {"op", "id"},
	wire.OpReportDropped: {"op", "id", "count", "reason"},
}

// socketPath returns a short socket path (sun_path is limited to 108 bytes,
// which t.TempDir can exceed).
func socketPath(t *testing.T) string {
	dir, err := os.MkdirTemp("", "asc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "audit.sock")
}

// newFakeSealer starts a fake sealer; it is stopped when the test ends.
func newFakeSealer(t *testing.T) *fakeSealer {
	s := newStoppedFakeSealer(t)
	s.start()
	return s
}

// newStoppedFakeSealer returns a fake sealer that is not listening yet.
func newStoppedFakeSealer(t *testing.T) *fakeSealer {
	s := &fakeSealer{t: t, path: socketPath(t), conns: map[net.Conn]bool{}}
	t.Cleanup(s.stop)
	return s
}

func (s *fakeSealer) start() {
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		s.t.Fatalf("fake sealer: %v", err)
	}
	quit := make(chan struct{})
	s.mu.Lock()
	s.ln, s.quit = ln, quit
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.nconn++
			id := s.nconn
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c, id, quit)
			}()
		}
	}()
}

// stop closes the listener (removing the socket) and every connection.
func (s *fakeSealer) stop() {
	s.mu.Lock()
	if s.ln == nil {
		s.mu.Unlock()
		return
	}
	s.ln.Close()
	close(s.quit)
	s.ln = nil
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeSealer) restart() {
	s.stop()
	s.start()
}

// closeConns closes the open connections but keeps listening.
func (s *fakeSealer) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// stall makes connections stop reading requests until unstall.
func (s *fakeSealer) stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stallCh == nil {
		s.stallCh = make(chan struct{})
	}
}

func (s *fakeSealer) unstall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stallCh != nil {
		close(s.stallCh)
		s.stallCh = nil
	}
}

func (s *fakeSealer) setHook(h func(r *wire.Request) fakeAction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

func (s *fakeSealer) snapshot() (ops, events, reports []fakeRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ops), slices.Clone(s.events), slices.Clone(s.reports)
}

func (s *fakeSealer) serve(c net.Conn, connID int, quit chan struct{}) {
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	br := bufio.NewReaderSize(c, 4096)
	bw := bufio.NewWriter(c)
	for {
		s.mu.Lock()
		stall := s.stallCh
		s.mu.Unlock()
		if stall != nil {
			select {
			case <-stall:
			case <-quit:
				return
			}
		}
		line, err := br.ReadBytes('\n')
		if err != nil {
			return
		}
		if len(line) > wire.MaxLine {
			s.t.Errorf("fake sealer: line of %d bytes", len(line))
			return
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rep, closeNow := s.handle(connID, line)
		if closeNow {
			bw.Flush()
			return
		}
		b, _ := json.Marshal(rep)
		bw.Write(append(b, '\n'))
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}

// handle answers one request line; it reports test failures for anything
// the protocol refuses, since the client must never send that.
func (s *fakeSealer) handle(connID int, line []byte) (*wire.Reply, bool) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(line, &keys); err != nil {
		s.t.Errorf("fake sealer: bad_json: %v: %s", err, line)
		return &wire.Reply{Error: &wire.Error{Code: wire.CodeBadJSON}}, false
	}
	var r wire.Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		s.t.Errorf("fake sealer: bad_request: %v: %s", err, line)
		return &wire.Reply{Error: &wire.Error{Code: wire.CodeBadRequest}}, false
	}
	allowed, ok := allowedFields[r.Op]
	if !ok {
		s.t.Errorf("fake sealer: unknown op: %s", line)
		return &wire.Reply{Error: &wire.Error{Code: wire.CodeBadRequest}}, false
	}
	for k := range keys {
		if !slices.Contains(allowed, k) {
			s.t.Errorf("fake sealer: field %q not allowed in %s: %s", k, r.Op, line)
		}
	}
	id := ""
	if r.ID != nil {
		id = *r.ID
		if len(id) > wire.MaxID {
			s.t.Errorf("fake sealer: id too long: %s", line)
		}
	}
	rec := fakeRecord{Conn: connID, Op: r.Op, Durable: r.Durable, Service: r.Service, Count: r.Count, Reason: r.Reason}
	var ev event.Event
	if r.Op == wire.OpEmit {
		var err error
		ev, err = event.Decode(r.Event, event.DecodeOptions{})
		if err != nil {
			s.t.Errorf("fake sealer: invalid event: %v: %s", err, line)
			return &wire.Reply{ID: id, Error: &wire.Error{Code: wire.CodeInvalidEvent, Message: err.Error()}}, false
		}
		if canon, err := event.Encode(ev); err != nil || !bytes.Equal(canon, r.Event) {
			s.t.Errorf("fake sealer: event not in canonical form: %s", r.Event)
		}
		rec.Type = ev.EventType()
		if tc, ok := ev.(*event.TaskCompleted); ok {
			rec.TaskID = tc.TaskID
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, rec)
	var act fakeAction
	if s.hook != nil {
		act = s.hook(&r)
	}
	if act.close {
		return nil, true
	}
	if act.badID {
		return &wire.Reply{ID: "bogus", OK: true, Accepted: true}, false
	}
	if act.code != "" {
		rep := &wire.Reply{ID: id, Error: &wire.Error{Code: act.code, Message: "fake: " + act.code}}
		switch act.code {
		case wire.CodeInvalidEvent:
			rep.Error.Field, rep.Error.Rule = "actor.user_id", event.RuleTooLong
		case wire.CodeNotSealed:
			s.seq++
			seq := s.seq
			rep.Seq, rep.AuditID, rep.Durable = &seq, fmt.Sprintf("fakefakefakefake-%d", seq), true
			rec.Seq = seq
			s.events = append(s.events, rec)
		}
		return rep, false
	}
	switch r.Op {
	case wire.OpEmit:
		s.seq++
		rec.Seq = s.seq
		s.events = append(s.events, rec)
		if !r.Durable && !event.IsCritical(rec.Type) {
			return &wire.Reply{ID: id, OK: true, Accepted: true}, false
		}
		seq := s.seq
		return &wire.Reply{ID: id, OK: true, Seq: &seq, AuditID: fmt.Sprintf("fakefakefakefake-%d", seq),
			Durable: true, Sealed: event.IsCritical(rec.Type)}, false
	case wire.OpFlush:
		size := s.seq
		return &wire.Reply{ID: id, OK: true, CheckpointSize: &size}, false
	case wire.OpReportDropped:
		if r.Count == 0 {
			s.t.Errorf("fake sealer: report_dropped with count 0")
		}
		s.seq++
		rec.Seq = s.seq
		s.reports = append(s.reports, rec)
		seq := s.seq
		return &wire.Reply{ID: id, OK: true, Seq: &seq}, false
	}
	return &wire.Reply{ID: id, OK: true}, false
}
