package witness

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/signer"
)

// key returns a fixed Ed25519 key derived from label.
func key(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("audit-sealer witness test: " + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// testSigner returns a witness Signer with a fixed key and clock.
func testSigner(t testing.TB, name, label string) *Signer {
	t.Helper()
	s, err := NewSigner(name, key(label))
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return time.Unix(1796288400, 0) }
	return s
}

// testCheckpoint returns a signed checkpoint of our format (FORMAT.md §5)
// of the given size, signed by a fixed log key, and its note text.
func testCheckpoint(t testing.TB, size uint64) (signed, text []byte) {
	t.Helper()
	logKey, err := signer.NewSoftwareSignerFromKey("audit-sealer.test/log", key("log"))
	if err != nil {
		t.Fatal(err)
	}
	c := chain.Checkpoint{Origin: chain.OriginPrefix + "0123456789abcdef0123456789abcdef", Size: size,
		Root: sha256.Sum256([]byte(fmt.Sprint("root", size))), Head: sha256.Sum256([]byte("head")),
		Time: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC), SignerKind: signer.Software, Algorithm: signer.Ed25519,
		Dev: true, RunKey: make([]byte, 32), Start: &chain.LogStart{Seq: 0, Hash: sha256.Sum256([]byte("genesis"))}}
	signed, err = chain.SignCheckpoint(&c, logKey, logKey.Public().Name)
	if err != nil {
		t.Fatal(err)
	}
	return signed, []byte(c.Text())
}

// fakeWitness serves add-checkpoint with answer, counting requests and
// keeping the last request body.
type fakeWitness struct {
	srv      *httptest.Server
	requests atomic.Int32
	last     atomic.Value // []byte
}

