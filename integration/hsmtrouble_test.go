package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHSMGoesAwayAndComesBack: while the token is unreachable (its
// configuration pointed at an empty token store and the sealer asked to
// reconnect with SIGHUP), events are still accepted and made durable,
// critical ones are answered not_sealed, and status shows the error and the
// unsealed count; once the token is back (SIGHUP again), sealing catches up,
// nothing is lost, and the log says what happened once, not in a flood.
func TestHSMGoesAwayAndComesBack(t *testing.T) {
	env := softHSM(t, "ed25519")
	var conf string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "SOFTHSM2_CONF="); ok {
			conf = v
		}
	}
	good, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	env = append(env, "AUDIT_SEALER_DATA_DIR="+dataDir, "AUDIT_SEALER_SOCKET="+socket, "AUDIT_SEALER_SEAL_INTERVAL=100ms")
	d := startDaemonEnv(t, env)
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	do := func(line string) map[string]any {
		t.Helper()
		fmt.Fprintln(c, line)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		b, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("reply: %v\n%s", err, d.stderr)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		return m
	}
	emit := func(i int, typ string) map[string]any {
		ts := time.Now().UTC().Format(time.RFC3339Nano)
		ev := fmt.Sprintf(`{"type":"seal.verified","timestamp":"%s","shard_id":"t-%d","worker_id":"w"}`, ts, i)
		if typ == "critical" {
			ev = fmt.Sprintf(`{"type":"auth.failure","timestamp":"%s","reason":"invalid_token","ip":"203.0.113.%d","path":"/x","service_id":"svc"}`, ts, i)
		}
		return do(fmt.Sprintf(`{"op":"emit","durable":true,"event":%s}`, ev))
	}
	status := func() map[string]any {
		return do(`{"op":"status"}`)["status"].(map[string]any)
	}
	var acked []float64
	for i := 0; i < 5; i++ {
		rep := emit(i, "")
		if rep["ok"] != true {
			t.Fatalf("emit before the outage: %v", rep)
		}
		acked = append(acked, rep["seq"].(float64))
	}

	// The token goes away.
	empty := filepath.Join(t.TempDir(), "empty-tokens")
	os.MkdirAll(empty, 0o700)
	os.WriteFile(conf, []byte(strings.Replace(string(good), "directories.tokendir = ", "directories.tokendir = "+empty+" #", 1)), 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	for i := 5; i < 25; i++ {
		rep := emit(i, "")
		if rep["ok"] != true {
			t.Fatalf("durable emit during the outage must still work: %v", rep)
		}
		acked = append(acked, rep["seq"].(float64))
	}
	crit := emit(99, "critical")
	if crit["ok"] == true || crit["error"].(map[string]any)["code"] != "not_sealed" || crit["seq"] == nil {
		t.Fatalf("critical event during the outage: want not_sealed with a seq, got %v", crit)
	}
	acked = append(acked, crit["seq"].(float64))
	time.Sleep(300 * time.Millisecond) // several seal attempts at the 100 ms cadence
	st := status()
	if st["signer_error"] == "" || st["unsealed"].(float64) < 20 {
		t.Fatalf("status during the outage: %v", st)
	}

	// The token comes back.
	os.WriteFile(conf, good, 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(15 * time.Second)
	for {
		st = status()
		if st["signer_error"] == "" && st["unsealed"].(float64) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sealing did not catch up: %v\n%s", st, d.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Close()
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	logs := d.stderr.String()
	if n := strings.Count(logs, "cannot seal"); n != 1 {
		t.Fatalf("the outage was logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, "signing works again") {
		t.Fatalf("the recovery was not logged:\n%s", logs)
	}
	key := filepath.Join(t.TempDir(), "key.pem")
	out, err := sealerCmd(env, "keys", "export-public").Output()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(key, out, 0o600)
	code, rep := auditVerifyArgs(t, "--key", key, "--require-hardware", "--json", dataDir)
	if code != 0 {
		t.Fatalf("audit-verify: %v", rep)
	}
	seqs := map[uint64]bool{}
	for _, e := range readEvents(t, dataDir) {
		seqs[e.Seq] = true
	}
	for _, s := range acked {
		if !seqs[uint64(s)] {
			t.Fatalf("acknowledged record %v is missing", s)
		}
	}
}
