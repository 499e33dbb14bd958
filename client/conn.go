package client

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/wire"
)

// maxBatch bounds how many items the writer takes per lock.
const maxBatch = 256

type reqKind uint8

const (
	reqEvent     reqKind = iota // emit of an item (plain or durable)
	reqFlush                    // flush of a Flush or Close item
	reqAutoFlush                // flush the client sends after a critical event
	reqReport                   // report_dropped
)

// request is a line written on a connection and awaiting its reply.
type request struct {
	kind   reqKind
	id     uint64
	it     *item
	n      uint64     // reqAutoFlush: position of the critical event it follows
	reason dropReason // reqReport
	count  uint64     // reqReport
}

// connState is one connection. Its pending FIFO and counters are guarded by
// Client.mu; the conn is written by the run goroutine only and read by the
// reader goroutine only.
type connState struct {
	conn       net.Conn
	broken     chan struct{}
	readerDone chan struct{}
	failOnce   sync.Once
	err        error // set before broken is closed

	// Guarded by Client.mu.
	pending      []request
	head         int
	nextID       uint64
	gotReply     bool
	reporting    [numReasons]bool
	reportFailed bool
	// Events accepted (queued, not yet durable) since the last flush reply,
	// and the position of the first of them.
	acceptedSinceFlush uint64
	firstAcceptedN     uint64
}

func (cs *connState) fail(err error) {
	cs.failOnce.Do(func() {
		cs.err = err
		close(cs.broken)
		cs.conn.Close()
	})
}

func (cs *connState) pendingLen() int { return len(cs.pending) - cs.head }

func (cs *connState) push(r request) {
	cs.nextID++
	r.id = cs.nextID
	cs.pending = append(cs.pending, r)
}

func (cs *connState) pop() (request, bool) {
	if cs.head == len(cs.pending) {
		return request{}, false
	}
	r := cs.pending[cs.head]
	cs.pending[cs.head] = request{}
	cs.head++
	if cs.head == len(cs.pending) {
		cs.pending, cs.head = cs.pending[:0], 0
	} else if cs.head >= 1024 && cs.head*2 >= len(cs.pending) {
		n := copy(cs.pending, cs.pending[cs.head:])
		clear(cs.pending[n:])
		cs.pending, cs.head = cs.pending[:n], 0
	}
	return r, true
}

// run is the background goroutine: it connects, serves the connection,
// and reconnects with backoff until Close is done or aborted.
func (c *Client) run() {
	defer close(c.done)
	defer c.abandonRemaining()
	attempt := 0
	connected := false
	for {
		if c.ctx.Err() != nil || c.idleAtClose() {
			return
		}
		conn, err := c.dial()
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			c.dialErr = &DialError{Path: c.path, Err: err}
			closing := c.closing
			c.mu.Unlock()
			if closing {
				// Close does not wait for a sealer that cannot be
				// reached: what is buffered is lost and counted.
				return
			}
			st := c.Stats()
			c.warn.printf("dial", "cannot connect to the sealer at %s (%d events buffered, %d dropped): %v",
				c.path, st.Buffered, st.Dropped, err)
			if !c.sleep(backoff(attempt)) {
				return
			}
			attempt++
			continue
		}
		cs := &connState{conn: conn, broken: make(chan struct{}), readerDone: make(chan struct{})}
		c.mu.Lock()
		c.cs = cs
		c.dialErr = nil
		if connected {
			c.reconnects++
		}
		connected = true
		aborted := c.ctx.Err() != nil
		c.mu.Unlock()
		if aborted {
			cs.fail(ErrClosed)
		}
		start := time.Now()
		go c.readLoop(cs)
		done := c.serve(cs)
		cs.fail(ErrClosed)
		<-cs.readerDone
		c.connLost(cs)
		if done {
			return
		}
		if c.ctx.Err() != nil {
			return
		}
		if !errors.Is(cs.err, ErrClosed) {
			c.warn.printf("conn", "connection to the sealer lost: %v", cs.err)
		}
		c.mu.Lock()
		healthy := cs.gotReply || time.Since(start) >= time.Second
		c.mu.Unlock()
		if healthy {
			// Reconnect at once if there is work; otherwise (for example the
			// sealer closed an idle connection) wait for the next request.
			attempt = 0
			if !c.waitForWork() {
				return
			}
			continue
		}
		if !c.sleep(backoff(attempt)) {
			return
		}
		attempt++
	}
}

