package tpm_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/audit-sealer/audit-sealer/tpm"
	"github.com/audit-sealer/audit-sealer/tpm/swtpmtest"
	"github.com/audit-sealer/audit-sealer/tpm/tpmtest"
)

var auth = []byte("counter-test-auth")

func read(t *testing.T, c *tpm.Counter) uint64 {
	t.Helper()
	v, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return v
}

func increment(t *testing.T, c *tpm.Counter) uint64 {
	t.Helper()
	v, err := c.Increment(ctx)
	if err != nil {
		t.Fatalf("Increment: %v", err)
	}
	return v
}

func open(t *testing.T, tr interface {
	Send([]byte) ([]byte, error)
	Close() error
}, cfg tpm.Config) *tpm.Counter {
	t.Helper()
	c, err := tpm.OpenWithTransport(tr, cfg)
	if err != nil {
		t.Fatalf("OpenWithTransport: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestProvisionReadIncrement: Provision defines the index and gives 1 on a
// fresh TPM; a second Provision changes nothing and says so; Read and
// Increment work; the Name is the one computed from the template with
// WRITTEN set (it changed at the first increment).
func TestProvisionReadIncrement(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	cfg := tpm.Config{Auth: auth}

	if _, err := tpm.OpenWithTransport(tr, cfg); !errors.Is(err, tpm.ErrIndexMissing) {
		t.Fatalf("Open before Provision: %v, want ErrIndexMissing", err)
	}
	v, err := tpm.ProvisionWithTransport(tr, cfg)
	if err != nil || v != 1 {
		t.Fatalf("Provision = %d, %v; want 1 on a fresh TPM", v, err)
	}
	v, err = tpm.ProvisionWithTransport(tr, cfg)
	if !errors.Is(err, tpm.ErrAlreadyProvisioned) || v != 1 {
		t.Fatalf("second Provision = %d, %v; want 1 and ErrAlreadyProvisioned", v, err)
	}
	if !strings.HasPrefix(err.Error(), "tpm: ") {
		t.Errorf("error %q lacks the tpm: prefix", err)
	}

	c := open(t, tr, cfg)
	if c.Index() != tpm.DefaultIndex {
		t.Errorf("Index = 0x%08x", c.Index())
	}
	if r := read(t, c); r != 1 {
		t.Fatalf("Read = %d, want 1", r)
	}
	for want := uint64(2); want <= 5; want++ {
		if v := increment(t, c); v != want {
			t.Fatalf("Increment = %d, want %d", v, want)
		}
	}
	if r := read(t, c); r != 5 {
		t.Fatalf("Read = %d, want 5", r)
	}

	pub := counterTemplate(tpm.DefaultIndex)
	unwritten, _ := tpm2.NVName(&pub)
	pub.Attributes.Written = true
	written, _ := tpm2.NVName(&pub)
	if !bytes.Equal(c.Name(), written.Buffer) || bytes.Equal(written.Buffer, unwritten.Buffer) {
		t.Errorf("Name = %x, want %x (WRITTEN set; %x before the first increment)", c.Name(), written.Buffer, unwritten.Buffer)
	}
}

// TestFirstIncrementRefreshesName: a Counter opened on an index that was
// never incremented knows the Name without WRITTEN; after its first
// Increment it must use the new Name, or every later HMAC-authorized command
// fails (notes pitfall 15).
func TestFirstIncrementRefreshesName(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	cfg := tpm.Config{Auth: auth}
	defineRaw(t, tr, counterTemplate(tpm.DefaultIndex), auth)
	c := open(t, tr, cfg)
	before := c.Name()
	if _, err := c.Read(ctx); !errors.Is(err, tpm.ErrUninitialized) {
		t.Fatalf("Read of a never-incremented counter: %v, want ErrUninitialized", err)
	}
	if _, err := tpm.Certify(ctx, c, nil); !errors.Is(err, tpm.ErrUninitialized) {
		t.Fatalf("Certify of a never-incremented counter: %v, want ErrUninitialized", err)
	}
	v := increment(t, c)
	if bytes.Equal(c.Name(), before) {
		t.Error("the Name did not change at the first increment")
	}
	if r := read(t, c); r != v {
		t.Errorf("Read = %d, want %d", r, v)
	}
	if w := increment(t, c); w != v+1 {
		t.Errorf("second Increment = %d, want %d", w, v+1)
	}

	// Another client's first increment changes the Name under a Counter
	// opened earlier: the Counter notices when the TPM rejects the old Name.
	const other = 0x01500102
	defineRaw(t, tr, counterTemplate(other), auth)
	ocfg := tpm.Config{Auth: auth, Index: other}
	stale := open(t, tr, ocfg)
	if _, err := open(t, tr, ocfg).Increment(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := stale.Read(ctx); err != nil || r == 0 {
		t.Errorf("Read through a Counter with a stale Name = %d, %v", r, err)
	}
}

// TestPersistence: the value survives swtpm restarts on the same state
// directory, with and without an orderly TPM2_Shutdown.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	s := swtpmtest.StartSwtpm(t, dir)
	c, cfg := swtpmtest.Counter(t, s.Transport())
	increment(t, c)
	last := increment(t, c)
	s.Stop() // power loss: no TPM2_Shutdown

	s = swtpmtest.StartSwtpm(t, dir)
	c = open(t, s.Transport(), cfg)
	if r := read(t, c); r != last {
		t.Fatalf("after a restart Read = %d, want %d", r, last)
	}
	last = increment(t, c)
	if err := s.Shutdown(); err != nil {
		t.Fatalf("TPM2_Shutdown: %v", err)
	}

	s = swtpmtest.StartSwtpm(t, dir)
	c = open(t, s.Transport(), cfg)
	if r := read(t, c); r != last {
		t.Fatalf("after an orderly restart Read = %d, want %d", r, last)
	}
}

// TestPowerLoss kills swtpm with SIGKILL while a goroutine increments as
// fast as it can. After the restart the counter is never below the last
// value an Increment returned, and at most one above it (the increment in
// flight, if the TPM had committed it).
func TestPowerLoss(t *testing.T) {
	dir := t.TempDir()
	s := swtpmtest.StartSwtpm(t, dir)
	_, cfg := swtpmtest.Counter(t, s.Transport())
	for round := range 3 {
		c := open(t, s.Transport(), cfg)
		var last atomic.Uint64
		last.Store(read(t, c))
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				v, err := c.Increment(ctx)
				if err != nil {
					return
				}
				last.Store(v)
			}
		}()
		time.Sleep(time.Duration(20+round*15) * time.Millisecond)
		s.Kill()
		<-done

		s = swtpmtest.StartSwtpm(t, dir)
		got := read(t, open(t, s.Transport(), cfg))
		if l := last.Load(); got < l || got > l+1 {
			t.Fatalf("round %d: after kill -9 the counter reads %d; the last Increment returned %d", round, got, l)
		} else {
			t.Logf("round %d: last returned %d, after kill -9 and restart %d", round, l, got)
		}
	}
}

// TestUndefineRedefine: an index deleted by the owner is reported missing;
// a counter defined again at the same handle starts above the highest value
// of the deleted one (the TPM's maxCount: counters never go down), through
// Provision, or through another tool's define with an Increment, and across
// a restart.
func TestUndefineRedefine(t *testing.T) {
	dir := t.TempDir()
	s := swtpmtest.StartSwtpm(t, dir)
	tr := s.Transport()
	cfg := tpm.Config{Auth: auth}
	if _, err := tpm.ProvisionWithTransport(tr, cfg); err != nil {
		t.Fatal(err)
	}
	c := open(t, tr, cfg)
	for range 4 {
		increment(t, c)
	}
	highest := read(t, c)

	undefine(t, tr, tpm.DefaultIndex)
	if _, err := c.Read(ctx); !errors.Is(err, tpm.ErrIndexMissing) {
		t.Errorf("Read after undefine: %v, want ErrIndexMissing", err)
	}
	if _, err := c.Increment(ctx); !errors.Is(err, tpm.ErrIndexMissing) {
		t.Errorf("Increment after undefine: %v, want ErrIndexMissing", err)
	}
	if _, err := tpm.OpenWithTransport(tr, cfg); !errors.Is(err, tpm.ErrIndexMissing) {
		t.Errorf("Open after undefine: %v, want ErrIndexMissing", err)
	}
	if _, err := tpm.Certify(ctx, c, nil); !errors.Is(err, tpm.ErrIndexMissing) {
		t.Errorf("Certify after undefine: %v, want ErrIndexMissing", err)
	}

	v, err := tpm.ProvisionWithTransport(tr, cfg)
	if err != nil || v <= highest {
		t.Fatalf("Provision after undefine = %d, %v; want above %d", v, err, highest)
	}
	t.Logf("undefined at %d, provisioned again: %d", highest, v)
	// The old Counter finds the new index: same public area, same Name.
	if r, err := c.Read(ctx); err != nil || r != v {
		t.Errorf("old Counter Read = %d, %v; want %d", r, err, v)
	}
	highest = increment(t, c)

	// Once more, with a restart between undefine and define, and the index
	// defined by "another tool" and left uninitialised.
	undefine(t, tr, tpm.DefaultIndex)
	s.Stop()
	s = swtpmtest.StartSwtpm(t, dir)
	tr = s.Transport()
	defineRaw(t, tr, counterTemplate(tpm.DefaultIndex), auth)
	c = open(t, tr, cfg)
	if _, err := c.Read(ctx); !errors.Is(err, tpm.ErrUninitialized) {
		t.Errorf("Read of the redefined, never-incremented index: %v, want ErrUninitialized", err)
	}
	v = increment(t, c)
	if v <= highest {
		t.Errorf("first Increment of the redefined counter = %d, want above %d", v, highest)
	}
	t.Logf("undefined at %d, restart, defined again, first increment: %d", highest, v)

	// Provision completes an index another tool defined but never
	// incremented, without calling it provisioned.
	const half = 0x01500103
	defineRaw(t, tr, counterTemplate(half), auth)
	hv, err := tpm.ProvisionWithTransport(tr, tpm.Config{Auth: auth, Index: half})
	if err != nil || hv == 0 {
		t.Errorf("Provision of a defined, never-incremented index = %d, %v", hv, err)
	}
}

// TestIndexMismatch: indexes whose public area is not Provision's are
// refused by Open and Provision, which change nothing.
func TestIndexMismatch(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	for i, tc := range []struct {
		name string
		mut  func(*tpm2.TPMSNVPublic)
		msg  string
	}{
		{"orderly", func(p *tpm2.TPMSNVPublic) { p.Attributes.Orderly = true }, "ORDERLY"},
		{"ordinary", func(p *tpm2.TPMSNVPublic) { p.Attributes.NT = tpm2.TPMNTOrdinary }, "not a counter"},
		{"bits", func(p *tpm2.TPMSNVPublic) { p.Attributes.NT = tpm2.TPMNTBits }, "not a counter"},
		{"size 16", func(p *tpm2.TPMSNVPublic) { p.Attributes.NT = tpm2.TPMNTOrdinary; p.DataSize = 16 }, "size 16"},
		{"no NoDA", func(p *tpm2.TPMSNVPublic) { p.Attributes.NoDA = false }, "attributes"},
		{"owner write", func(p *tpm2.TPMSNVPublic) { p.Attributes.OwnerWrite = true }, "attributes"},
		{"SHA-1 name", func(p *tpm2.TPMSNVPublic) { p.NameAlg = tpm2.TPMAlgSHA1 }, "name algorithm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			index := uint32(0x01500200 + i)
			pub := counterTemplate(index)
			tc.mut(&pub)
			defineRaw(t, tr, pub, auth)
			cfg := tpm.Config{Auth: auth, Index: index}
			_, err := tpm.OpenWithTransport(tr, cfg)
			if !errors.Is(err, tpm.ErrIndexMismatch) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Open: %v; want ErrIndexMismatch saying %q", err, tc.msg)
			}
			if _, err := tpm.ProvisionWithTransport(tr, cfg); !errors.Is(err, tpm.ErrIndexMismatch) {
				t.Errorf("Provision: %v; want ErrIndexMismatch", err)
			}
			rp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(tr)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := rp.NVPublic.Contents(); got.Attributes.Written {
				t.Error("Provision wrote to a mismatched index")
			}
		})
	}
}

