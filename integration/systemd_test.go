package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// notifySocket collects what the sealer sends to NOTIFY_SOCKET.
type notifySocket struct {
	path  string
	lines <-chan string
	msgs  []string
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path, lines := testkit.NotifySocket(t)
	return &notifySocket{path: path, lines: lines}
}

// wait returns the first assignment starting with prefix the sealer sent,
// waiting up to d for it.
func (ns *notifySocket) wait(t *testing.T, prefix string, d time.Duration) string {
	t.Helper()
	deadline := time.After(d)
	for {
		for _, m := range ns.msgs {
			if strings.HasPrefix(m, prefix) {
				return m
			}
		}
		select {
		case m := <-ns.lines:
			ns.msgs = append(ns.msgs, m)
		case <-deadline:
			t.Fatalf("no %s from the sealer within %v; it sent %q", prefix, d, ns.msgs)
		}
	}
}

// emitOnce connects, sends one durable seal.verified event with marker as
// its shard_id and reads the reply. taken is false when the connection
// ended before any reply (the sealer never read the line: the client may
// send it again); err is a refusal: the connection was refused or the
// reply was an error.
func emitOnce(socket, marker string) (a ack, taken bool, err error) {
	c, err := net.Dial("unix", socket)
	if err != nil {
		return a, false, fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	line := fmt.Sprintf(`{"op":"emit","durable":true,"event":{"type":"seal.verified","timestamp":"%s","shard_id":"%s","worker_id":"worker-gpu-0"}}`+"\n",
		time.Now().UTC().Format(time.RFC3339Nano), marker)
	if _, err := c.Write([]byte(line)); err != nil {
		return a, false, nil
	}
	rep, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return a, false, nil
	}
	var r struct {
		OK      bool   `json:"ok"`
		Seq     uint64 `json:"seq"`
		AuditID string `json:"audit_id"`
	}
	if err := json.Unmarshal(rep, &r); err != nil || !r.OK {
		return a, true, fmt.Errorf("refused: %s", rep)
	}
	return ack{Seq: r.Seq, AuditID: r.AuditID, Marker: marker}, true, nil
}

// freeAddr returns a loopback TCP address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSocketActivationAndNotify hands the socket over with
// systemd-socket-activate, as systemd does with audit-sealer.socket, and
// plays NOTIFY_SOCKET: the sealer takes the passed socket (and says so),
// sends READY=1 with a STATUS= line, pings WATCHDOG=1 when WATCHDOG_USEC
// is set, answers /healthz and /readyz with 200, serves an event, and sends STOPPING=1 on SIGTERM, exits 0 and
// leaves the socket file in place (it belongs to the service manager).
func TestSocketActivationAndNotify(t *testing.T) {
	requireTool(t, "systemd-socket-activate")
	dir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s")
	ns := newNotifySocket(t)
	metrics := freeAddr(t)
	cmd := exec.Command("systemd-socket-activate", "--listen="+socket, "--fdname=audit-sealer",
		"-E", "NOTIFY_SOCKET="+ns.path, "-E", "WATCHDOG_USEC=1000000",
		filepath.Join(bin, "audit-sealer"), "serve", "--dev", "--data-dir", dir, "--socket", socket, "--metrics-listen", metrics)
	d := launch(t, cmd, dir, socket)
	defer func() {
		if t.Failed() {
			t.Logf("sealer's log:\n%s", d.stderr)
		}
	}()
	ns.wait(t, "READY=1", 15*time.Second)
	if st := ns.wait(t, "STATUS=", time.Second); !strings.Contains(st, "records=") {
		t.Fatalf("STATUS= line without records: %q", st)
	}
	ns.wait(t, "WATCHDOG=1", 5*time.Second)
	if _, _, err := emitOnce(socket, "activated-1"); err != nil {
		t.Fatalf("emit: %v", err)
	}
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "log: ok\nsigner: ok\nanchor: off\n"} {
		resp, err := http.Get("http://" + metrics + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Fatalf("%s: %d %q, want 200 %q", path, resp.StatusCode, body, want)
		}
	}
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	// Its stderr is read once the process has exited: until then the copy
	// into the buffer may still be writing.
	if !strings.Contains(d.stderr.String(), "socket_activated=true") {
		t.Fatalf("the sealer did not say it took the passed socket:\n%s", d.stderr)
	}
	ns.wait(t, "STOPPING=1", time.Second)
	if fi, err := os.Lstat(socket); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("the sealer removed the service manager's socket: %v", err)
	}
}

// TestSocketActivationRefusesWrongSocket: passed descriptors the sealer
// cannot serve on (a datagram socket, or none with its name) stop it at
// start with a message that says why, rather than binding a socket of its
// own behind the service manager's back.
func TestSocketActivationRefusesWrongSocket(t *testing.T) {
	requireTool(t, "systemd-socket-activate")
	for _, c := range []struct {
		name string
		args []string
		net  string
		want string
	}{
		{"datagram", []string{"--datagram", "--fdname=audit-sealer"}, "unixgram", "not a listening Unix stream socket"},
		{"other name", []string{"--fdname=other"}, "unix", "no descriptor named"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			socket := filepath.Join(shortSocketDir(t), "s")
			args := append(append([]string{"--listen=" + socket}, c.args...),
				filepath.Join(bin, "audit-sealer"), "serve", "--dev", "--data-dir", dir, "--socket", socket)
			cmd := exec.Command("systemd-socket-activate", args...)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// The activator execs the sealer on the first activity.
			for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
				if conn, err := net.Dial(c.net, socket); err == nil {
					conn.Write([]byte("x"))
					conn.Close()
					break
				}
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("the sealer did not stop on a socket it cannot serve:\n%s", out.String())
			}
			// The error goes through the logger (a journald priority, one
			// JSON stream), not as main's bare "audit-sealer: error:" line.
			if err == nil || !strings.Contains(out.String(), c.want) || !strings.Contains(out.String(), "[ERROR]") ||
				strings.Contains(out.String(), "audit-sealer: error:") {
				t.Fatalf("want a logged error %q, got %v:\n%s", c.want, err, out.String())
			}
		})
	}
}

