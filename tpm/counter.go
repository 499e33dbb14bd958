package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Counter is one TPM 2.0 NV counter index, as Provision defines it. A
// Counter is safe for concurrent use: one mutex serialises its commands.
type Counter struct {
	mu       sync.Mutex
	tpm      transport.TPM
	closer   io.Closer // closed by Close: the transport Open opened
	closed   bool
	index    tpm2.TPMHandle
	auth     []byte
	endorse  []byte // endorsement auth, for Certify
	written  bool   // TPMA_NV_WRITTEN as last read
	name     tpm2.TPM2BName
	nvPublic []byte // the marshalled TPMS_NV_PUBLIC, as the TPM returned it
	retry    backoff
}

// template returns the public area Provision defines at index: a
// non-orderly 8-byte counter (TPM_NT_COUNTER), incremented with the index
// auth, read with the index auth or the owner auth, exempt from dictionary
// attack lockout, named with SHA-256. ORDERLY is deliberately not set: an
// orderly counter jumps forward after an unclean stop and can roll back
// after TPM2_Clear (notes §4.4). WRITTEN is set by the TPM on the first
// increment, which changes the index Name.
func template(index uint32) tpm2.TPMSNVPublic {
	return tpm2.TPMSNVPublic{
		NVIndex: tpm2.TPMHandle(index),
		NameAlg: tpm2.TPMAlgSHA256,
		Attributes: tpm2.TPMANV{
			NT:        tpm2.TPMNTCounter,
			AuthWrite: true,
			AuthRead:  true,
			OwnerRead: true,
			NoDA:      true,
		},
		DataSize: 8,
	}
}

// checkPublic compares an index's public area with template(index), WRITTEN
// aside, and wraps ErrIndexMismatch with every difference.
func checkPublic(pub *tpm2.TPMSNVPublic, index uint32) error {
	want := template(index)
	var diff []string
	if pub.NVIndex != want.NVIndex {
		diff = append(diff, fmt.Sprintf("handle 0x%08x", uint32(pub.NVIndex)))
	}
	if pub.Attributes.NT != tpm2.TPMNTCounter {
		diff = append(diff, fmt.Sprintf("type %d, not a counter (TPM_NT_COUNTER)", pub.Attributes.NT))
	}
	if pub.Attributes.Orderly {
		diff = append(diff, "ORDERLY is set")
	}
	if pub.DataSize != want.DataSize {
		diff = append(diff, fmt.Sprintf("size %d, not 8", pub.DataSize))
	}
	if pub.NameAlg != want.NameAlg {
		diff = append(diff, fmt.Sprintf("name algorithm 0x%04x, not SHA-256", uint16(pub.NameAlg)))
	}
	if len(pub.AuthPolicy.Buffer) != 0 {
		diff = append(diff, "it has an auth policy")
	}
	got, exp := attrBits(pub.Attributes), attrBits(want.Attributes)
	got &^= 1 << 29 // WRITTEN
	if len(diff) == 0 && got != exp {
		diff = append(diff, fmt.Sprintf("attributes 0x%08x, want 0x%08x", got, exp))
	}
	if len(diff) > 0 {
		return fmt.Errorf("tpm: index 0x%08x: %w: %s", index, ErrIndexMismatch, strings.Join(diff, ", "))
	}
	return nil
}

// attrBits returns the TPMA_NV bits of a.
func attrBits(a tpm2.TPMANV) uint32 {
	return binary.BigEndian.Uint32(tpm2.Marshal(a))
}

// session returns an HMAC authorization session for auth: unsalted and
// unbound, started for one command and flushed by it. Unlike a password
// session it does not send the auth value to the TPM in the clear, and it
// covers the Names of the command's handles, which is why the index Name
// must be refreshed after the first increment (TPMA_NV_WRITTEN changes it).
//
// An empty auth value (an owner or endorsement hierarchy whose auth was
// never set) gets a password session with the empty value instead: the
// HMAC of an unsalted, unbound session is keyed with the auth value alone,
// so keyed with nothing it proves nothing anyone could not compute, and
// crypto/hmac refuses an empty key in FIPS 140-only mode
// (GODEBUG=fips140=only). Config.check refuses, in that mode, a non-empty
// auth value too short to key an HMAC there (minFIPSAuth).
func session(auth []byte) tpm2.Session {
	if len(auth) == 0 {
		return tpm2.PasswordAuth(nil)
	}
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16, tpm2.Auth(auth))
}