// TestWrongAuth: a wrong index auth is reported as such and changes
// nothing.
func TestWrongAuth(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	good, cfg := swtpmtest.Counter(t, tr)
	before := read(t, good)
	cfg.Auth = []byte("not the auth")
	c := open(t, tr, cfg) // reading the public area needs no auth
	if _, err := c.Read(ctx); !errors.Is(err, tpm.ErrAuthFailed) {
		t.Errorf("Read with a wrong auth: %v, want ErrAuthFailed", err)
	}
	if _, err := c.Increment(ctx); !errors.Is(err, tpm.ErrAuthFailed) {
		t.Errorf("Increment with a wrong auth: %v, want ErrAuthFailed", err)
	}
	if _, err := tpm.Certify(ctx, c, nil); !errors.Is(err, tpm.ErrAuthFailed) {
		t.Errorf("Certify with a wrong auth: %v, want ErrAuthFailed", err)
	}
	if _, err := tpm.ProvisionWithTransport(tr, cfg); !errors.Is(err, tpm.ErrAuthFailed) || errors.Is(err, tpm.ErrAlreadyProvisioned) {
		t.Errorf("Provision with a wrong auth: %v, want ErrAuthFailed", err)
	}
	if r := read(t, good); r != before {
		t.Errorf("the counter moved from %d to %d", before, r)
	}
	// NoDA: failures do not lock the index out.
	if r := read(t, good); r != before {
		t.Errorf("after failures Read = %d, want %d", r, before)
	}

	// A wrong owner auth, on a TPM whose owner auth is empty.
	if _, err := tpm.ProvisionWithTransport(tr, tpm.Config{Auth: auth, Index: 0x01500105, OwnerAuth: []byte("owner")}); !errors.Is(err, tpm.ErrAuthFailed) {
		t.Errorf("Provision with a wrong owner auth: %v, want ErrAuthFailed", err)
	}
	// A wrong endorsement auth.
	ecfg := tpm.Config{Auth: swtpmtest.TestAuth, EndorsementAuth: []byte("endorsement")}
	if _, err := tpm.Certify(ctx, open(t, tr, ecfg), nil); !errors.Is(err, tpm.ErrAuthFailed) {
		t.Errorf("Certify with a wrong endorsement auth: %v, want ErrAuthFailed", err)
	}
}

