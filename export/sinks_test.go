package export_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/export"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/query"
)

// testPKI is a throwaway CA with a server certificate for 127.0.0.1
// and a client certificate, and a stranger's client certificate (another
// CA's).
type testPKI struct {
	*testkit.TLSPKI
	other *testkit.TLSPKI
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	p, err := testkit.NewTLSPKI(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := testkit.NewTLSPKI(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{p, other}
}

// serverTLS is the receiver's configuration: its certificate, and client
// certificates required and checked against the CA (mutual TLS).
func (p *testPKI) serverTLS(t *testing.T, maxVersion uint16) *tls.Config {
	c, err := p.ServerConfig(maxVersion)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (p *testPKI) clientTLS(t *testing.T, stranger bool) *tls.Config {
	files := export.TLSFiles{CA: p.CA, Cert: p.ClientCert, Key: p.ClientKey}
	if stranger {
		files.Cert, files.Key = p.other.ClientCert, p.other.ClientKey
	}
	c, err := files.Config()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// records returns n formatted records of the examples.
func records(t *testing.T, f export.Format, n int) []export.Record {
	t.Helper()
	ms := examples(t)
	var out []export.Record
	for i := 0; i < n; i++ {
		m := *ms[i%len(ms)]
		m.Seq = uint64(1000 + i)
		m.AuditID = fmt.Sprintf("3f9a1c0d5e6b7a81-%d", m.Seq)
		out = append(out, exportRecord(t, f, &m))
	}
	return out
}

func exportRecord(t *testing.T, f export.Format, m *query.Match) export.Record {
	line, err := export.NewFormatter(f, export.Options{Version: "t", Host: "h"}).Format(m)
	if err != nil {
		t.Fatal(err)
	}
	return export.Record{Seq: m.Seq, AuditID: m.AuditID, Type: m.Type, Category: "authentication", Service: m.Service, Received: m.Received, Severity: 4, Line: line}
}

// rfc5424 matches an RFC 5424 message as the syslog sink writes it.
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S+) audit-sealer - (\S{1,32}) \[audit-sealer@32473 seq="(\d+)" audit_id="([^"]+)" type="([^"]+)" service="((?:[^"\\\]]|\\["\\\]])*)"( redelivered="1")?\] (.*)$`)

// readFrame reads one octet-counted frame ("LEN SP MSG"); io.EOF at the
// end of the stream.
func readFrame(r *bufio.Reader) (string, error) {
	n, err := r.ReadString(' ')
	if err == io.EOF && n == "" {
		return "", io.EOF
	}
	if err != nil {
		return "", err
	}
	size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
	if err != nil || size <= 0 || strings.HasPrefix(n, "0") {
		return "", fmt.Errorf("bad frame length %q", n)
	}
	msg := make([]byte, size)
	if _, err := io.ReadFull(r, msg); err != nil {
		return "", err
	}
	return string(msg), nil
}

// readFrames reads frames until the stream ends.
func readFrames(r *bufio.Reader) ([]string, error) {
	var out []string
	for {
		f, err := readFrame(r)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

// TestSyslogSink: messages are RFC 5424 over mutual TLS with octet
// counting, fields and structured data escaped; a receiver that closes
// the connection gets the next batch on a new one; a client certificate
// the receiver refuses is an error, not a silent loss.
func TestSyslogSink(t *testing.T) {
	pki := newPKI(t)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.serverTLS(t, version))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			type conn struct {
				frames []string
				err    error
			}
			conns := make(chan conn, 4)
			closeFirst := make(chan struct{})
			go func() {
				for i := 0; ; i++ {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func(i int, c net.Conn) {
						if err := c.(*tls.Conn).Handshake(); err != nil {
							c.Close()
							conns <- conn{err: err}
							return
						}
						if i == 0 {
							// Read one batch, then hang up.
							r := bufio.NewReader(c)
							var frames []string
							for len(frames) < 3 {
								f, err := readFrame(r)
								if err != nil {
									break
								}
								frames = append(frames, f)
							}
							<-closeFirst
							c.Close()
							conns <- conn{frames: frames}
							return
						}
						frames, err := readFrames(bufio.NewReader(c))
						conns <- conn{frames: frames, err: err}
					}(i, c)
				}
			}()
			sink, err := export.NewSyslogSink(export.SyslogOptions{Addr: ln.Addr().String(), TLS: pki.clientTLS(t, false), Hostname: "sealer 1", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			recs := records(t, export.CEF, 5)
			recs[1].Service = `q"u]e\en`
			recs[2].Redelivered = true
			if err := sink.Send(context.Background(), recs[:3]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			close(closeFirst)
			first := <-conns
			if len(first.frames) != 3 {
				t.Fatalf("first connection: %d frames (%v)", len(first.frames), first.err)
			}
			time.Sleep(500 * time.Millisecond) // the sink sees the close (it watches the connection)
			if err := sink.Send(context.Background(), recs[3:]); err != nil {
				t.Fatalf("after the receiver hung up: %v", err)
			}
			sink.Close()
			second := <-conns
			frames := append(first.frames, second.frames...)
			if len(frames) != 5 {
				t.Fatalf("%d messages, want 5 (the second connection: %v)", len(frames), second.err)
			}
			for i, f := range frames {
				m := rfc5424.FindStringSubmatch(f)
				if m == nil {
					t.Fatalf("message %d is not RFC 5424 as documented: %q", i, f)
				}
				r := recs[i]
				if pri, _ := strconv.Atoi(m[1]); pri != 13*8+3 {
					t.Errorf("PRI %d, want facility 13 (log audit), severity 3 (err) for OCSF High", pri)
				}
				if m[2] != r.Received.UTC().Format("2006-01-02T15:04:05.000000Z") || m[3] != "sealer_1" || m[4] != "authentication" {
					t.Errorf("header %q", m[:5])
				}
				svc := strings.NewReplacer(`\"`, `"`, `\]`, `]`, `\\`, `\`).Replace(m[8])
				if m[5] != strconv.FormatUint(r.Seq, 10) || m[6] != r.AuditID || m[7] != r.Type || svc != r.Service {
					t.Errorf("structured data %q", m[5:9])
				}
				if (m[9] != "") != r.Redelivered || m[10] != string(r.Line) {
					t.Errorf("message %d: redelivered %q, msg %q", i, m[9], m[10])
				}
			}
		})
	}
	t.Run("refused client certificate", func(t *testing.T) {
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.serverTLS(t, version))
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() { c.(*tls.Conn).Handshake(); io.Copy(io.Discard, c); c.Close() }()
				}
			}()
			sink, _ := export.NewSyslogSink(export.SyslogOptions{Addr: ln.Addr().String(), TLS: pki.clientTLS(t, true), Timeout: 5 * time.Second})
			if err := sink.Send(context.Background(), records(t, export.CEF, 1)); err == nil {
				t.Errorf("%s: a client certificate of another CA was not reported", tls.VersionName(version))
			}
			ln.Close()
		}
	})
}

// hecReceiver is a small receiver shaped like the Splunk HTTP Event
// Collector: POST /services/collector/event with "Authorization: Splunk
// <token>", concatenated JSON events, 200 {"text":"Success","code":0}.
type hecReceiver struct {
	mu     sync.Mutex
	token  string
	events []map[string]any
	fail   func(n int) int // the HTTP status of request n (from 1), 0: accept
	delay  time.Duration
	n      int
}

func (h *hecReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	if r.Method != http.MethodPost || r.URL.Path != "/services/collector/event" {
		http.Error(w, `{"text":"The requested URL was not found on this server.","code":404}`, http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Splunk "+h.token {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"text":"Invalid token","code":4}`)
		return
	}
	time.Sleep(h.delay)
	dec := json.NewDecoder(r.Body)
	var batch []map[string]any
	for dec.More() {
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"text":"Invalid data format","code":6}`)
			return
		}
		if _, ok := ev["event"]; !ok {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"text":"Event field is required","code":12}`)
			return
		}
		batch = append(batch, ev)
	}
	// A receiver that keeps the batch, then fails to confirm it.
	h.events = append(h.events, batch...)
	if h.fail != nil {
		if code := h.fail(h.n); code != 0 {
			w.WriteHeader(code)
			io.WriteString(w, `{"text":"Server is busy","code":9}`)
			return
		}
	}
	io.WriteString(w, `{"text":"Success","code":0}`)
}