func newFake(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body []byte)) *fakeWitness {
	t.Helper()
	f := &fakeWitness{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		f.last.Store(body)
		if r.Method != http.MethodPost || r.URL.Path != "/add-checkpoint" {
			http.Error(w, "wrong method or path", http.StatusMethodNotAllowed)
			return
		}
		answer(w, r, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// cosignAnswer answers 200 with the cosignatures by signers of the note in
// the request.
func cosignAnswer(signers ...*Signer) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, body []byte) {
		_, cp, _ := bytes.Cut(body, []byte("\n\n"))
		text := cp[:bytes.LastIndex(cp, []byte("\n\n"))+1]
		for _, s := range signers {
			c, err := s.Cosign(text)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			io.WriteString(w, c.Line())
		}
	}
}

func fixed(status int, ctype, body string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestVerifierKey(t *testing.T) {
	s := testSigner(t, "witness.test/w1", "w1")
	vkey := s.Verifier().String()
	v, err := ParseVerifierKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if v.String() != vkey || v.Name() != "witness.test/w1" || !v.PublicKey().Equal(key("w1").Public()) {
		t.Fatalf("parsed %s, want %s", v, vkey)
	}
	// The key ID is SHA-256(name || "\n" || 0x04 || key)[:4].
	h := sha256.Sum256(append([]byte("witness.test/w1\n\x04"), key("w1").Public().(ed25519.PublicKey)...))
	if want := fmt.Sprintf("%x", h[:4]); !strings.Contains(vkey, "+"+want+"+") {
		t.Fatalf("vkey %s does not carry key ID %s", vkey, want)
	}

	pub := key("w1").Public().(ed25519.PublicKey)
	b64 := func(b ...[]byte) string { return base64.StdEncoding.EncodeToString(bytes.Join(b, nil)) }
	logKey := signer.NewEd25519PublicKey("witness.test/w1", pub) // a log's note key: type 0x01
	name, rest, _ := strings.Cut(vkey, "+")
	hash, key64, _ := strings.Cut(rest, "+")
	for _, bad := range []string{
		"",
		"witness.test/w1",
		logKey.VerifierKey(),
		name + "+" + strings.ToUpper(hash) + "+" + key64,
		name + "+00000000+" + key64,
		name + "+" + hash + "+" + key64[:10] + "\n" + key64[10:], // the decoder alone skips newlines
		name + "+" + hash + "+" + b64([]byte{4}, pub[:31]),
		name + "+" + hash + "+" + b64([]byte{6}, pub),
		"bad name+" + hash + "+" + key64,
		"+" + hash + "+" + key64,
		name + "+" + hash + "+" + key64 + "+",
		name + "+" + hash + "+" + key64[:len(key64)-2] + "x=", // not base64 of 33 bytes
	} {
		if v, err := ParseVerifierKey(bad); !errors.Is(err, ErrBadVerifierKey) {
			t.Errorf("ParseVerifierKey(%q) = %v, %v; want ErrBadVerifierKey", bad, v, err)
		}
	}
}

// TestCosignatureWithSumdbNote checks a cosignature against the C2SP text
// with code that is not ours (ed25519 and sumdb/note): the signed message is
// "cosignature/v1\ntime T\n" and the whole checkpoint text, extension lines
// included, and note.Open verifies a cosigned checkpoint with a Verifier.
func TestCosignatureWithSumdbNote(t *testing.T) {
	s := testSigner(t, "witness.test/w1", "w1")
	signed, text := testCheckpoint(t, 5)
	c, err := s.Cosign(text)
	if err != nil {
		t.Fatal(err)
	}
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", c.Timestamp, text)
	if !strings.Contains(string(text), "\nstart 0 ") || !ed25519.Verify(key("w1").Public().(ed25519.PublicKey), []byte(msg), c.Signature) {
		t.Fatal("the cosignature is not an Ed25519 signature of cosignature/v1, the time and the whole checkpoint text")
	}
	if c.Time() != time.Unix(1796288400, 0).UTC() {
		t.Fatalf("time %v", c.Time())
	}
	parsed, err := ParseCosignature(c.Line())
	if err != nil || parsed.Line() != c.Line() {
		t.Fatalf("ParseCosignature(%q) = %+v, %v", c.Line(), parsed, err)
	}

	cosigned := append(bytes.Clone(signed), c.Line()...)
	n, err := note.Open(cosigned, note.VerifierList(s.Verifier()))
	if err != nil {
		t.Fatalf("note.Open: %v", err)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != "witness.test/w1" || len(n.UnverifiedSigs) != 1 || n.Text != string(text) {
		t.Fatalf("note.Open: %+v", n)
	}
	// note.Sign with the Signer gives the same kind of line.
	again, err := note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil || !strings.HasSuffix(string(again), c.Line()) {
		t.Fatalf("note.Sign: %q, %v; want the line %q", again, err, c.Line())
	}

	// One byte of an extension line changed: the cosignature fails.
	forged := bytes.Replace(cosigned, []byte("mode dev"), []byte("mode dew"), 1)
	var invalid *note.InvalidSignatureError
	if _, err := note.Open(forged, note.VerifierList(s.Verifier())); !errors.As(err, &invalid) {
		t.Fatalf("note.Open of a changed checkpoint: %v, want InvalidSignatureError", err)
	}
	if err := s.Verifier().VerifyCosignature(bytes.Replace(text, []byte("mode dev"), []byte("mode dew"), 1), c); !errors.Is(err, ErrBadCosignature) {
		t.Fatalf("VerifyCosignature of a changed text: %v", err)
	}
	// Another key under the same name does not verify it either.
	other := testSigner(t, "witness.test/w1", "other")
	if err := other.Verifier().VerifyCosignature(text, c); !errors.Is(err, ErrBadCosignature) {
		t.Fatalf("VerifyCosignature by another key: %v", err)
	}
}

func TestParseCosignatureRejects(t *testing.T) {
	s := testSigner(t, "witness.test/w1", "w1")
	_, text := testCheckpoint(t, 5)
	c, _ := s.Cosign(text)
	line := strings.TrimSuffix(c.Line(), "\n")
	name, sig64, _ := strings.Cut(strings.TrimPrefix(line, "\u2014 "), " ")
	raw, _ := base64.StdEncoding.DecodeString(sig64)
	big := bytes.Clone(raw)
	big[4] = 0x80 // timestamp above 2^63-1
	for _, bad := range []string{
		"",
		"- " + name + " " + sig64,
		"\u2014 " + name + "  " + sig64,
		"\u2014 " + name,
		"\u2014 bad\tname " + sig64,
		"\u2014 " + name + " " + base64.StdEncoding.EncodeToString(raw[:len(raw)-1]),
		"\u2014 " + name + " " + base64.StdEncoding.EncodeToString(append(raw, 0)),
		"\u2014 " + name + " " + base64.StdEncoding.EncodeToString(big),
		"\u2014 " + name + " " + sig64[:20] + "\r" + sig64[20:],
		line + "\n\n",
	} {
		if _, err := ParseCosignature(bad); !errors.Is(err, ErrMalformedCosignature) {
			t.Errorf("ParseCosignature(%q) = %v, want ErrMalformedCosignature", bad, err)
		}
	}
}

func TestAddCheckpoint(t *testing.T) {
	w1 := testSigner(t, "witness.test/w1", "w1")
	signed, text := testCheckpoint(t, 5)
	f := newFake(t, cosignAnswer(w1))
	c := &Client{URL: f.srv.URL, Verifier: w1.Verifier()}
	cs, err := c.AddCheckpoint(context.Background(), 0, nil, signed)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || w1.Verifier().VerifyCosignature(text, cs[0]) != nil {
		t.Fatalf("cosignatures %+v", cs)
	}
	if got, want := f.last.Load().([]byte), append([]byte("old 0\n\n"), signed...); !bytes.Equal(got, want) {
		t.Fatalf("request body\n%q\nwant\n%q", got, want)
	}

	// With a proof: one base64 hash per line, then the empty line.
	proof := []chain.Hash{sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))}
	if _, err := c.AddCheckpoint(context.Background(), 3, proof, signed); err != nil {
		t.Fatal(err)
	}
	want := "old 3\n" + base64.StdEncoding.EncodeToString(proof[0][:]) + "\n" +
		base64.StdEncoding.EncodeToString(proof[1][:]) + "\n\n" + string(signed)
	if got := string(f.last.Load().([]byte)); got != want {
		t.Fatalf("request body\n%q\nwant\n%q", got, want)
	}
}

// TestAnswers checks how each answer a witness may give is read, and that
// no cosignature comes back unless it verifies by the configured key.
func TestAnswers(t *testing.T) {
	w1 := testSigner(t, "witness.test/w1", "w1")
	otherKey := testSigner(t, "witness.test/w1", "other") // same name, another key
	otherWitness := testSigner(t, "witness.test/w2", "w2")
	signed, text := testCheckpoint(t, 5)
	good, _ := w1.Cosign(text)
	wrong, _ := w1.Cosign(append(bytes.Clone(text), "extra\n"...)) // by w1, over another text
	tampered := good
	tampered.Timestamp++ // the signature covers the time

	type want struct {
		err    error // nil: success
		status int   // for a *StatusError
		known  uint64
		n      int // cosignatures returned
	}
	cases := []struct {
		name   string
		old    uint64
		answer func(http.ResponseWriter, *http.Request, []byte)
		want   want
	}{
		{"cosigned", 0, cosignAnswer(w1), want{n: 1}},
		{"other keys ignored", 0, cosignAnswer(otherWitness, w1, otherKey), want{n: 1}},
		{"duplicate line", 0, fixed(200, "", good.Line()+good.Line()), want{n: 1}},
		{"only another witness", 0, cosignAnswer(otherWitness), want{err: ErrNoCosignature}},
		{"another key under the name", 0, cosignAnswer(otherKey), want{err: ErrNoCosignature}},
		{"wrong cosignature", 0, fixed(200, "", wrong.Line()), want{err: ErrBadCosignature}},
		{"tampered timestamp", 0, fixed(200, "", tampered.Line()), want{err: ErrBadCosignature}},
		{"good then wrong", 0, fixed(200, "", good.Line()+wrong.Line()), want{err: ErrBadCosignature}},
		{"empty 200", 0, fixed(200, "", ""), want{err: ErrBadResponse}},
		{"no final newline", 0, fixed(200, "", strings.TrimSuffix(good.Line(), "\n")), want{err: ErrBadResponse}},
		{"garbage", 0, fixed(200, "text/html", "<html>hello</html>\n"), want{err: ErrBadResponse}},
		{"blank line", 0, fixed(200, "", good.Line()+"\n"), want{err: ErrBadResponse}},
		{"oversize", 0, fixed(200, "", strings.Repeat(good.Line(), MaxResponseSize/len(good.Line())+1)), want{err: ErrBadResponse}},
		{"too many lines", 0, fixed(200, "", strings.Repeat(good.Line(), maxLines+1)), want{err: ErrBadResponse}},
		{"conflict", 0, fixed(409, "text/x.tlog.size", "3\n"), want{err: ErrConflict, known: 3}},
		{"conflict ahead", 2, fixed(409, "text/x.tlog.size; charset=utf-8", "9\n"), want{err: ErrConflict, known: 9}},
		{"conflict without type", 2, fixed(409, "text/plain", "3\n"), want{err: ErrBadResponse, status: 409}},
		{"conflict naming old", 2, fixed(409, "text/x.tlog.size", "2\n"), want{err: ErrBadResponse, status: 409}},
		{"conflict non-canonical", 2, fixed(409, "text/x.tlog.size", "03\n"), want{err: ErrBadResponse, status: 409}},
		{"conflict no newline", 2, fixed(409, "text/x.tlog.size", "3"), want{err: ErrBadResponse, status: 409}},
		{"same size, other root", 5, fixed(409, "text/plain", "root mismatch\n"), want{err: ErrInconsistent, status: 409}},
		{"same size, its size", 5, fixed(409, "text/x.tlog.size", "5\n"), want{err: ErrInconsistent, status: 409}},
		{"same size, other size", 5, fixed(409, "text/x.tlog.size", "7\n"), want{err: ErrConflict, known: 7}},
		{"inconsistent", 3, fixed(422, "text/plain", "bad consistency proof\n"), want{err: ErrInconsistent, status: 422}},
		{"bad request", 0, fixed(400, "", "invalid input\n"), want{err: ErrBadRequest, status: 400}},
		{"forbidden", 0, fixed(403, "", "invalid signature\n"), want{err: ErrNotTrusted, status: 403}},
		{"unknown log", 0, fixed(404, "", "unknown log\n"), want{err: ErrUnknownLog, status: 404}},
		{"server error", 0, fixed(500, "", "database error\n"), want{err: ErrUnavailable, status: 500}},
		{"overloaded", 0, fixed(429, "", ""), want{err: ErrUnavailable, status: 429}},
		{"teapot", 0, fixed(418, "", ""), want{err: ErrBadResponse, status: 418}},
		{"redirect", 0, fixed(307, "", ""), want{err: ErrBadResponse, status: 307}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.answer)
			c := &Client{URL: f.srv.URL, Verifier: w1.Verifier()}
			var proof []chain.Hash
			if tc.old > 0 && tc.old < 5 {
				proof = []chain.Hash{{1}}
			}
			cs, err := c.AddCheckpoint(context.Background(), tc.old, proof, signed)
			if tc.want.err == nil {
				if err != nil || len(cs) != tc.want.n {
					t.Fatalf("got %d cosignatures, %v; want %d", len(cs), err, tc.want.n)
				}
				for _, c := range cs {
					if err := w1.Verifier().VerifyCosignature(text, c); err != nil {
						t.Fatalf("returned a cosignature that does not verify: %v", err)
					}
				}
				return
			}
			if !errors.Is(err, tc.want.err) || cs != nil {
				t.Fatalf("got %v, %v; want %v", cs, err, tc.want.err)
			}
			t.Logf("%v", err)
			var se *StatusError
			if tc.want.status != 0 && (!errors.As(err, &se) || se.StatusCode != tc.want.status) {
				t.Fatalf("got %v, want a StatusError with status %d", err, tc.want.status)
			}
			var ce *ConflictError
			if tc.want.known != 0 && (!errors.As(err, &ce) || ce.Known != tc.want.known || ce.Old != tc.old) {
				t.Fatalf("got %v, want a ConflictError with size %d", err, tc.want.known)
			}
		})
	}
}

