package tpm_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/tpm"
	"github.com/audit-sealer/audit-sealer/tpm/swtpmtest"
)

// startUnixSwtpm starts swtpm serving a Unix socket, and returns the
// transport spec for it.
func startUnixSwtpm(t *testing.T) string {
	t.Helper()
	bin := swtpmtest.Require(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "data.sock")
	cmd := exec.Command(bin, "socket", "--tpm2",
		"--server", "type=unixio,path="+sock, "--ctrl", "type=unixio,path="+filepath.Join(dir, "ctrl.sock"),
		"--tpmstate", "dir="+dir, "--flags", "not-need-init,startup-clear")
	out := new(strings.Builder)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// The socket file exists from bind, before swtpm listens: a dial in
	// between is refused (it failed a clean-clone CI run). Wait until one
	// is accepted; swtpm takes the next connection once this one closes.
	var err error
	for range 500 {
		var c net.Conn
		if c, err = net.Dial("unix", sock); err == nil {
			c.Close()
			return "unix:" + sock
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("swtpm did not accept a connection on %s in 5 s: %v\n%s", sock, err, out)
	return ""
}

func TestOpenTransportErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		spec string
		is   error
		msg  string
	}{
		{"", nil, "want device:PATH"},
		{"/dev/tpmrm0", nil, "want device:PATH"},
		{"device:", nil, "want device:PATH"},
		{"http:localhost", nil, "unknown kind"},
		{"device:" + filepath.Join(dir, "missing"), os.ErrNotExist, "open TPM device"},
		{"device:" + file, nil, "not a device"},
		{"unix:" + file, nil, "not a socket"},
		{"unix:" + filepath.Join(dir, "missing"), os.ErrNotExist, "open TPM socket"},
		{"tcp:localhost", nil, "missing port"},
		{"tcp:" + closedPort, nil, "connect to TPM at " + closedPort},
	} {
		tr, err := tpm.OpenTransport(tc.spec)
		if err == nil {
			tr.Close()
			t.Errorf("OpenTransport(%q) succeeded", tc.spec)
			continue
		}
		if !strings.HasPrefix(err.Error(), "tpm: ") || !strings.Contains(err.Error(), tc.msg) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("OpenTransport(%q) = %v; want %q (and %v)", tc.spec, err, tc.msg, tc.is)
		}
	}
	// Open and Provision say what is wrong with the transport.
	if _, err := tpm.Open(tpm.Config{Transport: "device:" + file, Auth: auth}); err == nil || !strings.Contains(err.Error(), "not a device") {
		t.Errorf("Open on a file: %v", err)
	}
	if _, err := tpm.Provision(tpm.Config{Transport: "tcp:" + closedPort, Auth: auth}); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Errorf("Provision on a closed port: %v", err)
	}
}

// serve answers each command read from conn with respond(command), written
// one byte at a time, as a stream may deliver it.
func serve(conn net.Conn, respond func([]byte) []byte) {
	defer conn.Close()
	for {
		hdr := make([]byte, 10)
		if _, err := io.ReadFull(conn, hdr); err != nil {
			return
		}
		cmd := make([]byte, binary.BigEndian.Uint32(hdr[2:6]))
		copy(cmd, hdr)
		if _, err := io.ReadFull(conn, cmd[10:]); err != nil {
			return
		}
		for _, b := range respond(cmd) {
			if _, err := conn.Write([]byte{b}); err != nil {
				return
			}
		}
	}
}

// response returns a success response carrying payload.
func response(payload []byte) []byte {
	r := binary.BigEndian.AppendUint16(nil, 0x8001)
	r = binary.BigEndian.AppendUint32(r, uint32(10+len(payload)))
	r = binary.BigEndian.AppendUint32(r, 0)
	return append(r, payload...)
}

var command = []byte{0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8} // GetRandom(8)

func TestStreamTransportReadsWholeResponse(t *testing.T) {
	client, server := net.Pipe()
	payload := make([]byte, 3000)
	for i := range payload {
		payload[i] = byte(i)
	}
	go serve(server, func([]byte) []byte { return response(payload) })
	tr := tpm.NewStreamTransport(client)
	defer tr.Close()
	for range 3 {
		rsp, err := tr.Send(command)
		if err != nil {
			t.Fatal(err)
		}
		if string(rsp) != string(response(payload)) {
			t.Fatalf("response of %d bytes, want %d", len(rsp), 10+len(payload))
		}
	}
}

func TestStreamTransportBadResponses(t *testing.T) {
	for _, tc := range []struct {
		name string
		rsp  []byte
		msg  string
	}{
		{"size below the header", []byte{0x80, 0x01, 0, 0, 0, 4, 0, 0, 0, 0}, "out of range"},
		{"size too large", []byte{0x80, 0x01, 0x7f, 0, 0, 0, 0, 0, 0, 0}, "out of range"},
		{"cut short", []byte{0x80, 0x01, 0, 0, 0, 20, 0, 0, 0, 0, 1, 2}, "read response"},
		{"no header", []byte{0x80}, "read response header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			go func() {
				io.ReadFull(server, make([]byte, len(command)))
				server.Write(tc.rsp)
				server.Close()
			}()
			tr := tpm.NewStreamTransport(client)
			defer tr.Close()
			if _, err := tr.Send(command); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Send = %v; want an error saying %q", err, tc.msg)
			}
		})
	}
}

// TestTCPTransport: against a server that, like swtpm, serves one
// connection at a time, two transports take turns (each command has its
// own connection); a connection that breaks fails the command in flight
// (it is not resent: it may have run), and the next command connects
// again.
func TestTCPTransport(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var breakNext atomic.Bool
	go func() {
		for { // one connection at a time
			c, err := l.Accept()
			if err != nil {
				return
			}
			serve(c, func([]byte) []byte {
				if breakNext.Swap(false) {
					c.Close()
					return nil
				}
				return response([]byte("ok"))
			})
		}
	}()
	a, err := tpm.OpenTransport("tcp:" + l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := tpm.OpenTransport("tcp:" + l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 6 {
		tr := a
		if i%2 == 1 {
			tr = b
		}
		if rsp, err := tr.Send(command); err != nil || string(rsp[10:]) != "ok" {
			t.Fatalf("Send %d = %q, %v", i, rsp, err)
		}
	}
	breakNext.Store(true)
	if _, err := a.Send(command); err == nil {
		t.Fatal("Send on a broken connection succeeded")
	} else if !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("error %q does not name the TPM's address", err)
	}
	if rsp, err := a.Send(command); err != nil || string(rsp[10:]) != "ok" {
		t.Fatalf("Send after a broken connection = %q, %v", rsp, err)
	}
	a.Close()
	if _, err := a.Send(command); err == nil {
		t.Error("Send after Close succeeded")
	}
}
