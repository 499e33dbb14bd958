package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rsyslog starts a throwaway rsyslog taking RFC 5425 over mutual TLS with
// scripts/syslog/start.sh and returns the environment it prints; it is
// stopped at cleanup.
func rsyslog(t *testing.T) map[string]string {
	t.Helper()
	requireTool(t, "rsyslogd")
	if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("rsyslog's TLS driver is not installed; scripts/test.sh installs rsyslog-gnutls")
		}
		t.Skip("rsyslog's TLS driver is not installed (apt-get install rsyslog-gnutls); skipping")
	}
	dir := filepath.Join(t.TempDir(), "syslog")
	cmd := exec.Command("bash", "../scripts/syslog/start.sh", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/syslog/start.sh: %v\n%s", err, stderr.String())
	}
	t.Cleanup(func() { exec.Command("bash", "../scripts/syslog/stop.sh", dir).Run() })
	env := map[string]string{}
	for _, kv := range parseExports(t, string(out)) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, k := range []string{"AUDIT_SEALER_SYSLOG_ADDR", "AUDIT_SEALER_SYSLOG_CA", "AUDIT_SEALER_SYSLOG_CERT", "AUDIT_SEALER_SYSLOG_KEY", "AUDIT_SEALER_SYSLOG_JSON"} {
		if env[k] == "" {
			t.Fatalf("start.sh printed no %s: %q", k, out)
		}
	}
	return env
}

// rsyslogMessage is a message as rsyslog parsed it (messages.json).
type rsyslogMessage struct {
	Pri       string `json:"pri"`
	Version   string `json:"version"`
	Timestamp string `json:"timestamp"`
	Hostname  string `json:"hostname"`
	App       string `json:"app"`
	ProcID    string `json:"procid"`
	MsgID     string `json:"msgid"`
	SD        string `json:"sd"`
	Msg       string `json:"msg"`
}