// TestSubmit checks that Submit resends once from the size a 409 names,
// with the proof from that size, and does not when the witness is ahead.
func TestSubmit(t *testing.T) {
	w1 := testSigner(t, "witness.test/w1", "w1")
	signed, _ := testCheckpoint(t, 5)
	for _, tc := range []struct {
		known     uint64
		wantProof bool // proof asked for (known, 5)
		wantErr   error
		requests  int32
	}{
		{known: 3, wantProof: true, requests: 2},
		{known: 5, requests: 2},
		{known: 0, requests: 2},
		{known: 8, wantErr: ErrConflict, requests: 1},
	} {
		t.Run(fmt.Sprint(tc.known), func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				if !bytes.HasPrefix(body, fmt.Appendf(nil, "old %d\n", tc.known)) {
					fixed(409, "text/x.tlog.size", fmt.Sprintf("%d\n", tc.known))(w, r, body)
					return
				}
				cosignAnswer(w1)(w, r, body)
			})
			var asked []uint64
			proof := func(old, size uint64) ([]chain.Hash, error) {
				asked = append(asked, old, size)
				return []chain.Hash{{7}}, nil
			}
			c := &Client{URL: f.srv.URL, Verifier: w1.Verifier()}
			cs, err := c.Submit(context.Background(), 1, signed, proof)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (len(cs) == 1) {
				t.Fatalf("Submit: %d cosignatures, %v; want %v", len(cs), err, tc.wantErr)
			}
			if f.requests.Load() != tc.requests {
				t.Fatalf("%d requests, want %d", f.requests.Load(), tc.requests)
			}
			wantAsked := []uint64{1, 5}
			if tc.wantProof {
				wantAsked = append(wantAsked, tc.known, 5)
			}
			if fmt.Sprint(asked) != fmt.Sprint(wantAsked) {
				t.Fatalf("proofs asked for %v, want %v", asked, wantAsked)
			}
		})
	}
}

