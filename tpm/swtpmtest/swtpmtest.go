// Package swtpmtest runs a real software TPM (swtpm, TPM 2.0 mode) for
// tests, one process per call on a socketpair: no port, no socket path, no
// cleanup to forget. The TPM state lives in a directory the test chooses,
// so a test can stop swtpm (or kill it, which is power loss to the TPM) and
// start it again on the same state. ProvisionEK gives a state endorsement
// key certificates, as a TPM manufacturer does, with swtpm_setup.
//
// When swtpm (or swtpm_setup) is not installed, tests are skipped, except
// under CI=true, where they fail: CI must install it (apt-get install swtpm
// swtpm-tools).
package swtpmtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/audit-sealer/audit-sealer/tpm"
)

// Require returns the path of the swtpm binary. If there is none, it skips
// the test, or fails it when the environment variable CI is "true".
func Require(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("swtpm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("swtpm is not installed, and CI=true: CI must install it (apt-get install swtpm)")
		}
		t.Skip("swtpm is not installed (apt-get install swtpm swtpm-tools): skipping the tests that need a TPM")
	}
	return path
}

// ProvisionEK manufactures the TPM state in stateDir (which must hold no
// state yet) as swtpm_setup does for a virtual machine: it creates the
// endorsement keys and, for each, an EK certificate in its TCG NV index
// (RSA 2048 at 0x01c00002; swtpm 0.7 adds ECC P-384 at 0x01c00016), signed
// by a local CA that swtpm_localca creates in a new directory of the test
// (a root CA and an intermediate that issues the EK certificates). It
// returns the path of a PEM file with the intermediate and root
// certificates: what an auditor pins with audit-verify --ek-ca. It takes
// about a second (the CA's RSA 3072 key). swtpm must not be running on
// stateDir.
func ProvisionEK(t testing.TB, stateDir string) string {
	t.Helper()
	Require(t)
	setup, err := exec.LookPath("swtpm_setup")
	localca, err2 := exec.LookPath("swtpm_localca")
	if err == nil {
		err = err2
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("swtpm_setup is not installed, and CI=true: CI must install it (apt-get install swtpm-tools)")
		}
		t.Skip("swtpm_setup is not installed (apt-get install swtpm-tools): skipping the tests that need an EK certificate")
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	files := map[string]string{
		// A private CA, not the system's /var/lib/swtpm-localca.
		"swtpm-localca.conf":    fmt.Sprintf("statedir = %[1]s\nsigningkey = %[1]s/signkey.pem\nissuercert = %[1]s/issuercert.pem\ncertserial = %[1]s/certserial\n", ca),
		"swtpm-localca.options": "--platform-manufacturer audit-sealer\n--platform-version 2.1\n--platform-model swtpmtest\n",
		"swtpm_setup.conf": fmt.Sprintf("create_certs_tool = %[2]s\ncreate_certs_tool_config = %[1]s/swtpm-localca.conf\n"+
			"create_certs_tool_options = %[1]s/swtpm-localca.options\nactive_pcr_banks = sha256\n", dir, localca),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(ca, 0o700); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "setup.log")
	out, err := exec.Command(setup, "--tpm2", "--tpmstate", stateDir, "--config", filepath.Join(dir, "swtpm_setup.conf"),
		"--create-ek-cert", "--logfile", log).CombinedOutput()
	if err != nil {
		logged, _ := os.ReadFile(log)
		t.Fatalf("swtpmtest: swtpm_setup: %v\n%s\n%s", err, out, logged)
	}
	var pem []byte
	for _, f := range []string{"issuercert.pem", "swtpm-localca-rootca-cert.pem"} {
		b, err := os.ReadFile(filepath.Join(ca, f))
		if err != nil {
			t.Fatalf("swtpmtest: the local CA: %v", err)
		}
		pem = append(pem, b...)
	}
	caFile := filepath.Join(dir, "ek-ca.pem")
	if err := os.WriteFile(caFile, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return caFile
}

// Start starts swtpm on stateDir (a new temporary directory if stateDir is
// "") and returns a transport to it and a function that stops it: the
// transport is closed, swtpm exits (to the TPM, that is a power loss, like
// any stop without TPM2_Shutdown), and the function returns once it has
// exited, so that the state directory can be used again. Stopping twice is
// harmless; the test's cleanup stops it in any case.
func Start(t testing.TB, stateDir string) (transport.TPMCloser, func()) {
	t.Helper()
	s := StartSwtpm(t, stateDir)
	return s.Transport(), s.Stop
}

// Swtpm is a running swtpm process.
type Swtpm struct {
	// StateDir is the TPM state directory.
	StateDir string

	t      testing.TB
	cmd    *exec.Cmd
	tr     transport.TPMCloser
	exited chan struct{}
	stderr *lockedBuffer
	once   sync.Once
}

// StartSwtpm is Start, returning the process for finer control.
func StartSwtpm(t testing.TB, stateDir string) *Swtpm {
	t.Helper()
	bin := Require(t)
	if stateDir == "" {
		stateDir = t.TempDir()
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("swtpmtest: socketpair: %v", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "swtpm-client"), os.NewFile(uintptr(fds[1]), "swtpm-server")
	// --fd 3: the socket is fd 3 in swtpm (ExtraFiles[0]); -t: exit when
	// the connection closes; not-need-init,startup-clear: ready for
	// commands without a platform TPM2_Startup (notes §3).
	cmd := exec.Command(bin, "socket", "--tpm2", "--fd", "3", "-t",
		"--tpmstate", "dir="+stateDir, "--flags", "not-need-init,startup-clear")
	cmd.ExtraFiles = []*os.File{theirs}
	stderr := new(lockedBuffer)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		ours.Close()
		theirs.Close()
		t.Fatalf("swtpmtest: start swtpm: %v", err)
	}
	theirs.Close()
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("swtpmtest: %v", err)
	}
	s := &Swtpm{
		StateDir: stateDir,
		t:        t,
		cmd:      cmd,
		tr:       tpm.NewStreamTransport(conn),
		exited:   make(chan struct{}),
		stderr:   stderr,
	}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(s.Stop)
	// A first command shows that the TPM answers (swtpm fails at start if,
	// say, another swtpm holds the state directory's lock).
	if _, err := (tpm2.GetRandom{BytesRequested: 8}).Execute(s.tr); err != nil {
		s.Kill()
		t.Fatalf("swtpmtest: swtpm on %s does not answer: %v; swtpm said: %s", stateDir, err, s.stderr.String())
	}
	return s
}

