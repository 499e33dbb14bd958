package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMetricsLabelValuesAtStart scrapes /metrics right after the sealer
// started, before any request: every counter with a label has its known
// label values exposed at 0 (requests_rejected_total for each error code
// of PROTOCOL.md, events_accepted_total for durable and not), so that
// rate() and alerts see them from the start.
func TestMetricsLabelValuesAtStart(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	addr := freeAddr(t)
	d := startDaemon(t, dataDir, socket, "--metrics-listen", addr)
	defer d.stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	for _, code := range []string{"bad_json", "bad_request", "frame_too_large", "invalid_event", "not_authorized", "shed",
		"timeout", "unavailable", "not_sealed", "tampered", "internal", "too_many_connections"} {
		if want := `audit_sealer_requests_rejected_total{code="` + code + `"} 0`; !strings.Contains(page, want+"\n") {
			t.Errorf("no %q at start", want)
		}
	}
	for _, want := range []string{`audit_sealer_events_accepted_total{durable="true"} 0`, `audit_sealer_events_accepted_total{durable="false"} 0`,
		`audit_sealer_config_reloads_total{result="ok"} 0`, `audit_sealer_config_reloads_total{result="error"} 0`,
		`audit_sealer_key_rotations_total{result="ok"} 0`, `audit_sealer_key_rotations_total{result="refused"} 0`,
		`audit_sealer_key_rotations_total{result="error"} 0`} {
		if !strings.Contains(page, want+"\n") {
			t.Errorf("no %q at start", want)
		}
	}
	// Every family with HELP has at least one sample.
	for _, m := range regexp.MustCompile(`(?m)^# HELP (audit_sealer_[a-z_]+) `).FindAllStringSubmatch(page, -1) {
		if !regexp.MustCompile(`(?m)^` + m[1] + `(_bucket|_sum|_count)?(\{| )`).MatchString(page) {
			t.Errorf("%s has no sample at start", m[1])
		}
	}
}

// TestUncleanStopWarnedAtStart: after kill -9 under traffic, the next start
// logs a warning that the previous run did not stop cleanly, with how many
// records it recovered; after a clean stop, the next start does not.
func TestUncleanStopWarnedAtStart(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	d := startDaemon(t, dataDir, socket)
	if acks := runClients(socket, 2, "before", closedAfter(300*time.Millisecond)); len(acks) == 0 {
		t.Fatal("no acknowledgements")
	}
	d.kill()
	d = startDaemon(t, dataDir, socket)
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	if m := regexp.MustCompile(`\[WARN\] +audit-sealer: the previous run did not stop cleanly.*records_recovered=(\d+)`).FindStringSubmatch(d.stderr.String()); m == nil {
		t.Fatalf("no unclean-stop warning with records_recovered after kill -9:\n%s", d.stderr)
	}
	d = startDaemon(t, dataDir, socket)
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	if strings.Contains(d.stderr.String(), "did not stop cleanly") {
		t.Fatalf("unclean-stop warning after a clean stop:\n%s", d.stderr)
	}
}

