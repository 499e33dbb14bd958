// Package client sends audit events to the audit-sealer daemon over its Unix
// socket, speaking the protocol of PROTOCOL.md (newline-delimited JSON,
// pipelined requests, in-order replies).
//
// A service creates one Client with New, builds events with the typed
// constructors (AuthSuccess, VRAMSealed, …) and sends them with Emit, which
// never blocks, or EmitDurable, which waits until the record is on disk.
// Flush waits until everything emitted so far is durable and sealed; Close
// flushes and stops.
//
// What is kept and what can be lost:
//
//   - Emit puts the event in a bounded in-memory buffer and returns. A
//     background goroutine owns the connection, sends buffered events in
//     order and reconnects (with backoff) when the sealer restarts. Events
//     buffered while the sealer is away are sent, in order, once it is back.
//   - An event stays in the buffer (and counts against its bounds) until the
//     sealer acknowledged it. If the connection breaks first, it is sent
//     again on the next connection, so an event whose reply was lost can be
//     recorded twice. An event that was the oldest one awaiting a reply
//     when 3 connections broke is dropped (counted, and reported with
//     reason "connection_lost"), so that an event the sealer cannot take
//     does not block the others forever.
//   - When the buffer is full, Emit drops the event and returns ErrDropped.
//     Drops are counted and reported to the sealer (report_dropped), which
//     records them in the chain.
//   - The sealer's reply to a plain emit only says the event is queued; it
//     becomes durable with the sealer's next group commit. Use Flush or
//     EmitDurable for events that must not be lost. Events still buffered
//     when the process exits without Close are lost.
package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/audit-sealer/audit-sealer/event"
)

// Defaults for Options.
const (
	// DefaultSocketPath is where the sealer listens unless configured
	// otherwise.
	DefaultSocketPath = "/run/audit-sealer/audit.sock"
	// DefaultBufferEvents is the default Options.BufferEvents.
	DefaultBufferEvents = 10000
	// DefaultBufferBytes is the default Options.BufferBytes (16 MiB).
	DefaultBufferBytes = 16 << 20
	// DefaultDialTimeout is the default Options.DialTimeout.
	DefaultDialTimeout = 2 * time.Second
)

// Reconnection backoff bounds: the delay doubles from minBackoff up to
// maxBackoff, with jitter, and starts over after a healthy connection.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// maxSendAttempts is how many connections may break while a
// fire-and-forget event is the oldest awaiting a reply before the event is
// dropped.
const maxSendAttempts = 3

// Logger receives the client's warnings (connection failures, events the
// sealer refused, drops). *log.Logger satisfies it. Calls come from the
// client's background goroutines, never from Emit, and are rate limited.
type Logger interface {
	Printf(format string, args ...any)
}

// Options configures a Client. The zero value is valid.
type Options struct {
	// Service is the service identity to request for each event (the
	// emit's "service" field). Empty means the first identity the sealer's
	// policy gives this process's uid/gid. The sealer refuses an identity
	// the policy does not allow (ErrNotAuthorized). Drop reports carry no
	// service: the protocol's report_dropped has no such field, so the
	// sealer records them under the peer's first identity.
	Service string
	// BufferEvents bounds the number of events held by the client: queued,
	// or sent and not yet acknowledged. Default DefaultBufferEvents.
	BufferEvents int
	// BufferBytes bounds the encoded size of those events. Default
	// DefaultBufferBytes. An event larger than the whole bound is always
	// dropped.
	BufferBytes int
	// Logger receives warnings; nil means silent.
	Logger Logger
	// DialTimeout bounds one connection attempt. Default
	// DefaultDialTimeout.
	DialTimeout time.Duration
}

// Receipt identifies a record written by the sealer.
type Receipt struct {
	// Seq is the record's sequence number in the chain.
	Seq uint64
	// AuditID is the record's stable identifier ("<log id>-<seq>").
	AuditID string
	// Sealed reports that a signed checkpoint already covers the record
	// (always the case for critical events unless ErrNotSealed is
	// returned).
	Sealed bool
}