// Transport returns the transport to the TPM. Closing it stops swtpm.
func (s *Swtpm) Transport() transport.TPMCloser { return s.tr }

// Stop closes the transport and waits for swtpm to exit (killing it if it
// has not exited after 10 s). It is safe to call more than once.
func (s *Swtpm) Stop() {
	s.once.Do(func() {
		s.tr.Close()
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.t.Errorf("swtpmtest: swtpm did not exit 10 s after its connection closed; killing it")
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// Kill kills swtpm with SIGKILL, a power loss to the TPM, and waits for it
// to exit. It is safe to call more than once, and after Stop.
func (s *Swtpm) Kill() {
	s.once.Do(func() {
		s.cmd.Process.Kill()
		<-s.exited
		s.tr.Close()
	})
}

// Shutdown sends TPM2_Shutdown(CLEAR), the orderly shutdown an operating
// system sends before power-off, then stops swtpm.
func (s *Swtpm) Shutdown() error {
	_, err := tpm2.Shutdown{ShutdownType: tpm2.TPMSUClear}.Execute(s.tr)
	s.Stop()
	return err
}

// Output returns what swtpm wrote to its standard output and error.
func (s *Swtpm) Output() string { return s.stderr.String() }

// TestAuth is the index auth that Counter provisions with.
var TestAuth = []byte("swtpmtest-index-auth")

// Counter provisions the counter index (tpm.DefaultIndex unless index is
// given) with TestAuth on the TPM behind tr, if it is not already, and opens
// it. The counter is closed (the transport is not) when the test ends.
func Counter(t testing.TB, tr transport.TPM, index ...uint32) (*tpm.Counter, tpm.Config) {
	t.Helper()
	cfg := tpm.Config{Auth: TestAuth}
	if len(index) > 0 {
		cfg.Index = index[0]
	}
	if _, err := tpm.ProvisionWithTransport(tr, cfg); err != nil && !errors.Is(err, tpm.ErrAlreadyProvisioned) {
		t.Fatalf("swtpmtest: provision: %v", err)
	}
	c, err := tpm.OpenWithTransport(tr, cfg)
	if err != nil {
		t.Fatalf("swtpmtest: open counter: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, cfg
}

// lockedBuffer is a bytes.Buffer safe for the writes of exec's copying
// goroutine and the reads of the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