// TestReloadOnSIGHUP: SIGHUP makes the running sealer read its
// configuration file again: a widened [[policy]] takes effect on the
// connection already open, a setting that cannot change live is named in
// a "restart required" warning, a flag given at start still wins over the
// file, and the reload is recorded in the chain (audit.config_reloaded).
// A broken file changes nothing: the error is logged and status shows it.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	socket := filepath.Join(shortSocketDir(t), "s.sock")
	file := filepath.Join(dir, "audit-sealer.toml")
	uid := os.Getuid()
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	policy := func(services string) string {
		return fmt.Sprintf("[[policy]]\nuid = %d\nservices = [%s]\n", uid, services)
	}
	write(policy(`"svc-a"`))
	d := startDaemon(t, dataDir, socket, "--config", file)
	defer func() {
		if t.Failed() {
			t.Logf("sealer's log:\n%s", d.stderr)
		}
	}()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	emit := func(service string) string {
		t.Helper()
		fmt.Fprintf(c, `{"op":"emit","durable":true,"service":%q,"event":{"type":"seal.verified","timestamp":%q,"shard_id":"s","worker_id":"w"}}`+"\n",
			service, time.Now().UTC().Format(time.RFC3339Nano))
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return line
	}
	if line := emit("svc-b"); !strings.Contains(line, "not_authorized") {
		t.Fatalf("svc-b before the reload: %s", line)
	}
	// The policy widens; the heartbeat (not live) and the data directory
	// (given by flag, which wins) change too.
	write("data_dir = " + strconv.Quote(filepath.Join(dir, "other")) + "\n" + policy(`"svc-a", "svc-b"`) +
		"[seal]\nheartbeat = \"2m\"\n[limits]\nmax_connections = 77\n")
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(emit("svc-b"), `"ok":true`) })
	status := func() map[string]any {
		out, _ := exec.Command(filepath.Join(bin, "audit-sealer"), "status", "--json", "--socket", socket).Output()
		var m map[string]any
		json.Unmarshal(out, &m)
		return m
	}
	if st := status(); st["config_reloaded_at"] == nil || st["config_reload_error"] != "" {
		t.Fatalf("status after the reload: %v", st)
	}
	// A broken file: nothing changes.
	write(policy(`"svc-a"`) + "[seal]\nintervall = \"1s\"\n")
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the failed reload", func() bool { e, _ := status()["config_reload_error"].(string); return strings.Contains(e, "intervall") })
	if line := emit("svc-b"); !strings.Contains(line, `"ok":true`) {
		t.Fatalf("svc-b after a failed reload: %s", line)
	}
	c.Close()
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	log := d.stderr.String()
	if !regexp.MustCompile(`restart required: restart_required=\["seal\.heartbeat"\]`).MatchString(log) {
		t.Errorf("no restart-required warning naming exactly seal.heartbeat (data_dir is the flag's):\n%s", log)
	}
	if !strings.Contains(log, "[ERROR] audit-sealer: configuration reload failed") || !strings.Contains(log, "intervall") {
		t.Errorf("the failed reload was not logged as an error:\n%s", log)
	}
	var reloads []string
	for _, e := range readEvents(t, dataDir) {
		if e.Type == "audit.config_reloaded" {
			reloads = append(reloads, string(e.Event))
		}
	}
	if len(reloads) != 1 || !strings.Contains(reloads[0], `"applied":["limits.max_connections","policy"]`) ||
		!strings.Contains(reloads[0], `"restart_required":["seal.heartbeat"]`) || !strings.Contains(reloads[0], "svc-b") {
		t.Fatalf("audit.config_reloaded records: %q", reloads)
	}
	if code, rep := auditVerify(t, exportKey(t, dataDir), dataDir); code != 0 {
		t.Fatalf("audit-verify: exit %d %v", code, rep)
	}
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestUnitReloads: the shipped unit reloads with SIGHUP (systemctl reload).
func TestUnitReloads(t *testing.T) {
	unit, err := os.ReadFile("../deploy/audit-sealer.service")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^ExecReload=/bin/kill -HUP \$MAINPID$`).Match(unit) {
		t.Fatal("deploy/audit-sealer.service has no ExecReload=/bin/kill -HUP $MAINPID")
	}
}

// TestRotateKeyWhileRunningOnSoftHSM: on a real token, keys rotate asks the
// running sealer (it holds the data directory) to hand over to a second
// key: emitters sending all along are never refused, status names the new
// key, a peer that is not an admin is refused (not_authorized, by its real
// SO_PEERCRED uid), the sealer starts again with key_label set to the new
// key, and the log verifies from the first key alone.
func TestRotateKeyWhileRunningOnSoftHSM(t *testing.T) {
	env := softHSM(t, "ed25519")
	dataDir := filepath.Join(t.TempDir(), "data")
	sockDir := shortSocketDir(t)
	os.Chmod(sockDir, 0o755) // a peer of another uid must reach the socket
	socket := filepath.Join(sockDir, "s.sock")
	env = append(env, "AUDIT_SEALER_DATA_DIR="+dataDir, "AUDIT_SEALER_SOCKET="+socket, "AUDIT_SEALER_SOCKET_MODE=0666")
	d := startDaemonEnv(t, env)
	defer func() {
		if t.Failed() {
			t.Logf("sealer's log:\n%s", d.stderr)
		}
	}()
	dir := t.TempDir()
	original := filepath.Join(dir, "original.pem")
	out, err := sealerCmd(env, "keys", "export-public", "--current").Output()
	if err != nil {
		t.Fatalf("export-public --current: %v", err)
	}
	os.WriteFile(original, out, 0o600)
	if out, err := sealerCmd(env, "keys", "generate", "--algorithm", "ecdsa-p256", "--label", "next").CombinedOutput(); err != nil {
		t.Fatalf("keys generate: %v\n%s", err, out)
	}
	next := filepath.Join(dir, "next.pem")
	nextEnv := append(append([]string(nil), env...), "AUDIT_SEALER_PKCS11_KEY_LABEL=next")
	out, err = sealerCmd(nextEnv, "keys", "export-public", "--current").Output()
	if err != nil {
		t.Fatalf("export-public --current of next: %v", err)
	}
	os.WriteFile(next, out, 0o600)

	// Emitters send durable events all along; none may be refused.
	stop := make(chan struct{})
	refused := make(chan error, 64)
	sent := make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, taken, err := emitOnce(socket, fmt.Sprintf("rot-%d", i)); err != nil || !taken {
				refused <- fmt.Errorf("event %d: taken %v: %v", i, taken, err)
				return
			}
			n++
		}
	}()
	time.Sleep(200 * time.Millisecond)
	cmd := sealerCmd(env, "keys", "rotate", "--to-label", "next", "--reason", "scheduled")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "rotated its key without a restart") || !strings.Contains(string(out), `key_label = "next"`) {
		t.Fatalf("keys rotate while running: %v\n%s", err, out)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	if n := <-sent; n == 0 {
		t.Fatal("no event was sent")
	}
	select {
	case err := <-refused:
		t.Fatalf("an emitter was refused during the rotation: %v", err)
	default:
	}
	st, err := sealerCmd(env, "status", "--json").Output()
	if err != nil || !strings.Contains(string(st), `"key_kind": "pkcs11"`) {
		t.Fatalf("status: %v\n%s", err, st)
	}
	var status map[string]any
	json.Unmarshal(st, &status)
	pub, _ := os.ReadFile(next)
	if !strings.Contains(string(out), fmt.Sprint(status["key_id"])) || len(pub) == 0 {
		t.Fatalf("status key %v is not the one keys rotate introduced:\n%s", status["key_id"], out)
	}

	// A peer that is not an admin: refused by its real uid.
	requireTool(t, "setpriv")
	requireTool(t, "socat")
	if os.Getuid() == 0 {
		probe := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
			"socat", "-t", "5", "-", "UNIX-CONNECT:"+socket)
		probe.Stdin = strings.NewReader(`{"op":"rotate_key","id":"x","key_label":"next"}` + "\n")
		reply, err := probe.Output()
		if err != nil || !strings.Contains(string(reply), `"code":"not_authorized"`) {
			t.Fatalf("rotate_key from uid 65534: %v %s", err, reply)
		}
	}
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	// The next start needs the new key (the old one signs nothing more).
	d = startDaemonEnv(t, nextEnv)
	runClients(socket, 1, "after", closedAfter(100*time.Millisecond))
	if err := d.stop(); err != nil {
		t.Fatalf("stop after the restart on the new key: %v\n%s", err, d.stderr)
	}
	if code, rep := auditVerifyArgs(t, "--key", original, "--require-hardware", "--json", dataDir); code != 0 {
		t.Fatalf("audit-verify from the first key: exit %d %v", code, rep)
	}
	var intro []string
	for _, e := range readEvents(t, dataDir) {
		if e.Type == "audit.key_introduced" {
			intro = append(intro, string(e.Event))
		}
	}
	if len(intro) != 1 || !strings.Contains(intro[0], "scheduled (online, asked for by uid") {
		t.Fatalf("key_introduced records: %q", intro)
	}
}