// activatedSealer starts `audit-sealer serve --dev` on the listening
// socket ln, passed as systemd does (fd 3, LISTEN_FDS=1, LISTEN_PID of
// the sealer itself, set by the shell that then execs it).
func activatedSealer(t *testing.T, ln *net.UnixListener, dataDir, socket string) *daemon {
	t.Helper()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`,
		filepath.Join(bin, "audit-sealer"), "serve", "--dev", "--data-dir", dataDir, "--socket", socket, "--segment-size", "65536")
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1", "LISTEN_FDNAMES=audit-sealer")
	cmd.ExtraFiles = []*os.File{f}
	return launch(t, cmd, dataDir, socket)
}

// TestRestartUnderSocketActivationRefusesNoEvent restarts the sealer three
// times while an emitter sends a durable event every few milliseconds,
// each on a new connection, some of them while no sealer runs. The test
// holds the listening socket, as audit-sealer.socket does: connections
// made between two sealers queue in the kernel and the next sealer serves
// them. No connection is refused and no event gets an error reply; every
// acknowledged event is in the log once, and audit-verify says intact.
func TestRestartUnderSocketActivationRefusesNoEvent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	socket := filepath.Join(shortSocketDir(t), "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := activatedSealer(t, ln, dir, socket)

	stop := make(chan struct{})
	type result struct {
		acks     []ack
		refusals []error
		resent   int
	}
	done := make(chan result)
	go func() {
		var r result
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- r
				return
			case <-time.After(3 * time.Millisecond):
			}
			marker := fmt.Sprintf("restart-%06d", i)
			for {
				a, taken, err := emitOnce(socket, marker)
				if err != nil {
					r.refusals = append(r.refusals, fmt.Errorf("%s: %w", marker, err))
				} else if taken {
					r.acks = append(r.acks, a)
				} else {
					r.resent++
					continue // the sealer stopped before reading it: send it again
				}
				break
			}
		}
	}()

	// In each restart window, one more event connects while no sealer
	// runs: its connection queues on the held socket and the next sealer
	// must acknowledge it.
	var probes []ack
	for i := range 3 {
		time.Sleep(300 * time.Millisecond)
		if err := d.stop(); err != nil {
			t.Fatalf("stop: %v\n%s", err, d.stderr)
		}
		probe := make(chan error, 1)
		go func() {
			a, taken, err := emitOnce(socket, fmt.Sprintf("down-%d", i))
			if err == nil && !taken {
				err = errors.New("connection closed without a reply")
			}
			probes = append(probes, a)
			probe <- err
		}()
		time.Sleep(200 * time.Millisecond) // no sealer: connections queue
		d = activatedSealer(t, ln, dir, socket)
		if err := <-probe; err != nil {
			t.Fatalf("restart %d: the event sent while no sealer ran: %v", i+1, err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	r := <-done
	if err := d.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr)
	}
	for _, err := range r.refusals {
		t.Error(err)
	}
	if len(r.acks) < 100 {
		t.Fatalf("only %d events acknowledged", len(r.acks))
	}
	t.Logf("%d events acknowledged across 3 restarts of 200 ms each, %d sent again after a stop closed their connection unread",
		len(r.acks), r.resent)
	checkAcksPresentOnce(t, dir, append(r.acks, probes...))
	if code, rep := auditVerify(t, exportKey(t, dir), dir); code != 0 {
		t.Fatalf("audit-verify: %d %v", code, rep)
	}
}

// TestUnitHardeningScore runs `systemd-analyze security --offline=true`
// on the shipped unit and fails above 2.0 ("OK"), printing the tool's
// table; it also checks both units with `systemd-analyze verify`.
func TestUnitHardeningScore(t *testing.T) {
	requireTool(t, "systemd-analyze")
	unit := filepath.Join("..", "deploy", "audit-sealer.service")
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=20", unit).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("exposure above 2.0:\n%s", out)
	}
	if !strings.Contains(string(out), "Overall exposure level") {
		t.Fatalf("no score in the output:\n%s", out)
	}
	t.Logf("%s", lastLine(string(out)))
	// verify wants the ExecStart binary to exist: point it at a copy of
	// the unit that runs the one built here.
	tmp := t.TempDir()
	for _, name := range []string{"audit-sealer.service", "audit-sealer.socket"} {
		b, err := os.ReadFile(filepath.Join("..", "deploy", name))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.ReplaceAll(string(b), "/usr/bin/audit-sealer", filepath.Join(bin, "audit-sealer")))
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("systemd-analyze", "verify", filepath.Join(tmp, "audit-sealer.socket"), filepath.Join(tmp, "audit-sealer.service")).CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