func rsyslogMessages(t *testing.T, path string) []rsyslogMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []rsyslogMessage
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m rsyslogMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("messages.json line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

var sdSeq = regexp.MustCompile(`^\[audit-sealer@32473 seq="(\d+)" audit_id="([0-9a-f]{16}-(\d+))" type="([a-z_.]+)" service="[^"]*"( redelivered="1")?\]$`)

// TestExportSyslogToRsyslog: export --sink syslog delivers CEF records to
// a real rsyslog over mutual TLS (RFC 5425, octet counting), which parses
// every one as RFC 5424 with the documented header and structured data;
// the records are those of the log, in order, once; a second run on the
// cursor sends nothing; an exporter whose client certificate rsyslog
// refuses gives up loudly (exit 1) without moving its cursor.
func TestExportSyslogToRsyslog(t *testing.T) {
	env := rsyslog(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket, "--seal-interval", "20ms")
	stop := make(chan struct{})
	acked := steadyLoad(t, socket, time.Millisecond, stop)
	time.Sleep(700 * time.Millisecond)
	close(stop)
	if n := <-acked; n < 100 {
		t.Fatalf("only %d events acknowledged", n)
	}
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	want := exportedSeqs(t, dataDir)

	cursor := filepath.Join(t.TempDir(), "syslog.cursor")
	export := func(cert, key string, extra ...string) (int, string) {
		args := append([]string{"export", "--dev", "--data-dir", dataDir, "--format", "cef", "--cursor-file", cursor, "--host", "sealer-node-1",
			"--sink", "syslog", "--sink-address", env["AUDIT_SEALER_SYSLOG_ADDR"], "--sink-ca", env["AUDIT_SEALER_SYSLOG_CA"],
			"--sink-cert", cert, "--sink-key", key, "--batch", "100"}, extra...)
		cmd := exec.Command(filepath.Join(bin, "audit-sealer"), args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), stderr.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, stderr.String()
	}

	// A client certificate of another CA: rsyslog refuses it, the
	// exporter retries, gives up and exits 1; nothing was delivered.
	stranger := newExportPKI(t)
	code, msg := export(stranger.ClientCert, stranger.ClientKey, "--give-up-after", "1500ms", "--retry-max", "300ms")
	if code != 1 || !strings.Contains(msg, "gave up delivering records") {
		t.Fatalf("a refused client certificate: exit %d\n%s", code, msg)
	}
	// The cursor stays at the start, the refused batch marked in flight.
	var cur struct {
		Seq      uint64 `json:"seq"`
		InFlight uint64 `json:"in_flight"`
	}
	if data, err := os.ReadFile(cursor); err != nil || json.Unmarshal(data, &cur) != nil || cur.Seq != 0 || cur.InFlight != want[99] {
		t.Fatalf("the cursor after giving up: %+v (%v), want seq 0 and record %d in flight", cur, err, want[99])
	}

	code, msg = export(env["AUDIT_SEALER_SYSLOG_CERT"], env["AUDIT_SEALER_SYSLOG_KEY"])
	if code != 0 {
		t.Fatalf("export: exit %d\n%s", code, msg)
	}
	var got []rsyslogMessage
	deadline := time.Now().Add(15 * time.Second)
	for {
		got = rsyslogMessages(t, env["AUDIT_SEALER_SYSLOG_JSON"])
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(got) != len(want) {
		t.Fatalf("rsyslog has %d messages, the log %d records", len(got), len(want))
	}
	for i, m := range got {
		sd := sdSeq.FindStringSubmatch(m.SD)
		if m.Version != "1" || m.App != "audit-sealer" || m.ProcID != "-" || m.Hostname != "sealer-node-1" || sd == nil {
			t.Fatalf("message %d is not the documented RFC 5424 message: %+v", i, m)
		}
		seq, _ := strconv.ParseUint(sd[1], 10, 64)
		// The batch the refused exporter had in flight is marked: the
		// cursor cannot know it never arrived.
		if seq != want[i] || sd[3] != sd[1] || (sd[5] != "") != (seq <= cur.InFlight) {
			t.Fatalf("message %d: seq %d (%s), want %d, marked redelivered only up to %d", i, seq, m.SD, want[i], cur.InFlight)
		}
		pri, _ := strconv.Atoi(m.Pri)
		if pri/8 != 13 {
			t.Errorf("message %d: facility %d, want 13 (log audit)", i, pri/8)
		}
		if ts, err := time.Parse(time.RFC3339Nano, m.Timestamp); err != nil || ts.Year() < 2026 {
			t.Errorf("message %d: timestamp %q", i, m.Timestamp)
		}
		wantMsgID := map[string]string{"auth.failure": "authentication", "authz.denied": "authorization", "seal.verified": "vram"}[sd[4]]
		if m.MsgID != wantMsgID {
			t.Errorf("message %d: MSGID %q for %s, want %q", i, m.MsgID, sd[4], wantMsgID)
		}
		prefix := "CEF:0|audit-sealer|audit-sealer|"
		if !strings.HasPrefix(m.Msg, prefix) || !strings.Contains(m.Msg, "|"+sd[4]+"|") || !strings.Contains(m.Msg, " externalId="+sd[2]+" ") ||
			!strings.Contains(m.Msg, " dvchost=sealer-node-1 ") {
			t.Fatalf("message %d: the CEF line is not the record's: %q", i, m.Msg)
		}
		if sd[4] == "auth.failure" && !strings.Contains(m.Msg, " duser=user-") {
			t.Errorf("message %d: auth.failure without duser: %q", i, m.Msg)
		}
	}

	// Nothing new: a second run sends nothing.
	if code, msg := export(env["AUDIT_SEALER_SYSLOG_CERT"], env["AUDIT_SEALER_SYSLOG_KEY"]); code != 0 || !strings.Contains(msg, "delivered 0 records") {
		t.Fatalf("a second run: exit %d\n%s", code, msg)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(rsyslogMessages(t, env["AUDIT_SEALER_SYSLOG_JSON"])); n != len(want) {
		t.Fatalf("after a second run rsyslog has %d messages, want %d", n, len(want))
	}
}