// Stats are the client's counters since New. Counters only grow, except
// Buffered, BufferedBytes, DropsUnreported and Connected.
type Stats struct {
	// Emitted counts events accepted into the buffer by Emit and
	// EmitDurable.
	Emitted uint64
	// Dropped counts events the client lost before the sealer acknowledged
	// them: buffer full, given up after repeated connection losses, or
	// still buffered when Close gave up.
	Dropped uint64
	// DropsUnreported is the part of Dropped not yet acknowledged by the
	// sealer's report_dropped (drops at Close cannot be reported).
	DropsUnreported uint64
	// Sent counts event lines written to the socket; an event sent again
	// after a reconnect counts again.
	Sent uint64
	// Acknowledged counts events the sealer accepted.
	Acknowledged uint64
	// Rejected counts fire-and-forget events (Emit) the sealer refused
	// (shed, unavailable, …); they are logged, since the caller already
	// returned. Refusals of EmitDurable are returned to the caller instead.
	Rejected uint64
	// Reconnects counts connections established after an earlier one was
	// lost.
	Reconnects uint64
	// Buffered and BufferedBytes are the events currently held (queued or
	// awaiting their reply) and their encoded size.
	Buffered      int
	BufferedBytes int
	// Connected reports whether a connection is currently open.
	Connected bool
}

// drop reasons reported with report_dropped.
type dropReason int

const (
	reasonBufferFull dropReason = iota
	reasonConnectionLost
	numReasons
)

var reasonNames = [numReasons]string{"buffer_full", "connection_lost"}

type itemKind uint8

const (
	kindEmit    itemKind = iota // fire and forget
	kindDurable                 // EmitDurable: the caller waits for the reply
	kindFlush                   // Flush or Close: the caller waits for the reply
)

// item is one thing to send, in the order of the calls.
type item struct {
	kind     itemKind
	critical bool
	attempts uint8
	n        uint64 // position in call order
	typ      string // event type, for logs
	data     []byte // canonical event encoding
	done     chan outcome

	// Guarded by Client.mu.
	written  bool // handed to the socket at least once
	canceled bool // the caller stopped waiting before it was written
	lost     bool // flush: events it covers were accepted on a lost connection
}

type outcome struct {
	receipt Receipt
	size    uint64
	err     error
}

// resolve delivers the outcome; each item gets exactly one.
func (it *item) resolve(o outcome) {
	if it.done != nil {
		select {
		case it.done <- o:
		default:
		}
	}
}

// Client sends events to the sealer. It is safe for concurrent use by any
// number of goroutines. Create it with New and stop it with Close, which
// also ends its background goroutine.
type Client struct {
	path        string
	dialTimeout time.Duration
	maxEvents   int
	maxBytes    int
	service     string // Options.Service
	warn        warner

	ctx     context.Context // canceled when Close gives up
	abort   context.CancelFunc
	wake    chan struct{}
	closeCh chan struct{} // closed by Close
	done    chan struct{} // closed when the background goroutine ends

	sent atomic.Uint64

	mu        sync.Mutex
	queue     itemQueue
	nextN     uint64
	bufEvents int
	bufBytes  int
	closing   bool
	// dialErr is the last connection attempt's failure, nil once a
	// connection is made.
	dialErr        *DialError
	cs             *connState
	drops          [numReasons]uint64 // not yet acknowledged by the sealer
	lostUnreported bool               // a connection loss must be reported by the next flush
	lastEventN     uint64
	flushedN       uint64
	lostAtClose    uint64
	emitted        uint64
	dropped        uint64
	acked          uint64
	rejected       uint64
	reconnects     uint64
}

