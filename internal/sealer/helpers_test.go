package sealer_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// ioTimeout bounds every wait of a test on the sealer: a hang fails the test
// instead of blocking the package until go test's own timeout.
const ioTimeout = 15 * time.Second

// testConfig returns a dev configuration with a fresh data directory and a
// short socket path.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Defaults()
	cfg.Dev = true
	// The checkpoints carry the signer's own note key name, so that the
	// test key (which has a name) opens them; cmd/audit-sealer builds its
	// signer with the configured name in the same way.
	cfg.Signer.KeyName = testkit.Key("main").Public().Name
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	sockDir, err := os.MkdirTemp("", "as")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	cfg.Socket = filepath.Join(sockDir, "s.sock")
	return cfg
}

// harness is a sealer running in the test process.
type harness struct {
	t      *testing.T
	cfg    config.Config
	sl     *sealer.Sealer
	cancel context.CancelFunc
	done   chan error
}

// newSealer creates a sealer (without running it) that signs with the test
// key.
func newSealer(t *testing.T, cfg config.Config) *harness {
	t.Helper()
	return newSealerWith(t, cfg, testkit.Key("main"))
}

// newSealerWith creates a sealer that signs with s.
func newSealerWith(t *testing.T, cfg config.Config, s signer.Signer) *harness {
	t.Helper()
	if err := cfg.Validate(); err != nil { // as the command that loads it does
		t.Fatalf("the test's configuration: %v", err)
	}
	sl, err := sealer.New(cfg, s, hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("sealer.New: %v", err)
	}
	return &harness{t: t, cfg: cfg, sl: sl}
}

// startSealer creates and runs a sealer and waits until its socket accepts
// connections. The sealer is stopped at cleanup if the test did not stop it.
func startSealer(t *testing.T, cfg config.Config) *harness {
	t.Helper()
	h := newSealer(t, cfg)
	h.run()
	return h
}

// run starts Run and waits for the socket.
func (h *harness) run() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.sl.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(ioTimeout):
			h.t.Errorf("Run did not return within %v of cleanup", ioTimeout)
		}
	})
	deadline := time.Now().Add(ioTimeout)
	for {
		c, err := net.Dial("unix", h.cfg.Socket)
		if err == nil {
			// A ping round trip: the probe is accepted and served (and so
			// counted until it is closed) before run returns.
			defer c.Close()
			c.SetDeadline(time.Now().Add(ioTimeout))
			if _, err := io.WriteString(c, `{"op":"ping"}`+"\n"); err != nil {
				h.t.Fatalf("probe: %v", err)
			}
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				h.t.Fatalf("probe: %v", err)
			}
			return
		}
		select {
		case err := <-h.done:
			h.done <- err
			h.t.Fatalf("Run returned before the socket accepted: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("socket %s never accepted: %v", h.cfg.Socket, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop cancels Run and returns its result; it fails the test if Run does not
// return within limit.
func (h *harness) stop(limit time.Duration) error {
	h.t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return err
	case <-time.After(limit):
		h.t.Fatalf("Run did not return within %v of the cancel", limit)
		return nil
	}
}

// stopAndVerify stops the sealer cleanly and checks that the log verifies
// as intact.
func (h *harness) stopAndVerify() *verify.Report {
	h.t.Helper()
	if err := h.stop(ioTimeout); err != nil {
		h.t.Fatalf("Run: %v", err)
	}
	return verifyIntact(h.t, h.cfg.DataDir)
}

func verifyIntact(t *testing.T, dir string) *verify.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	rep, err := verify.Dir(ctx, dir, verify.Options{Keys: signer.Verifiers{testkit.Key("main").Public()}})
	if err != nil {
		t.Fatalf("verify.Dir: %v", err)
	}
	if rep.Verdict != verify.Intact {
		t.Fatalf("verify: verdict %s, first failure %v", rep.Verdict, rep.FirstFailure)
	}
	return rep
}