func (c *Client) dial() (net.Conn, error) {
	d := net.Dialer{Timeout: c.dialTimeout}
	return d.DialContext(c.ctx, "unix", c.path)
}

// sleep waits for d. It returns false, to stop, when the client is
// aborted, or when Close is called and nothing is left to send.
func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	closing := c.closeCh
	for {
		select {
		case <-t.C:
			return true
		case <-c.ctx.Done():
			return false
		case <-closing:
			// Close: nothing left, stop; otherwise try once more at
			// once, and give up if that attempt fails too.
			return !c.idleAtClose()
		}
	}
}

// waitForWork waits until something is queued or drops are to be
// reported; it returns false, to stop, when Close finds nothing to do or
// the client is aborted.
func (c *Client) waitForWork() bool {
	for {
		c.mu.Lock()
		work := c.queue.len() > 0 || c.anyDropsLocked()
		closing := c.closing
		c.mu.Unlock()
		if work {
			return true
		}
		if closing || c.ctx.Err() != nil {
			return false
		}
		select {
		case <-c.wake:
		case <-c.closeCh:
		case <-c.ctx.Done():
		}
	}
}

// idleAtClose reports whether Close was called and nothing is left to do.
func (c *Client) idleAtClose() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing && c.queue.len() == 0 && !c.anyDropsLocked()
}

