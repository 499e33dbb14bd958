//go:build cgo

package hsm

import (
	"errors"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/audit-sealer/audit-sealer/signer"
)

// Signer signs with a private key on a PKCS#11 token. It is safe for
// concurrent use; see the package documentation for its session pool, its
// login rule and what happens when the token goes away.
type Signer struct {
	cfg Config // with defaults
	mod *module
	pub signer.PublicKey // fixed at Open; reconnects must find the same key

	mu     sync.Mutex
	conn   *conn // nil while disconnected
	failed error // a refused login: returned by Sign until Reopen
	closed bool
	fips   FIPSStatus // what the token reported at the last connection
}

var _ signer.Signer = (*Signer)(nil)

// conn is one connection to the token: the slot and key handle found for one
// module generation, and the pool of sessions opened on it.
type conn struct {
	gen  uint64
	slot uint
	priv pkcs11.ObjectHandle
	idle chan pkcs11.SessionHandle // capacity MaxSessions; never more than open
	done chan struct{}             // closed when the conn dies

	// Guarded by Signer.mu.
	open int  // sessions of this conn not yet closed: idle or borrowed
	dead bool // the conn is being torn down; borrowed sessions close on release
}

// Open connects to the key that cfg selects: it loads the module (once per
// process), finds the token by label or serial number, logs in once, finds
// the private key and its public half, checks that the token has the signing
// mechanism and that the key is sensitive and not extractable, reads what the
// token reports about FIPS 140 (Signer.FIPS; with cfg.RequireFIPS, anything
// but FIPSValidated is refused with ErrNotFIPS), and makes one test
// signature.
//
// A refused PIN gives an error wrapping ErrPINIncorrect (or ErrLoginFailed);
// the login is not retried.
func Open(cfg Config) (*Signer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(needKey); err != nil {
		return nil, err
	}
	m, err := loadModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	s := &Signer{cfg: cfg, mod: m}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.connectLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// Public returns the public key, named Config.KeyName.
func (s *Signer) Public() signer.PublicKey { return s.pub }

// Kind returns signer.PKCS11.
func (s *Signer) Kind() signer.Kind { return signer.PKCS11 }

// FIPS returns what the token reported about the FIPS 140 validation of
// the key at the last connection (Open, or the last reconnect). With
// Config.RequireFIPS it is always FIPSValidated: a connection to a token
// that says otherwise fails with ErrNotFIPS.
func (s *Signer) FIPS() FIPSStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fips
}

// Sign signs msg on the token: Ed25519 over msg, or ECDSA P-256 over
// SHA-256(msg) in ASN.1 DER. The signature is verified before it is returned.
//
// When the session, the login or the token is lost, Sign returns an error
// wrapping signer.ErrUnavailable, and the next call reconnects. After a
// refused login it returns that error (wrapping ErrPINIncorrect or
// ErrLoginFailed) without calling the token, until Reopen.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	c, sh, err := s.acquire()
	if err != nil {
		return nil, err
	}
	sig, err := s.signOnce(c, sh, msg)
	if errors.Is(err, errStale) {
		// The module was re-initialised (Reopen) between acquire and
		// signOnce: not a token failure, so reconnect and try once more.
		s.discard(c, sh, err)
		if c, sh, err = s.acquire(); err != nil {
			return nil, err
		}
		sig, err = s.signOnce(c, sh, msg)
	}
	if err != nil {
		s.discard(c, sh, err)
		if lost(err) {
			return nil, errorf(kinds(signer.ErrUnavailable), "hsm: sign with key %s on token %s: %w", s.cfg.key(), s.cfg.token(), err)
		}
		return nil, fmt.Errorf("hsm: sign with key %s on token %s: %w", s.cfg.key(), s.cfg.token(), err)
	}
	s.release(c, sh)
	if !s.pub.Verify(msg, sig) {
		return nil, errorf(kinds(ErrBadSignature), "hsm: token %s returned a signature that does not verify with key %s; it was not used", s.cfg.token(), s.cfg.key())
	}
	return sig, nil
}

