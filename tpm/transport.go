package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"
)

// DefaultTransport is the transport Open and Provision use when
// Config.Transport is empty: the kernel's resource-managed TPM device.
const DefaultTransport = "device:/dev/tpmrm0"

const (
	// maxResponse bounds a TPM response read from a stream. TPM responses
	// are at most a few KiB (MAX_RESPONSE_SIZE is usually 4096).
	maxResponse = 1 << 16
	// streamTimeout bounds one command's round trip on a stream transport.
	// A slow discrete TPM creates an RSA key in a few seconds; nothing this
	// package sends takes more than a second on one.
	streamTimeout = 2 * time.Minute
	// dialTimeout bounds connecting to a TCP TPM.
	dialTimeout = 10 * time.Second
)

// OpenTransport opens the TPM named by spec:
//
//   - "device:PATH", a TPM character device, normally /dev/tpmrm0 (the
//     kernel resource manager, which lets several clients share the TPM and
//     flushes their transient objects when they close). Use /dev/tpm0 only
//     when nothing else talks to the TPM.
//   - "unix:PATH", a TPM simulator listening on a Unix socket, such as
//     swtpm with --server type=unixio,path=PATH. One connection is made per
//     command.
//   - "tcp:HOST:PORT", a TPM simulator's data port speaking the raw TPM
//     command protocol, such as swtpm with --server type=tcp. One
//     connection is made per command (swtpm serves one connection at a
//     time, so holding one would lock other clients out), and each response
//     is read completely (the size in its header). It sends no platform
//     commands: swtpm must run with --flags not-need-init,startup-clear.
//
// The caller closes the transport.
func OpenTransport(spec string) (transport.TPMCloser, error) {
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok || arg == "" {
		return nil, fmt.Errorf("tpm: transport %q: want device:PATH, unix:PATH or tcp:HOST:PORT", spec)
	}
	switch kind {
	case "device":
		t, err := linuxtpm.Open(arg)
		if err != nil {
			return nil, fmt.Errorf("tpm: open TPM device %s: %w", arg, err)
		}
		return t, nil
	case "unix":
		t, err := linuxudstpm.Open(arg)
		if err != nil {
			return nil, fmt.Errorf("tpm: open TPM socket %s: %w", arg, err)
		}
		return t, nil
	case "tcp":
		if _, _, err := net.SplitHostPort(arg); err != nil {
			return nil, fmt.Errorf("tpm: transport %q: %w", spec, err)
		}
		t := &tcpTransport{addr: arg}
		// Connect once now, so that a wrong address fails here.
		c, err := t.dial()
		if err != nil {
			return nil, fmt.Errorf("tpm: %w", err)
		}
		c.Close()
		return t, nil
	}
	return nil, fmt.Errorf("tpm: transport %q: unknown kind %q (want device, unix or tcp)", spec, kind)
}

// NewStreamTransport returns a transport that sends TPM commands over a
// reliable byte stream (a TCP connection to swtpm's data port, one end of
// a socketpair whose other end swtpm holds, ...) and reads each response in
// full: the 10-byte header, then the rest of the size it gives. go-tpm's
// transport.FromReadWriteCloser instead takes whatever a single Read
// returns, which a stream may split. If conn is a net.Conn, each command
// gets a deadline. Send is safe for concurrent use. Close closes conn.
func NewStreamTransport(conn io.ReadWriteCloser) transport.TPMCloser {
	return &streamTransport{conn: conn}
}

type streamTransport struct {
	mu   sync.Mutex
	conn io.ReadWriteCloser
}

// Send implements transport.TPM.
func (s *streamTransport) Send(cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return roundTrip(s.conn, cmd)
}

// Close implements io.Closer.
func (s *streamTransport) Close() error { return s.conn.Close() }

// roundTrip writes one command and reads its whole response.
func roundTrip(conn io.ReadWriter, cmd []byte) ([]byte, error) {
	if c, ok := conn.(net.Conn); ok {
		if err := c.SetDeadline(time.Now().Add(streamTimeout)); err != nil {
			return nil, fmt.Errorf("transport: set deadline: %w", err)
		}
	}
	if _, err := conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("transport: send command: %w", err)
	}
	hdr := make([]byte, 10) // tag (2), responseSize (4), responseCode (4)
	if _, err := io.ReadFull(conn, hdr); err != nil {
		return nil, fmt.Errorf("transport: read response header: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > maxResponse {
		return nil, fmt.Errorf("transport: response size %d is out of range", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(conn, rsp[10:]); err != nil {
		return nil, fmt.Errorf("transport: read response: %w", err)
	}
	return rsp, nil
}

// tcpTransport sends each command on a new TCP connection and closes it
// after the response, as linuxudstpm does on Unix sockets. swtpm serves one
// connection at a time: a connection held open would lock every other
// client out (tpm2-tools, a second audit-sealer command), and would break
// for good when swtpm restarts. Loopback connections cost tens of
// microseconds; a command that failed with a transport error may or may
// not have run, and is not resent.
type tcpTransport struct {
	addr   string
	mu     sync.Mutex
	closed bool
}

var errClosed = errors.New("transport: closed")

func (t *tcpTransport) dial() (net.Conn, error) {
	c, err := net.DialTimeout("tcp", t.addr, dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("transport: connect to TPM at %s: %w", t.addr, err)
	}
	return c, nil
}

// Send implements transport.TPM.
func (t *tcpTransport) Send(cmd []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errClosed
	}
	c, err := t.dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	rsp, err := roundTrip(c, cmd)
	if err != nil {
		return nil, fmt.Errorf("%w (TPM at %s)", err, t.addr)
	}
	return rsp, nil
}

// Close implements io.Closer. Later commands fail.
func (t *tcpTransport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	return nil
}