func startHEC(t *testing.T, pki *testPKI, h *hecReceiver) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = pki.serverTLS(t, 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestHECSink: batches go to the collector over mutual TLS with the
// token, as HEC events (a JSON format's record as an object, CEF as a
// string) with their seq and audit_id as fields; a refused token is
// permanent; a busy collector is retried and the re-sent records are
// marked; a slow collector slows the export and loses nothing.
func TestHECSink(t *testing.T) {
	pki := newPKI(t)
	h := &hecReceiver{token: "tok-1"}
	srv := startHEC(t, pki, h)
	for _, f := range []export.Format{export.OCSF, export.CEF} {
		h.events = nil
		sink, err := export.NewHECSink(export.HECOptions{URL: srv.URL, Token: "tok-1", TLS: pki.clientTLS(t, false), Format: f, Host: "sealer-1", Source: "audit-sealer", SourceType: "audit-sealer:" + string(f)})
		if err != nil {
			t.Fatal(err)
		}
		recs := records(t, f, 4)
		if err := sink.Send(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
		if len(h.events) != 4 {
			t.Fatalf("%s: %d events received", f, len(h.events))
		}
		for i, ev := range h.events {
			fields := ev["fields"].(map[string]any)
			if fields["seq"] != strconv.FormatUint(recs[i].Seq, 10) || fields["audit_id"] != recs[i].AuditID || ev["host"] != "sealer-1" || ev["sourcetype"] != "audit-sealer:"+string(f) {
				t.Errorf("%s: event %d: %v", f, i, ev)
			}
			if tm, _ := ev["time"].(float64); int64(tm*1000+0.5) != recs[i].Received.UnixMilli() {
				t.Errorf("%s: time %v", f, ev["time"])
			}
			switch f {
			case export.OCSF:
				if o, ok := ev["event"].(map[string]any); !ok || o["metadata"].(map[string]any)["uid"] != recs[i].AuditID {
					t.Errorf("the OCSF record is not the event object: %v", ev["event"])
				}
			case export.CEF:
				if ev["event"] != string(recs[i].Line) {
					t.Errorf("the CEF line is not the event string: %v", ev["event"])
				}
			}
		}
	}
	// A refused token or a client certificate of another CA fails; the
	// token refusal is permanent.
	bad, _ := export.NewHECSink(export.HECOptions{URL: srv.URL, Token: "wrong", TLS: pki.clientTLS(t, false), Format: export.OCSF})
	if err := bad.Send(context.Background(), records(t, export.OCSF, 1)); !errors.Is(err, export.ErrPermanent) || !strings.Contains(err.Error(), "403") {
		t.Errorf("a wrong token: %v, want a permanent 403", err)
	}
	stranger, _ := export.NewHECSink(export.HECOptions{URL: srv.URL, Token: "tok-1", TLS: pki.clientTLS(t, true), Format: export.OCSF})
	if err := stranger.Send(context.Background(), records(t, export.OCSF, 1)); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	if _, err := export.NewHECSink(export.HECOptions{URL: "http://127.0.0.1:8088", Token: "t", Format: export.OCSF}); err == nil {
		t.Error("plain http was accepted")
	}

	// Through Run: a collector busy twice, then slow.
	dir := queryLog(t, 500)
	want := allMatches(t, dir, query.Filter{})
	h2 := &hecReceiver{token: "tok-2", fail: func(n int) int {
		if n == 2 || n == 3 {
			return http.StatusServiceUnavailable
		}
		return 0
	}, delay: 20 * time.Millisecond}
	srv2 := startHEC(t, pki, h2)
	sink, _ := export.NewHECSink(export.HECOptions{URL: srv2.URL + "/services/collector/event", Token: "tok-2", TLS: pki.clientTLS(t, false), Format: export.ECS})
	c := export.Config{Dir: dir, Trust: mainTrust, Formatter: export.NewFormatter(export.ECS, export.Options{}), Sink: sink, BatchRecords: 50,
		CursorFile: filepath.Join(t.TempDir(), "cursor"), Retry: export.Retry{Initial: time.Millisecond, Max: 4 * time.Millisecond}}
	start := time.Now()
	if _, err := export.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	batches := (len(want) + 49) / 50
	if took := time.Since(start); took < time.Duration(batches)*20*time.Millisecond {
		t.Errorf("the export took %s for %d batches of a collector that takes 20 ms each: it did not wait for it", took, batches)
	}
	seen := map[string]bool{}
	var order []uint64
	for _, ev := range h2.events {
		fields := ev["fields"].(map[string]any)
		id := fields["audit_id"].(string)
		if seen[id] {
			if fields["redelivered"] != "true" {
				t.Fatalf("%s arrived twice, the second time not marked redelivered", id)
			}
			continue
		}
		seen[id] = true
		seq, _ := strconv.ParseUint(fields["seq"].(string), 10, 64)
		order = append(order, seq)
	}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("the collector kept %d distinct records, want %d in order", len(order), len(want))
	}
	if len(h2.events) != len(want)+100 {
		t.Fatalf("%d events for %d records: want the busy batch twice more", len(h2.events), len(want))
	}
}