// backoff returns the delay before reconnection attempt n: minBackoff
// doubling up to maxBackoff, jittered to [d/2, d].
func backoff(n int) time.Duration {
	d := maxBackoff
	if n < 16 {
		d = min(minBackoff<<n, maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

func (c *Client) anyDropsLocked() bool {
	for _, n := range c.drops {
		if n > 0 {
			return true
		}
	}
	return false
}

// serve writes queued items to the connection until it breaks, the client
// is aborted, or (returning true) Close's work is done.
func (c *Client) serve(cs *connState) (closed bool) {
	bw := bufio.NewWriterSize(cs.conn, 64<<10)
	var (
		reqs    []request
		scratch []byte
	)
	for {
		select {
		case <-cs.broken:
			return false
		default:
		}
		c.mu.Lock()
		if c.ctx.Err() != nil {
			c.mu.Unlock()
			return false
		}
		// Drop reports go first: a count is cleared only once acknowledged.
		start := len(cs.pending)
		if !cs.reportFailed {
			for r := range numReasons {
				if c.drops[r] > 0 && !cs.reporting[r] {
					cs.reporting[r] = true
					cs.push(request{kind: reqReport, reason: r, count: c.drops[r]})
				}
			}
		}
		for taken := 0; taken < maxBatch; {
			it := c.queue.pop()
			if it == nil {
				break
			}
			if it.canceled {
				continue // its buffer share was returned when it was canceled
			}
			taken++
			it.written = true
			if it.kind == kindFlush {
				cs.push(request{kind: reqFlush, it: it})
				continue
			}
			cs.push(request{kind: reqEvent, it: it})
			if it.kind == kindEmit && it.critical {
				cs.push(request{kind: reqAutoFlush, n: it.n})
			}
		}
		reqs = append(reqs[:0], cs.pending[start:]...)
		if len(reqs) == 0 {
			finished := c.closing && cs.pendingLen() == 0 && (cs.reportFailed || !c.anyDropsLocked())
			c.mu.Unlock()
			if err := bw.Flush(); err != nil {
				cs.fail(err)
				return false
			}
			if finished {
				return true
			}
			select {
			case <-c.wake:
			case <-cs.broken:
			case <-c.ctx.Done():
			}
			continue
		}
		c.mu.Unlock()

		var err error
		events, critical := 0, false
		for _, r := range reqs {
			scratch = c.appendRequest(scratch[:0], r)
			if _, err = bw.Write(scratch); err != nil {
				break
			}
			switch r.kind {
			case reqEvent:
				events++
			case reqAutoFlush:
				critical = true
			}
		}
		if err == nil && critical {
			err = bw.Flush() // the worker's rule: critical events go out at once
		}
		c.sent.Add(uint64(events))
		if err != nil {
			cs.fail(err)
			return false
		}
	}
}

// appendRequest appends the request line for r, newline included.
func (c *Client) appendRequest(b []byte, r request) []byte {
	switch r.kind {
	case reqEvent:
		return wire.AppendEmit(b, r.id, c.service, r.it.kind == kindDurable, r.it.data)
	case reqFlush, reqAutoFlush:
		return wire.AppendFlush(b, r.id)
	case reqReport:
		return wire.AppendReportDropped(b, r.id, r.count, reasonNames[r.reason])
	}
	return b
}

// readLoop reads replies and matches them, in order, to the pending
// requests. Any protocol violation breaks the connection.
func (c *Client) readLoop(cs *connState) {
	defer close(cs.readerDone)
	sc := bufio.NewScanner(cs.conn)
	sc.Buffer(make([]byte, 0, 4096), wire.MaxLine)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r wire.Reply
		if err := json.Unmarshal(line, &r); err != nil {
			cs.fail(fmt.Errorf("client: bad reply from the sealer: %w", err))
			return
		}
		if err := c.handleReply(cs, &r); err != nil {
			cs.fail(err)
			return
		}
	}
	err := sc.Err()
	if err == nil {
		err = io.EOF
	}
	cs.fail(err)
}

// handleReply applies one reply to the oldest pending request.
func (c *Client) handleReply(cs *connState, r *wire.Reply) error {
	var (
		resolve *item
		out     outcome
		warnKey string
		warnMsg string
	)
	c.mu.Lock()
	if cs.pendingLen() == 0 {
		c.mu.Unlock()
		return errors.New("client: reply from the sealer without a request")
	}
	// An error reply to a line the sealer could not parse has no id.
	if id := cs.pending[cs.head].id; r.ID != "" && r.ID != strconv.FormatUint(id, 10) {
		c.mu.Unlock() // the request stays pending: connLost handles it
		return fmt.Errorf("client: reply id %q from the sealer does not match request %d", r.ID, id)
	}
	req, _ := cs.pop()
	cs.gotReply = true
	var rerr error
	notSealed := false
	if !r.OK {
		rerr = replyError(r.Error)
		notSealed = r.Error != nil && r.Error.Code == wire.CodeNotSealed
	}
	switch req.kind {
	case reqEvent:
		it := req.it
		c.releaseLocked(it)
		if r.OK || notSealed {
			c.acked++
			if r.OK && !r.Durable && it.kind == kindEmit {
				if cs.acceptedSinceFlush == 0 {
					cs.firstAcceptedN = it.n
				}
				cs.acceptedSinceFlush++
			}
		} else if it.kind == kindEmit {
			c.rejected++
			warnKey, warnMsg = "reject", fmt.Sprintf("the sealer refused a %s event: %v", it.typ, rerr)
		}
		if it.kind == kindDurable {
			resolve = it
			if r.Seq != nil {
				out.receipt = Receipt{Seq: *r.Seq, AuditID: r.AuditID, Sealed: r.Sealed}
			}
			if rerr != nil {
				out.err = fmt.Errorf("client: emit durable: %w", rerr)
			}
		}
	case reqFlush, reqAutoFlush:
		if r.OK || notSealed {
			cs.acceptedSinceFlush = 0
			n := req.n
			if req.kind == reqFlush {
				n = req.it.n
			}
			c.flushedN = max(c.flushedN, n)
		}
		if req.kind == reqAutoFlush {
			if rerr != nil {
				warnKey, warnMsg = "flush", fmt.Sprintf("flush after a critical event failed: %v", rerr)
			}
			break
		}
		resolve = req.it
		if r.CheckpointSize != nil {
			out.size = *r.CheckpointSize
		}
		switch {
		case rerr != nil:
			out.err = fmt.Errorf("client: flush: %w", rerr)
		case req.it.lost:
			out.err = fmt.Errorf("client: flush: events accepted on an earlier connection may not be durable: %w", ErrConnectionLost)
		}
	case reqReport:
		cs.reporting[req.reason] = false
		if rerr == nil {
			c.drops[req.reason] -= req.count
		} else {
			cs.reportFailed = true
			warnKey, warnMsg = "report", fmt.Sprintf("cannot report %d dropped events (%s): %v", req.count, reasonNames[req.reason], rerr)
		}
	}
	wakeWriter := cs.pendingLen() == 0 || req.kind == reqReport
	c.mu.Unlock()
	if resolve != nil {
		resolve.resolve(out)
	}
	if warnKey != "" {
		c.warn.printf(warnKey, "%s", warnMsg)
	}
	if wakeWriter {
		c.signal()
	}
	return nil
}

// connLost settles what was outstanding on a closed connection: events are
// queued again in front (an event is dropped once maxSendAttempts
// connections broke while it was the oldest awaiting a reply), durable emits fail
// with ErrConnectionLost, flushes are sent again, and flushes covering
// events accepted but not confirmed durable are marked to report the loss.
func (c *Client) connLost(cs *connState) {
	var failed []*item
	c.mu.Lock()
	c.cs = nil
	var requeue []*item
	for oldest := true; ; oldest = false {
		req, ok := cs.pop()
		if !ok {
			break
		}
		switch req.kind {
		case reqEvent:
			it := req.it
			if it.kind == kindDurable {
				c.releaseLocked(it)
				failed = append(failed, it)
				break
			}
			// Replies come in order, so only the oldest request awaiting
			// one can have made the connection break (an event that
			// crashes the sealer, say): only it counts an attempt.
			if oldest {
				it.attempts++
			}
			if it.attempts >= maxSendAttempts {
				c.releaseLocked(it)
				c.drops[reasonConnectionLost]++
				c.dropped++
				break
			}
			requeue = append(requeue, it)
		case reqFlush:
			if !req.it.canceled {
				requeue = append(requeue, req.it)
			}
		}
	}
	if cs.acceptedSinceFlush > 0 {
		marked := false
		mark := func(it *item) {
			if it.kind == kindFlush && !it.canceled && it.n > cs.firstAcceptedN {
				it.lost, marked = true, true
			}
		}
		for _, it := range requeue {
			mark(it)
		}
		c.queue.each(mark)
		if !marked {
			c.lostUnreported = true
		}
	}
	c.queue.prepend(requeue)
	c.mu.Unlock()
	for _, it := range failed {
		it.resolve(outcome{err: fmt.Errorf("client: emit durable: no reply, the event may or may not be recorded: %w", ErrConnectionLost)})
	}
}

// abandonRemaining settles everything still queued when the background
// goroutine stops (Close finished or gave up).
func (c *Client) abandonRemaining() {
	var waiting []*item
	c.mu.Lock()
	for {
		it := c.queue.pop()
		if it == nil {
			break
		}
		if it.canceled {
			continue
		}
		c.releaseLocked(it)
		switch it.kind {
		case kindEmit:
			c.dropped++
			c.lostAtClose++
		case kindDurable:
			c.lostAtClose++
			waiting = append(waiting, it)
		case kindFlush:
			waiting = append(waiting, it)
		}
	}
	var cause error = ErrClosed
	if c.dialErr != nil {
		cause = fmt.Errorf("%w (%w)", ErrClosed, c.dialErr)
	}
	c.mu.Unlock()
	for _, it := range waiting {
		if it.kind == kindDurable {
			it.resolve(outcome{err: fmt.Errorf("client: emit durable: not sent: %w", cause)})
		} else {
			it.resolve(outcome{err: fmt.Errorf("client: flush: %w", cause)})
		}
	}
}