// Provision opens the TPM named by cfg.Transport and provisions the counter
// index there; see ProvisionWithTransport.
func Provision(cfg Config) (uint64, error) {
	if err := cfg.check(); err != nil {
		return 0, err
	}
	t, err := OpenTransport(cfg.transport())
	if err != nil {
		return 0, err
	}
	defer t.Close()
	return provision(t, cfg)
}

// ProvisionWithTransport defines the counter index cfg.Index under the
// owner hierarchy (authorized with cfg.OwnerAuth) with auth cfg.Auth and the
// public area this package requires (TPM_NT_COUNTER, not ORDERLY,
// AUTHREAD|AUTHWRITE|OWNERREAD|NO_DA, 8 bytes, SHA-256), then increments it
// once, because a counter that was never incremented cannot be read
// (TPM_RC_NV_UNINITIALIZED). It returns the counter's value: 1 on a TPM
// that never deleted a counter, otherwise one more than the highest value
// of every counter the TPM deleted (TPM counters never go down).
//
// If the index already exists with the expected public area and has a
// value, ProvisionWithTransport changes nothing and returns that value with
// an error wrapping ErrAlreadyProvisioned (the value is read with cfg.Auth,
// so a wrong auth fails with ErrAuthFailed instead). If it exists but was
// never incremented (an earlier provisioning stopped half way), it is
// incremented and its value returned without error. If it exists with
// another public area, the error wraps ErrIndexMismatch and nothing is
// changed.
//
// The auth value travels to the TPM as a TPM2_NV_DefineSpace parameter,
// unencrypted: provision on a machine whose TPM bus is trusted.
func ProvisionWithTransport(t transport.TPM, cfg Config) (uint64, error) {
	if err := cfg.check(); err != nil {
		return 0, err
	}
	return provision(t, cfg)
}

// provision is ProvisionWithTransport for a cfg already checked.
func provision(t transport.TPM, cfg Config) (uint64, error) {
	ctx := context.Background()
	index := cfg.index()
	c := &Counter{tpm: t, index: tpm2.TPMHandle(index), auth: cfg.Auth, retry: defaultBackoff}
	err := c.refresh(ctx)
	if errors.Is(err, ErrIndexMissing) {
		pub := template(index)
		def := tpm2.NVDefineSpace{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: session(cfg.OwnerAuth)},
			Auth:       tpm2.TPM2BAuth{Buffer: cfg.Auth},
			PublicInfo: tpm2.New2B(pub),
		}
		err = c.retry.do(ctx, func() error { _, err := def.Execute(t); return err })
		switch {
		case errors.Is(err, tpm2.TPMRCNVDefined):
			// Defined by someone else since we looked: check it below.
		case err != nil:
			return 0, c.wrap("define index", err, "the owner auth")
		}
		err = c.refresh(ctx)
	}
	if err != nil {
		return 0, err
	}
	if c.written {
		v, err := c.Read(ctx)
		if err != nil {
			return 0, err
		}
		return v, fmt.Errorf("tpm: index 0x%08x: %w (value %d)", index, ErrAlreadyProvisioned, v)
	}
	return c.Increment(ctx)
}

// Open opens the TPM named by cfg.Transport and the counter index there; see
// OpenWithTransport. Close closes the transport.
func Open(cfg Config) (*Counter, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	t, err := OpenTransport(cfg.transport())
	if err != nil {
		return nil, err
	}
	c, err := openCounter(t, cfg)
	if err != nil {
		t.Close()
		return nil, err
	}
	c.closer = t
	return c, nil
}