// TestUnavailable checks that a witness that is down, slow to answer, or
// stalls in the middle of its answer fails the call in time with
// ErrUnavailable, and that the caller's context ends it.
func TestUnavailable(t *testing.T) {
	w1 := testSigner(t, "witness.test/w1", "w1")
	signed, _ := testCheckpoint(t, 5)
	release := make(chan struct{})
	defer close(release)
	slow := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	stall := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		io.WriteString(w, "\u2014 witness.test/w1 ")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	for _, tc := range []struct {
		name    string
		url     string
		ctx     func() (context.Context, context.CancelFunc)
		wantCtx error
	}{
		{"slow", slow.srv.URL, nil, context.DeadlineExceeded},
		{"stalls mid-answer", stall.srv.URL, nil, context.DeadlineExceeded},
		{"down", down.URL, nil, nil},
		{"caller cancels", slow.srv.URL, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			timeout := 200 * time.Millisecond
			if tc.ctx != nil {
				timeout = 10 * time.Second
			}
			c := &Client{URL: tc.url, Verifier: w1.Verifier(), Timeout: timeout}
			start := time.Now()
			cs, err := c.AddCheckpoint(ctx, 0, nil, signed)
			if !errors.Is(err, ErrUnavailable) || cs != nil {
				t.Fatalf("got %v, %v; want ErrUnavailable", cs, err)
			}
			if tc.wantCtx != nil && !errors.Is(err, tc.wantCtx) {
				t.Fatalf("got %v, want it to wrap %v", err, tc.wantCtx)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v", d)
			}
			t.Logf("%v", err)
		})
	}
}