// Reopen closes the Signer's sessions, finalises and re-initialises the
// module (so that it sees tokens again, and re-reads its configuration), and
// reconnects, logging in once. It also clears a refused login: after an error
// wrapping ErrPINIncorrect or ErrLoginFailed, Reopen tries the configured PIN
// once more. Call it when an operator asks (for example after fixing the
// token's PIN), never in a loop: real HSMs lock the PIN after a few failures.
//
// Sessions of other Signers on the same module become invalid; those Signers
// reconnect on their next Sign.
func (s *Signer) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.conn != nil {
		s.killLocked(s.conn)
	}
	s.failed = nil
	if err := s.mod.reinit(); err != nil {
		return err
	}
	return s.connectLocked()
}

// Close closes the Signer's sessions. Sign then returns ErrClosed. The module
// stays loaded for the rest of the process. Close is idempotent.
func (s *Signer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn != nil {
		s.killLocked(s.conn)
	}
	return nil
}

// connectLocked finds the token and the key, logs in if needed and makes a
// new conn with one open session. On a reconnect (the Signer worked before)
// every error but a refused login wraps signer.ErrUnavailable.
func (s *Signer) connectLocked() error {
	if s.failed != nil {
		return s.failed
	}
	reconnect := s.pub.Algorithm != ""
	err := s.connect()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrPINIncorrect), errors.Is(err, ErrLoginFailed):
		s.failed = err
		return err
	case reconnect && !errors.Is(err, signer.ErrUnavailable):
		return errorf(kinds(signer.ErrUnavailable), "%w", err)
	}
	return err
}

func (s *Signer) connect() error {
	if err := s.mod.ensureInit(); err != nil {
		return err
	}
	m := s.mod
	m.mu.RLock()
	defer m.mu.RUnlock()
	ctx := m.ctx
	slot, err := findSlot(ctx, s.cfg)
	if err != nil {
		return err
	}
	sh, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return tokenErr(s.cfg, "open session", err)
	}
	ok := false
	defer func() {
		if !ok {
			ctx.CloseSession(sh)
		}
	}()
	if err := login(ctx, sh, s.cfg); err != nil {
		return err
	}
	kp, err := findKey(ctx, sh, s.cfg)
	if err != nil {
		return err
	}
	pub := kp.info.Public
	if s.pub.Algorithm != "" && !pub.Equal(s.pub) {
		return errorf(kinds(ErrKeyChanged), "hsm: key %s on token %s is now %s, not the key %s this signer was opened with",
			s.cfg.key(), s.cfg.token(), pub.ID(), s.pub.ID())
	}
	if err := probe(ctx, slot, s.cfg, signMechanism(pub.Algorithm), pkcs11.CKF_SIGN); err != nil {
		return err
	}
	fips, err := keyFIPS(ctx, sh, slot, kp.priv, s.cfg)
	if err != nil {
		return err
	}
	if s.cfg.RequireFIPS && fips.State != FIPSValidated {
		return notFIPS(fips)
	}
	msg := []byte("audit-sealer hsm self-test\n")
	sig, err := signRaw(ctx, sh, kp.priv, pub.Algorithm, msg)
	if err != nil {
		return tokenErr(s.cfg, fmt.Sprintf("test signature with key %s", s.cfg.key()), err)
	}
	if !pub.Verify(msg, sig) {
		return errorf(kinds(ErrBadSignature), "hsm: test signature with key %s on token %s does not verify with its public key object", s.cfg.key(), s.cfg.token())
	}
	c := &conn{
		gen:  m.gen,
		slot: slot,
		priv: kp.priv,
		idle: make(chan pkcs11.SessionHandle, s.cfg.MaxSessions),
		done: make(chan struct{}),
		open: 1,
	}
	c.idle <- sh
	s.conn = c
	s.fips = fips
	if s.pub.Algorithm == "" {
		s.pub = pub // only in Open: Public and Sign read s.pub without a lock
	}
	ok = true
	return nil
}