// OpenWithTransport opens the counter index cfg.Index on the TPM behind t.
// It reads the index's public area: a missing index wraps ErrIndexMissing,
// one whose public area is not what Provision defines wraps
// ErrIndexMismatch. An index that was defined but never incremented opens,
// and Read then wraps ErrUninitialized. Close does not close t.
func OpenWithTransport(t transport.TPM, cfg Config) (*Counter, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return openCounter(t, cfg)
}

// openCounter is OpenWithTransport for a cfg already checked.
func openCounter(t transport.TPM, cfg Config) (*Counter, error) {
	c := &Counter{
		tpm:     t,
		index:   tpm2.TPMHandle(cfg.index()),
		auth:    cfg.Auth,
		endorse: cfg.EndorsementAuth,
		retry:   defaultBackoff,
	}
	if err := c.refresh(context.Background()); err != nil {
		return nil, err
	}
	return c, nil
}

// Index returns the counter's NV index handle.
func (c *Counter) Index() uint32 { return uint32(c.index) }

// Name returns the index's TPM Name as last read from the TPM: the name
// algorithm followed by the SHA-256 of its public area. It changes once,
// when the first increment sets TPMA_NV_WRITTEN.
func (c *Counter) Name() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.name.Buffer...)
}

// Read returns the counter's value. Transient TPM conditions
// (TPM_RC_NV_RATE, TPM_RC_NV_UNAVAILABLE, TPM_RC_RETRY, TPM_RC_YIELDED,
// TPM_RC_TESTING) are retried with bounded exponential backoff, until ctx
// ends.
func (c *Counter) Read(ctx context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, fmt.Errorf("tpm: read counter: %w", ErrClosed)
	}
	return c.read(ctx)
}

// Increment increments the counter and returns its new value, read back
// right after the increment (if another client of the TPM increments the
// same index concurrently, the value may include its increment too; it is
// never lower than this increment's). Transient TPM conditions are retried
// as in Read; a command that failed with them did not run. If Increment
// returns an error other than one from the TPM (a transport error, say), the
// increment may or may not have happened: read the counter to find out.
func (c *Counter) Increment(ctx context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, fmt.Errorf("tpm: increment counter: %w", ErrClosed)
	}
	err := c.withAuth(ctx, "increment counter", func() error {
		_, err := tpm2.NVIncrement{
			AuthHandle: c.authHandle(),
			NVIndex:    tpm2.NamedHandle{Handle: c.index, Name: c.name},
		}.Execute(c.tpm)
		return err
	})
	if err != nil {
		return 0, err
	}
	if !c.written {
		// The first increment set TPMA_NV_WRITTEN, which changes the Name
		// that every later HMAC session must cover (notes pitfall 15).
		if err := c.refresh(ctx); err != nil {
			return 0, err
		}
		if !c.written {
			return 0, fmt.Errorf("tpm: index 0x%08x: TPMA_NV_WRITTEN is not set after an increment", uint32(c.index))
		}
	}
	return c.read(ctx)
}

// Close releases the counter, and closes the transport if Open opened it.
// It is safe to call more than once.
func (c *Counter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.closer != nil {
		return c.closer.Close()
	}
	return nil
}

func (c *Counter) authHandle() tpm2.AuthHandle {
	return tpm2.AuthHandle{Handle: c.index, Name: c.name, Auth: session(c.auth)}
}

func (c *Counter) read(ctx context.Context) (uint64, error) {
	var rsp *tpm2.NVReadResponse
	err := c.withAuth(ctx, "read counter", func() error {
		var err error
		rsp, err = tpm2.NVRead{
			AuthHandle: c.authHandle(),
			NVIndex:    tpm2.NamedHandle{Handle: c.index, Name: c.name},
			Size:       8,
		}.Execute(c.tpm)
		return err
	})
	if err != nil {
		return 0, err
	}
	if len(rsp.Data.Buffer) != 8 {
		return 0, fmt.Errorf("tpm: read counter 0x%08x: %d bytes, want 8", uint32(c.index), len(rsp.Data.Buffer))
	}
	return binary.BigEndian.Uint64(rsp.Data.Buffer), nil
}

