package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// newExportPKI makes a throwaway CA with a server certificate for
// 127.0.0.1 and a client certificate (testkit.TLSPKI): each call makes
// another CA, so the client certificate of one is a stranger's to the
// receivers of another.
func newExportPKI(t *testing.T) *testkit.TLSPKI {
	t.Helper()
	p, err := testkit.NewTLSPKI(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hecEvent is what the test collector keeps of an event.
type hecEvent struct {
	Seq         uint64
	AuditID     string
	Redelivered bool
	Event       json.RawMessage
}

// hecCollector is a receiver shaped like the Splunk HTTP Event Collector
// (POST /services/collector/event, "Authorization: Splunk <token>",
// concatenated JSON events, 200 {"text":"Success","code":0}) over mutual
// TLS. It keeps every event it is sent, in arrival order, before it
// answers. When hold is set, the next request, once kept, is announced on
// held and answered only when release is closed: a test kills the
// exporter in between, as a crash after the collector took a batch and
// before its confirmation arrived.
type hecCollector struct {
	srv   *httptest.Server
	token string
	delay time.Duration

	mu       sync.Mutex
	events   []hecEvent
	requests int
	hold     bool
	held     chan struct{}
	release  chan struct{}
}

func startHECCollector(t *testing.T, pki *testkit.TLSPKI, token string) *hecCollector {
	t.Helper()
	c := &hecCollector{token: token}
	tc, err := pki.ServerConfig(0)
	if err != nil {
		t.Fatal(err)
	}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(c.serve))
	c.srv.TLS = tc
	c.srv.StartTLS()
	t.Cleanup(c.srv.Close)
	return c
}

func (c *hecCollector) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/services/collector/event" {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"text":"The requested URL was not found on this server.","code":404}`)
		return
	}
	if r.Header.Get("Authorization") != "Splunk "+c.token {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"text":"Invalid token","code":4}`)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the exporter died mid-request: nothing was taken
	}
	var batch []hecEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	for dec.More() {
		var ev struct {
			Event  json.RawMessage   `json:"event"`
			Fields map[string]string `json:"fields"`
		}
		if err := dec.Decode(&ev); err != nil || ev.Event == nil {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"text":"Invalid data format","code":6}`)
			return
		}
		var seq uint64
		fmt.Sscan(ev.Fields["seq"], &seq)
		batch = append(batch, hecEvent{Seq: seq, AuditID: ev.Fields["audit_id"], Redelivered: ev.Fields["redelivered"] == "true", Event: ev.Event})
	}
	time.Sleep(c.delay)
	c.mu.Lock()
	c.events = append(c.events, batch...)
	c.requests++
	hold := c.hold
	held, release := c.held, c.release
	c.hold = false
	c.mu.Unlock()
	if hold {
		close(held)
		<-release
	}
	io.WriteString(w, `{"text":"Success","code":0}`)
}

// holdNext makes the collector keep the next batch and wait before
// answering: held is closed once it has it, and it answers once release is
// closed.
func (c *hecCollector) holdNext() (held, release chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold, c.held, c.release = true, make(chan struct{}), make(chan struct{})
	return c.held, c.release
}

func (c *hecCollector) snapshot() []hecEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]hecEvent(nil), c.events...)
}

// steadyLoad emits durable events at a steady pace (one every interval)
// on one connection until stop is closed, and returns how many the sealer
// acknowledged.
func steadyLoad(t *testing.T, socket string, interval time.Duration, stop <-chan struct{}) <-chan int {
	done := make(chan int, 1)
	go func() {
		n := 0
		defer func() { done <- n }()
		c, err := net.Dial("unix", socket)
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		types := []string{
			`{"type":"auth.failure","timestamp":"%s","attempted_user":"user-%d@example.com","reason":"bad password","ip":"203.0.113.9","path":"/v2/tasks","service_id":"queen-rbee"}`,
			`{"type":"authz.denied","timestamp":"%s","actor":{"user_id":"customer-%d","auth_method":"api_key"},"resource":{"resource_type":"pool","resource_id":"pool-7"},"action":"delete","reason":"insufficient_permissions"}`,
			`{"type":"seal.verified","timestamp":"%s","shard_id":"shard-%d","worker_id":"worker-gpu-0"}`,
		}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			ev := fmt.Sprintf(types[i%len(types)], time.Now().UTC().Format(time.RFC3339Nano), i)
			if _, err := fmt.Fprintf(c, `{"op":"emit","durable":true,"event":%s}`+"\n", ev); err != nil {
				return
			}
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.Contains(line, `"ok":true`) {
				n++
			}
		}
	}()
	return done
}

// exportedSeqs returns the sequence numbers a one-shot export (jsonl to
// standard output) of the log delivers.
func exportedSeqs(t *testing.T, dataDir string) []uint64 {
	t.Helper()
	out, err := exec.Command(filepath.Join(bin, "audit-sealer"), "export", "--dev", "--data-dir", dataDir, "--format", "jsonl").Output()
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	var seqs []uint64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m struct {
			Seq uint64 `json:"seq"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		seqs = append(seqs, m.Seq)
	}
	return seqs
}