// TestInvalidRequests checks that requests the protocol forbids are
// refused before anything is sent.
func TestInvalidRequests(t *testing.T) {
	w1 := testSigner(t, "witness.test/w1", "w1")
	signed, _ := testCheckpoint(t, 5)
	f := newFake(t, cosignAnswer(w1))
	c := &Client{URL: f.srv.URL, Verifier: w1.Verifier()}
	p := []chain.Hash{{1}}
	for _, tc := range []struct {
		name  string
		old   uint64
		proof []chain.Hash
		cp    []byte
		c     *Client
	}{
		{"old above size", 6, nil, signed, c},
		{"proof from 0", 0, p, signed, c},
		{"proof at same size", 5, p, signed, c},
		{"proof too long", 2, make([]chain.Hash, 64), signed, c},
		{"not a checkpoint", 0, nil, []byte("hello\n\n\u2014 x AAAA\n"), c},
		{"no signature", 0, nil, signed[:bytes.LastIndex(signed, []byte("\n\n"))+2], c},
		{"no key", 0, nil, signed, &Client{URL: f.srv.URL}},
	} {
		if _, err := tc.c.AddCheckpoint(context.Background(), tc.old, tc.proof, tc.cp); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", tc.name, err)
		}
	}
	if n := f.requests.Load(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}