// readRecords walks every segment of dir and returns its records in log
// order (byte fields copied).
func readRecords(t *testing.T, dir string) []chain.Record {
	t.Helper()
	var out []chain.Record
	if err := testkit.Records(dir, func(rec chain.Record) bool { out = append(out, rec); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

// sealerEvents returns the decoded sealer events of type typ in records.
func sealerEvents(t *testing.T, recs []chain.Record, typ string) []event.Event {
	t.Helper()
	var out []event.Event
	for _, r := range recs {
		if r.Kind != chain.KindSealerEvent || string(r.Type) != typ {
			continue
		}
		ev, err := event.Decode(r.Event, event.DecodeOptions{AllowSealerEvents: true, Now: r.Time()})
		if err != nil {
			t.Fatalf("record %d: %v", r.Seq, err)
		}
		out = append(out, ev)
	}
	return out
}

// provedRecord reads record seq back through an inclusion proof against the
// log's last checkpoint, checks the proof, and returns the record.
func provedRecord(t *testing.T, dir string, seq uint64) chain.Record {
	t.Helper()
	b, err := verify.Prove(dir, seq)
	if err != nil {
		t.Fatalf("verify.Prove(%d): %v", seq, err)
	}
	d, err := verify.CheckInclusion(b, verify.Options{Keys: signer.Verifiers{testkit.Key("main").Public()}})
	if err != nil {
		t.Fatalf("verify.CheckInclusion(%d): %v", seq, err)
	}
	rec, err := chain.Decode(b.Record)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Seq != seq || d.Record.Seq != seq {
		t.Fatalf("proof for %d holds record %d", seq, rec.Seq)
	}
	return rec
}

// myService is the service identity a peer with this process's uid gets
// when there is no policy.
func myService() string { return "uid-" + strconv.Itoa(os.Getuid()) }

// sealVerified returns a valid non-critical event.
func sealVerified(i int) string {
	return fmt.Sprintf(`{"type":"seal.verified","timestamp":%q,"shard_id":"shard-%d","worker_id":"worker-gpu-0"}`,
		time.Now().UTC().Format(time.RFC3339Nano), i)
}

// authFailure returns a valid critical event.
func authFailure(i int) string {
	return fmt.Sprintf(`{"type":"auth.failure","timestamp":%q,"attempted_user":"token:a3f2c1","reason":"invalid_token","ip":"203.0.113.%d","path":"/v2/tasks","service_id":"queen-rbee"}`,
		time.Now().UTC().Format(time.RFC3339Nano), i%250)
}

// emitLine returns an emit request line (without newline).
func emitLine(id string, durable bool, ev string) string {
	return fmt.Sprintf(`{"op":"emit","id":%q,"durable":%t,"event":%s}`, id, durable, ev)
}

// wireError and wireReply mirror PROTOCOL.md's replies.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
	Rule    string `json:"rule"`
}

type wireReply struct {
	ID             string         `json:"id"`
	OK             bool           `json:"ok"`
	Accepted       bool           `json:"accepted"`
	Seq            *uint64        `json:"seq"`
	AuditID        string         `json:"audit_id"`
	Durable        bool           `json:"durable"`
	Sealed         bool           `json:"sealed"`
	CheckpointSize *uint64        `json:"checkpoint_size"`
	Time           string         `json:"time"`
	Status         *sealer.Status `json:"status"`
	Error          *wireError     `json:"error"`
	raw            string
}

func (r wireReply) code() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

// client speaks raw NDJSON to the sealer.
type client struct {
	t *testing.T
	c *net.UnixConn
	r *bufio.Reader
}

func dial(t *testing.T, socket string) *client {
	t.Helper()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReaderSize(c, 1<<20)}
}

func (c *client) close() { c.c.Close() }

// send writes raw bytes followed by a newline.
func (c *client) send(line string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.c, line+"\n"); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recv reads one reply line.
func (c *client) recv() wireReply {
	c.t.Helper()
	r, err := c.tryRecv(ioTimeout)
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return r
}

// tryRecv reads one reply line, returning the error instead of failing.
func (c *client) tryRecv(limit time.Duration) (wireReply, error) {
	c.c.SetReadDeadline(time.Now().Add(limit))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return wireReply{}, err
	}
	var r wireReply
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return wireReply{}, fmt.Errorf("reply %q: %w", line, err)
	}
	r.raw = line
	return r, nil
}

// do sends one request line and reads its reply.
func (c *client) do(line string) wireReply {
	c.t.Helper()
	c.send(line)
	return c.recv()
}

// mustOK fails the test unless r is a success.
func mustOK(t *testing.T, r wireReply) wireReply {
	t.Helper()
	if !r.OK {
		t.Fatalf("request failed: %s", r.raw)
	}
	return r
}

// emitDurable emits ev durably and returns its sequence number.
func (c *client) emitDurable(ev string) uint64 {
	c.t.Helper()
	r := mustOK(c.t, c.do(emitLine("d", true, ev)))
	if r.Seq == nil || !r.Durable || r.AuditID == "" {
		c.t.Fatalf("durable emit reply without seq, durable and audit_id: %s", r.raw)
	}
	return *r.Seq
}

// status asks for the status.
func (c *client) status() sealer.Status {
	c.t.Helper()
	r := mustOK(c.t, c.do(`{"op":"status","id":"s"}`))
	if r.Status == nil {
		c.t.Fatalf("status reply without status: %s", r.raw)
	}
	return *r.Status
}

// waitClosed reads until the sealer closes the connection and reports the
// replies read on the way; it fails if the connection stays open for limit.
func (c *client) waitClosed(limit time.Duration) []wireReply {
	c.t.Helper()
	var got []wireReply
	deadline := time.Now().Add(limit)
	for {
		r, err := c.tryRecv(time.Until(deadline))
		if err == nil {
			got = append(got, r)
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("connection still open after %v (%d replies read)", limit, len(got))
		}
		return got // EOF or reset: closed by the sealer
	}
}

// eventually polls cond until it holds or ioTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func nowUTC() time.Time { return time.Now().UTC() }
