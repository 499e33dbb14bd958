package integration

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
)

// TestEvidenceReportOfARealSealer: the evidence report of a log the real
// sealer wrote across a kill -9 and a client's report of dropped events
// counts the runs and lists the start without a clean stop, the drops, dev
// mode and the disabled anchoring, each with its record.
func TestEvidenceReportOfARealSealer(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket)
	stop := make(chan struct{})
	time.AfterFunc(200*time.Millisecond, func() { close(stop) })
	if acks := runClients(socket, 2, "ev", stop); len(acks) == 0 {
		t.Fatalf("no acknowledgements\n%s", d.stderr)
	}
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte(`{"op":"report_dropped","id":"d","count":3,"reason":"buffer_full"}` + "\n"))
	reply, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil {
		t.Fatalf("report_dropped: %v", err)
	}
	t.Logf("report_dropped: %s", reply)
	d.kill()
	d = startDaemon(t, dataDir, socket)
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	keyFile := exportKey(t, dataDir)
	code, rep := auditVerify(t, keyFile, dataDir)
	if code != 0 || rep["verdict"] != "intact" {
		t.Fatalf("audit-verify exit %d: %v", code, rep)
	}
	// With another key: cannot verify (exit 2), naming the log's key by
	// the key ID its audit.sealer_started gives.
	pemData, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	logKey, err := signer.ParsePublicKey(pemData)
	if err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "wrong.pem")
	os.WriteFile(wrong, testkit.Key("attacker").Public().MarshalPEM(), 0o600)
	code, wrongRep := auditVerify(t, wrong, dataDir)
	ff, _ := wrongRep["first_failure"].(map[string]any)
	if detail, _ := ff["detail"].(string); code != 2 || wrongRep["verdict"] != "unverifiable" || ff["reason"] != "untrusted_key" || !strings.Contains(detail, logKey.ID()) {
		t.Fatalf("another key: exit %d, %v", code, ff)
	}
	comp, _ := rep["completeness"].(map[string]any)
	if comp["sealer_starts"] != 2.0 || comp["clean_stops"] != 1.0 || comp["unclean_stops"] != 1.0 || comp["client_dropped"] != 3.0 {
		t.Fatalf("completeness %v", comp)
	}
	counts, _ := rep["exception_counts"].(map[string]any)
	for _, code := range []string{"unclean_stop", "client_dropped", "dev_mode", "anchoring_disabled"} {
		if counts[code] == nil {
			t.Fatalf("no %s exception: %v\n%v", code, counts, rep["exceptions"])
		}
	}
	if p, _ := rep["period"].(map[string]any); p == nil || p["first_time"] == nil || p["last_time"] == nil {
		t.Fatalf("period %v", rep["period"])
	}
	if v, _ := rep["verifier"].(map[string]any); v["name"] != "audit-verify" {
		t.Fatalf("verifier %v", rep["verifier"])
	}
}