// withAuth runs f, a command authorized with the index auth, with retries.
// If the TPM rejects the authorization, the index's public area is read
// again: if the Name changed (another client's first increment set
// WRITTEN, or the index was replaced), f runs once more with the new Name;
// if the index is gone or different, that is the error; otherwise the auth
// value is wrong.
func (c *Counter) withAuth(ctx context.Context, what string, f func() error) error {
	err := c.retry.do(ctx, f)
	if err != nil && isAuthFailure(err) {
		old := string(c.name.Buffer)
		if rerr := c.refresh(ctx); rerr != nil {
			return rerr
		}
		if string(c.name.Buffer) != old {
			err = c.retry.do(ctx, f)
		}
	}
	if err != nil {
		return c.wrap(what, err, "the index auth")
	}
	return nil
}

// refresh reads the index's public area and Name, and checks the area.
func (c *Counter) refresh(ctx context.Context) error {
	var rsp *tpm2.NVReadPublicResponse
	err := c.retry.do(ctx, func() error {
		var err error
		rsp, err = tpm2.NVReadPublic{NVIndex: c.index}.Execute(c.tpm)
		return err
	})
	if err != nil {
		return c.wrap("read index public area", err, "")
	}
	pub, err := rsp.NVPublic.Contents()
	if err != nil {
		return fmt.Errorf("tpm: index 0x%08x: public area: %w", uint32(c.index), err)
	}
	if err := checkPublic(pub, uint32(c.index)); err != nil {
		return err
	}
	c.written = pub.Attributes.Written
	c.name = rsp.NVName
	c.nvPublic = rsp.NVPublic.Bytes()
	return nil
}

// wrap turns a TPM error into this package's: it names the index and adds
// the sentinel that matches (ErrIndexMissing, ErrUninitialized,
// ErrAuthFailed, naming authWhat), keeping the TPM's error in the chain.
func (c *Counter) wrap(what string, err error, authWhat string) error {
	prefix := fmt.Sprintf("tpm: %s 0x%08x", what, uint32(c.index))
	switch {
	case errors.Is(err, tpm2.TPMRCHandle):
		return fmt.Errorf("%s: %w: %w", prefix, ErrIndexMissing, err)
	case errors.Is(err, tpm2.TPMRCNVUninitialized):
		return fmt.Errorf("%s: %w: %w", prefix, ErrUninitialized, err)
	case authWhat != "" && isAuthFailure(err):
		return fmt.Errorf("%s: %w (%s was rejected): %w", prefix, ErrAuthFailed, authWhat, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

func isAuthFailure(err error) bool {
	return errors.Is(err, tpm2.TPMRCAuthFail) || errors.Is(err, tpm2.TPMRCBadAuth)
}

// backoff retries TPM warnings that mean "not now": the command did not run.
type backoff struct {
	first, max time.Duration // the first and the longest wait
	budget     time.Duration // the longest total wait
}

// defaultBackoff waits 10 ms, then twice as long each time up to 2 s, and
// gives up after about 30 s of waiting. A TPM under NV rate limiting
// (TPM_RC_NV_RATE) may refuse NV writes for seconds.
var defaultBackoff = backoff{first: 10 * time.Millisecond, max: 2 * time.Second, budget: 30 * time.Second}

// retryable reports whether err is a TPM warning worth waiting out.
func retryable(err error) bool {
	for _, rc := range []tpm2.TPMRC{tpm2.TPMRCNVRate, tpm2.TPMRCNVUnavailable, tpm2.TPMRCRetry, tpm2.TPMRCYielded, tpm2.TPMRCTesting} {
		if errors.Is(err, rc) {
			return true
		}
	}
	return false
}

// do runs f until it succeeds, fails with an error that is not retryable,
// the budget is spent (f's last error is returned) or ctx ends (ctx's error
// is returned, wrapped with f's last error).
func (b backoff) do(ctx context.Context, f func() error) error {
	var waited time.Duration
	wait := b.first
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := f()
		if err == nil || !retryable(err) || waited+wait > b.budget {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (while retrying after %w)", ctx.Err(), err)
		case <-timer.C:
		}
		waited += wait
		wait = min(2*wait, b.max)
	}
}