// acquire borrows a session: an idle one, a new one while fewer than
// MaxSessions are open, or else the next one given back. It reconnects first
// when there is no live conn.
func (s *Signer) acquire() (*conn, pkcs11.SessionHandle, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, 0, ErrClosed
		}
		if s.failed != nil {
			err := s.failed
			s.mu.Unlock()
			return nil, 0, err
		}
		c := s.conn
		if c != nil && c.gen != s.mod.generation() {
			s.killLocked(c) // the module was re-initialised under us
			c = nil
		}
		if c == nil {
			if err := s.connectLocked(); err != nil {
				s.mu.Unlock()
				return nil, 0, err
			}
			c = s.conn
		}
		select {
		case sh := <-c.idle:
			s.mu.Unlock()
			return c, sh, nil
		default:
		}
		if c.open < s.cfg.MaxSessions {
			c.open++
			s.mu.Unlock()
			sh, err := s.openSession(c)
			if err != nil {
				s.mu.Lock()
				c.open--
				switch {
				case errors.Is(err, errStale):
					s.killLocked(c) // re-initialised meanwhile: reconnect
					s.mu.Unlock()
					continue
				case errors.Is(err, ErrPINIncorrect), errors.Is(err, ErrLoginFailed):
					s.failed = err
					s.killLocked(c)
				case errors.Is(err, signer.ErrUnavailable):
					s.killLocked(c)
				}
				s.mu.Unlock()
				return nil, 0, err
			}
			return c, sh, nil
		}
		s.mu.Unlock()
		select {
		case sh := <-c.idle:
			return c, sh, nil
		case <-c.done:
			// The conn died while we waited: start over.
		}
	}
}

// openSession opens one more session on c, and logs in if the token has
// forgotten the login (which happens when all of an application's sessions
// on a token are closed).
func (s *Signer) openSession(c *conn) (pkcs11.SessionHandle, error) {
	m := s.mod
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.gen != c.gen {
		return 0, errStale
	}
	sh, err := m.ctx.OpenSession(c.slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return 0, tokenErr(s.cfg, "open session", err)
	}
	if err := login(m.ctx, sh, s.cfg); err != nil {
		m.ctx.CloseSession(sh)
		return 0, err
	}
	return sh, nil
}

// signOnce signs msg on the borrowed session sh of c.
func (s *Signer) signOnce(c *conn, sh pkcs11.SessionHandle, msg []byte) ([]byte, error) {
	m := s.mod
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.gen != c.gen {
		return nil, errStale
	}
	return signRaw(m.ctx, sh, c.priv, s.pub.Algorithm, msg)
}

// errStale says that a session belongs to an earlier generation of the
// module: its handle is invalid and its number may be in use again.
var errStale = fmt.Errorf("hsm: module re-initialised: %w", pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID))

// release gives a borrowed session back to its conn's pool, or closes it if
// the conn died meanwhile.
func (s *Signer) release(c *conn, sh pkcs11.SessionHandle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.dead {
		c.open--
		s.closeSession(c, sh)
		return
	}
	c.idle <- sh // never blocks: len(idle) < open <= cap(idle)
}

// discard drops a borrowed session after err. If err means that the token,
// the login or the session was lost, the whole conn dies and the next Sign
// reconnects.
func (s *Signer) discard(c *conn, sh pkcs11.SessionHandle, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.open--
	var rv pkcs11.Error
	errors.As(err, &rv)
	switch rv {
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED:
		// The handle is gone already; closing it could close a session that
		// reuses the number.
	default:
		s.closeSession(c, sh)
	}
	if lost(err) {
		s.killLocked(c)
	}
}

// killLocked marks c dead, detaches it from s and closes its idle sessions;
// borrowed ones close when they are given back.
func (s *Signer) killLocked(c *conn) {
	if !c.dead {
		c.dead = true
		close(c.done)
	}
	if s.conn == c {
		s.conn = nil
	}
	for {
		select {
		case sh := <-c.idle:
			c.open--
			s.closeSession(c, sh)
		default:
			return
		}
	}
}

// closeSession closes sh unless the module was re-initialised since c was
// made (then the handle is invalid, and its number may be in use again).
func (s *Signer) closeSession(c *conn, sh pkcs11.SessionHandle) {
	m := s.mod
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.gen == c.gen && m.initialized {
		m.ctx.CloseSession(sh)
	}
}

// generation returns the module's current generation.
func (m *module) generation() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.gen
}