// New returns a client for the sealer listening on socketPath (for example
// DefaultSocketPath). It does not wait for the sealer: a background
// goroutine connects, and reconnects with backoff (50 ms doubling to 5 s,
// with jitter) whenever the connection breaks, for example when the sealer
// restarts. Until then, events wait in the buffer.
func New(socketPath string, opts Options) (*Client, error) {
	if socketPath == "" {
		return nil, errors.New("client: new: empty socket path")
	}
	if len(opts.Service) > 256 || !utf8.ValidString(opts.Service) {
		return nil, errors.New("client: new: service must be valid UTF-8 of at most 256 bytes")
	}
	c := &Client{
		path:        socketPath,
		service:     opts.Service,
		dialTimeout: opts.DialTimeout,
		maxEvents:   opts.BufferEvents,
		maxBytes:    opts.BufferBytes,
		warn:        warner{l: opts.Logger},
		wake:        make(chan struct{}, 1),
		closeCh:     make(chan struct{}),
		done:        make(chan struct{}),
	}
	if c.dialTimeout <= 0 {
		c.dialTimeout = DefaultDialTimeout
	}
	if c.maxEvents <= 0 {
		c.maxEvents = DefaultBufferEvents
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultBufferBytes
	}
	c.ctx, c.abort = context.WithCancel(context.Background())
	go c.run()
	return c, nil
}

var (
	errEmitDropped = fmt.Errorf("client: emit: buffer full: %w", ErrDropped)
	errEmitClosed  = fmt.Errorf("client: emit: %w", ErrClosed)
)

// Emit validates e, encodes it and queues it for sending; it never blocks
// on the sealer or the network (it only takes a short internal lock).
//
// It returns at once:
//   - a *event.ValidationError (wrapping event.ErrInvalid) when e breaks a
//     rule of EVENTS.md, or is one of the sealer's own audit.* types: a
//     programming error; nothing is queued;
//   - an error wrapping ErrDropped when the buffer is full: the event is
//     lost, counted and later reported to the sealer;
//   - an error wrapping ErrClosed after Close;
//   - nil once the event is queued. That is not a promise of durability:
//     see the package documentation, Flush and EmitDurable.
//
// A critical event (event.IsCritical) follows the same rule, and the
// client sends a flush request right after it, so that it is sealed at
// once. A refusal by the sealer (for example "shed") cannot be returned, as
// the caller is gone: it is counted in Stats.Rejected and logged.
// Emit does not keep e: the caller may reuse it once Emit returns.
func (c *Client) Emit(e event.Event) error {
	data, err := encode(e)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return errEmitClosed
	}
	if c.bufEvents >= c.maxEvents || c.bufBytes+len(data) > c.maxBytes {
		c.drops[reasonBufferFull]++
		c.dropped++
		c.mu.Unlock()
		c.signal()
		return errEmitDropped
	}
	typ := e.EventType()
	c.enqueueEventLocked(&item{kind: kindEmit, typ: typ, data: data, critical: event.IsCritical(typ)})
	c.mu.Unlock()
	c.signal()
	return nil
}

// EmitDurable sends e with "durable": true and waits for the sealer's reply,
// which comes once the record is written and fsynced (and, for a critical
// event, sealed). It blocks until then or until ctx ends; while the sealer
// is away the request waits in the buffer, in order with earlier Emit
// calls. It is not refused when the buffer is full (the caller waits
// instead), but it counts against the buffer while held.
//
// Errors:
//   - *event.ValidationError: e is invalid; nothing is sent;
//   - *InvalidEventError, or *ServerError unwrapping to ErrShed,
//     ErrNotAuthorized, ErrTimeout or ErrUnavailable: the sealer refused
//     the event; it is not recorded;
//   - an error wrapping ErrNotSealed, returned WITH the Receipt: the record
//     is durable but not yet sealed;
//   - an error wrapping ErrConnectionLost: the connection broke after the
//     event was written and before the reply: it may or may not have been
//     recorded, and it is not sent again;
//   - ctx's error: if the event had not been written yet it never will be;
//     otherwise it may or may not have been recorded;
//   - an error wrapping ErrClosed: Close was called first, or Close gave up
//     before the event was sent.
func (c *Client) EmitDurable(ctx context.Context, e event.Event) (Receipt, error) {
	data, err := encode(e)
	if err != nil {
		return Receipt{}, err
	}
	it := &item{kind: kindDurable, typ: e.EventType(), data: data, done: make(chan outcome, 1)}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return Receipt{}, fmt.Errorf("client: emit durable: %w", ErrClosed)
	}
	c.enqueueEventLocked(it)
	c.mu.Unlock()
	c.signal()
	select {
	case o := <-it.done:
		return o.receipt, o.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	select {
	case o := <-it.done:
		c.mu.Unlock()
		return o.receipt, o.err
	default:
	}
	written := it.written
	if !written {
		it.canceled = true
		c.releaseLocked(it)
	}
	dialErr := c.dialErr
	c.mu.Unlock()
	if !written {
		if dialErr != nil {
			return Receipt{}, fmt.Errorf("client: emit durable: not sent: %w (%w)", ctx.Err(), dialErr)
		}
		return Receipt{}, fmt.Errorf("client: emit durable: not sent: %w", ctx.Err())
	}
	return Receipt{}, fmt.Errorf("client: emit durable: no reply, the event may or may not be recorded: %w", ctx.Err())
}