// TestOwnerAuth: Provision authorizes with the owner auth when the TPM has
// one.
func TestOwnerAuth(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	owner := []byte("the owner's auth value") // 112 bits or more, for FIPS 140-only mode (TestFIPSOnly)
	_, err := tpm2.HierarchyChangeAuth{
		AuthHandle: tpm2.TPMRHOwner,
		NewAuth:    tpm2.TPM2BAuth{Buffer: owner},
	}.Execute(tr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpm.ProvisionWithTransport(tr, tpm.Config{Auth: auth}); !errors.Is(err, tpm.ErrAuthFailed) {
		t.Errorf("Provision without the owner auth: %v, want ErrAuthFailed", err)
	}
	if v, err := tpm.ProvisionWithTransport(tr, tpm.Config{Auth: auth, OwnerAuth: owner}); err != nil || v != 1 {
		t.Errorf("Provision with the owner auth = %d, %v", v, err)
	}
}

// TestConformance runs the counter conformance suite on a TPM counter.
func TestConformance(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	_, cfg := swtpmtest.Counter(t, tr)
	tpmtest.RunCounter(t, func(t *testing.T) tpmtest.Counter {
		c, err := tpm.OpenWithTransport(tr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// TestConformanceOwnTransport runs the suite with Open, where each Counter
// has its own transport, which Close closes: swtpm serves one connection,
// so this uses a swtpm on a Unix socket (the linuxudstpm transport).
func TestConformanceOwnTransport(t *testing.T) {
	spec := startUnixSwtpm(t)
	cfg := tpm.Config{Transport: spec, Auth: auth}
	if _, err := tpm.Provision(cfg); err != nil {
		t.Fatal(err)
	}
	tpmtest.RunCounter(t, func(t *testing.T) tpmtest.Counter {
		c, err := tpm.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// TestRetry: TPM_RC_NV_RATE and the other "try later" warnings are
// retried with backoff, within the budget and the context; other errors
// are not.
func TestRetry(t *testing.T) {
	s := swtpmtest.StartSwtpm(t, "")
	_, cfg := swtpmtest.Counter(t, s.Transport())
	ft := &faultTransport{TPMCloser: s.Transport()}
	c := open(t, ft, cfg)
	tpm.SetBackoff(c, time.Millisecond, 4*time.Millisecond, 200*time.Millisecond)
	start := read(t, c)

	for _, rc := range []tpm2.TPMRC{tpm2.TPMRCNVRate, tpm2.TPMRCNVUnavailable, tpm2.TPMRCRetry, tpm2.TPMRCYielded} {
		ft.set(tpm2.TPMCCNVIncrement, rc, 3)
		v, err := c.Increment(ctx)
		if err != nil || v != start+1 {
			t.Fatalf("Increment after 3 × %v = %d, %v; want %d", rc, v, err, start+1)
		}
		if n := ft.count(); n != 4 {
			t.Errorf("%v: NV_Increment sent %d times, want 4", rc, n)
		}
		start = v
	}

	ft.set(tpm2.TPMCCNVRead, tpm2.TPMRCNVUnavailable, 2)
	if r := read(t, c); r != start {
		t.Errorf("Read after NV_UNAVAILABLE = %d, want %d", r, start)
	}

	// Always rate-limited: give up when the budget is spent.
	ft.set(tpm2.TPMCCNVIncrement, tpm2.TPMRCNVRate, -1)
	began := time.Now()
	_, err := c.Increment(ctx)
	if !errors.Is(err, tpm2.TPMRCNVRate) || !strings.HasPrefix(err.Error(), "tpm: ") {
		t.Errorf("Increment, always NV_RATE: %v", err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("gave up after %v, with a budget of 200ms", d)
	}
	if n := ft.count(); n < 5 {
		t.Errorf("NV_Increment sent %d times before giving up", n)
	}

	// The context ends the retries.
	tpm.SetBackoff(c, time.Millisecond, 4*time.Millisecond, time.Hour)
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = c.Increment(tctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Increment, always NV_RATE, 50ms context: %v", err)
	}

	// An error that is not a warning is not retried.
	ft.set(tpm2.TPMCCNVIncrement, tpm2.TPMRCFailure, 1)
	if _, err := c.Increment(ctx); !errors.Is(err, tpm2.TPMRCFailure) {
		t.Errorf("Increment, TPM_RC_FAILURE: %v", err)
	}
	if n := ft.count(); n != 1 {
		t.Errorf("TPM_RC_FAILURE: NV_Increment sent %d times, want 1", n)
	}

	ft.set(0, 0, 0)
	if r := read(t, c); r != start {
		t.Errorf("after failed increments Read = %d, want %d (none of them ran)", r, start)
	}
}

// TestClosed: a closed Counter refuses work; Close does not close a
// transport it was given, and closes one it opened.
func TestClosed(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	c, cfg := swtpmtest.Counter(t, tr)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Read(ctx); !errors.Is(err, tpm.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if _, err := c.Increment(ctx); !errors.Is(err, tpm.ErrClosed) {
		t.Errorf("Increment after Close: %v", err)
	}
	if _, err := tpm.Certify(ctx, c, nil); !errors.Is(err, tpm.ErrClosed) {
		t.Errorf("Certify after Close: %v", err)
	}
	// The transport still works.
	read(t, open(t, tr, cfg))
}

// TestConcurrentUse: Read, Increment and Certify from many goroutines on
// one Counter (the race detector checks the locking).
func TestConcurrentUse(t *testing.T) {
	tr, _ := swtpmtest.Start(t, "")
	c, _ := swtpmtest.Counter(t, tr)
	start := read(t, c)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			for range 5 {
				var err error
				switch i % 3 {
				case 0:
					_, err = c.Increment(ctx)
				case 1:
					_, err = c.Read(ctx)
				case 2:
					_, err = tpm.Certify(ctx, c, []byte{byte(i)})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if r := read(t, c); r != start+10 {
		t.Errorf("after 10 concurrent increments Read = %d, want %d", r, start+10)
	}
}