// Flush waits until every event passed to Emit or EmitDurable before the
// call has been written to the socket and the sealer answered a flush
// request sent after them: they are then durable and covered by a signed
// checkpoint. It returns that checkpoint's tree size. It blocks until then
// or until ctx ends (returning ctx's error; the events stay buffered).
//
// Events that were dropped (ErrDropped, or given up after repeated
// connection losses) or refused by the sealer are not waited for; Stats
// counts them. If the connection broke after
// the sealer had accepted (queued) some of these events but before a flush
// confirmed them, Flush still waits for its own flush on the new
// connection, then returns the size together with an error wrapping
// ErrConnectionLost: those events may have been lost if the sealer crashed.
// A sealer error (for example ErrNotSealed when signing is unavailable) is
// returned as a *ServerError.
func (c *Client) Flush(ctx context.Context) (checkpointSize uint64, err error) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return 0, fmt.Errorf("client: flush: %w", ErrClosed)
	}
	f := c.enqueueFlushLocked()
	c.mu.Unlock()
	c.signal()
	select {
	case o := <-f.done:
		return o.size, o.err
	case <-ctx.Done():
		c.mu.Lock()
		f.canceled = true
		if f.lost { // hand the news of the loss to the next Flush
			f.lost, c.lostUnreported = false, true
		}
		c.mu.Unlock()
		return 0, fmt.Errorf("client: flush: %w", ctx.Err())
	}
}

// Close stops the client. From its call on, Emit, EmitDurable and Flush
// return ErrClosed. It then flushes what is buffered (as Flush does),
// reports drops to the sealer, and closes the connection. It blocks until
// that is done or ctx ends; if ctx ends first, whatever is still buffered
// is lost (counted in Stats.Dropped, and waiting EmitDurable calls return),
// and Close returns an error wrapping ctx's error. Close does not wait for
// a sealer it cannot reach: if the connection attempt it makes fails (the
// sealer is down, or the socket refuses this uid), what is buffered is
// lost and Close returns at once with an error wrapping ErrClosed and the
// *DialError, whatever ctx.
// Close returns nil only when everything emitted was flushed and every
// drop reported. A second call returns an error wrapping ErrClosed.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return fmt.Errorf("client: close: %w", ErrClosed)
	}
	c.closing = true
	close(c.closeCh)
	var f *item
	if c.lastEventN > c.flushedN || c.lostUnreported {
		f = c.enqueueFlushLocked()
	}
	c.mu.Unlock()
	c.signal()

	var errs []error
	if f != nil {
		select {
		case o := <-f.done:
			if o.err != nil && !errors.Is(o.err, ErrClosed) {
				errs = append(errs, o.err)
			}
		case <-ctx.Done():
		}
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		c.abortNow()
		<-c.done
	}
	c.abortNow() // release the context

	c.mu.Lock()
	lost := c.lostAtClose
	unreported := c.drops[reasonBufferFull] + c.drops[reasonConnectionLost]
	c.mu.Unlock()
	if lost > 0 {
		err := ctx.Err()
		if err == nil {
			err = ErrClosed
		}
		c.mu.Lock()
		if c.dialErr != nil {
			err = fmt.Errorf("%w (%w)", err, c.dialErr)
		}
		c.mu.Unlock()
		errs = append(errs, fmt.Errorf("client: close: %d buffered events not delivered: %w", lost, err))
	}
	if unreported > 0 {
		errs = append(errs, fmt.Errorf("client: close: %d dropped events not reported to the sealer", unreported))
	}
	return errors.Join(errs...)
}

// Stats returns a snapshot of the client's counters. It does not block on
// the network.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Emitted:         c.emitted,
		Dropped:         c.dropped,
		DropsUnreported: c.drops[reasonBufferFull] + c.drops[reasonConnectionLost],
		Sent:            c.sent.Load(),
		Acknowledged:    c.acked,
		Rejected:        c.rejected,
		Reconnects:      c.reconnects,
		Buffered:        c.bufEvents,
		BufferedBytes:   c.bufBytes,
		Connected:       c.cs != nil,
	}
}

// encode validates e and returns its canonical encoding, refusing the
// sealer's own event types.
func encode(e event.Event) ([]byte, error) {
	data, err := event.AppendEncode(nil, e, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if event.Category(e.EventType()) == "sealer" {
		return nil, fmt.Errorf("client: %w", &event.ValidationError{Field: "type",
			Rule: event.RuleSealerTypeNotAllowed, Detail: "audit.* events are written by the sealer only"})
	}
	return data, nil
}

func (c *Client) enqueueEventLocked(it *item) {
	c.nextN++
	it.n = c.nextN
	c.lastEventN = it.n
	c.emitted++
	c.bufEvents++
	c.bufBytes += len(it.data)
	c.queue.push(it)
}

func (c *Client) enqueueFlushLocked() *item {
	c.nextN++
	f := &item{kind: kindFlush, n: c.nextN, done: make(chan outcome, 1)}
	if c.lostUnreported {
		f.lost = true
		c.lostUnreported = false
	}
	c.queue.push(f)
	return f
}

// releaseLocked returns an event's share of the buffer.
func (c *Client) releaseLocked(it *item) {
	if it.kind != kindFlush {
		c.bufEvents--
		c.bufBytes -= len(it.data)
	}
}

// signal wakes the background goroutine without blocking.
func (c *Client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// abortNow makes the background goroutine stop at once: pending dials and
// sleeps end and the connection is closed.
func (c *Client) abortNow() {
	c.mu.Lock()
	c.abort()
	if c.cs != nil {
		c.cs.fail(ErrClosed)
	}
	c.mu.Unlock()
}

// itemQueue is a FIFO of items.
type itemQueue struct {
	items []*item
	head  int
}

func (q *itemQueue) len() int { return len(q.items) - q.head }

func (q *itemQueue) push(it *item) { q.items = append(q.items, it) }

func (q *itemQueue) pop() *item {
	if q.head == len(q.items) {
		return nil
	}
	it := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head >= 1024 && q.head*2 >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return it
}

// prepend puts items (already in order) before the queued ones.
func (q *itemQueue) prepend(its []*item) {
	if len(its) == 0 {
		return
	}
	rest := q.items[q.head:]
	items := make([]*item, 0, len(its)+len(rest))
	items = append(items, its...)
	items = append(items, rest...)
	q.items, q.head = items, 0
}

// each calls f for every queued item, in order.
func (q *itemQueue) each(f func(*item)) {
	for _, it := range q.items[q.head:] {
		f(it)
	}
}

// warner rate-limits warnings: at most one per key and second.
type warner struct {
	l          Logger
	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

func (w *warner) printf(key, format string, args ...any) {
	if w.l == nil {
		return
	}
	w.mu.Lock()
	if w.last == nil {
		w.last, w.suppressed = map[string]time.Time{}, map[string]int{}
	}
	now := time.Now()
	if t, ok := w.last[key]; ok && now.Sub(t) < time.Second {
		w.suppressed[key]++
		w.mu.Unlock()
		return
	}
	n := w.suppressed[key]
	w.last[key], w.suppressed[key] = now, 0
	w.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if n > 0 {
		msg += fmt.Sprintf(" (%d similar warnings suppressed)", n)
	}
	w.l.Printf("audit-sealer client: %s", msg)
}
