package export

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SyslogSDID is the SD-ID of the structured data element each syslog
// message carries. 32473 is the private enterprise number IANA reserves
// for documentation and examples (RFC 5612): an organisation with a
// number of its own may want its own SD-ID, which would need a change
// here.
const SyslogSDID = "audit-sealer@32473"

// SyslogOptions configure a SyslogSink.
type SyslogOptions struct {
	// Addr is the receiver's host:port (6514 is syslog over TLS's port).
	Addr string
	// TLS is the client configuration: the receiver's CA, a client
	// certificate for mutual TLS. Its ServerName defaults to Addr's host.
	TLS *tls.Config
	// Facility is the syslog facility (RFC 5424 §6.2.1); 0 means 13, "log
	// audit".
	Facility int
	// Hostname is the HOSTNAME field: the host whose log is exported; "-"
	// when empty.
	Hostname string
	// Timeout bounds connecting and each batch's write; 0 means 30 s.
	Timeout time.Duration
}

// SyslogSink sends each record as an RFC 5424 message over TLS (RFC 5425),
// framed by octet counting ("LEN SP MSG"):
//
//	<PRI>1 TIMESTAMP HOSTNAME audit-sealer - MSGID [audit-sealer@32473 seq="…" audit_id="…" type="…" service="…"] LINE
//
// PRI is the facility and a severity from the record's (OCSF 5
// Critical: 2 crit; 4 High: 3 err; 3 Medium: 4 warning; 2 Low: 5
// notice; else 6 info), TIMESTAMP the sealer's receive time (UTC,
// microseconds), MSGID the type's category, and the message the record's
// line in the export's format (no BOM). A re-sent record has
// redelivered="1" in its structured data.
//
// Syslog over TLS has no acknowledgement: a batch counts as delivered
// once written to the connection. Before each batch the sink checks that
// the receiver has not closed the connection (a write to a connection the
// peer closed can succeed once and lose what it wrote), and reconnects if
// it has; records written just before a connection breaks can still be
// lost in the network, which only a protocol with acknowledgements (the
// HEC sink) rules out.
type SyslogSink struct {
	o    SyslogOptions
	host string

	mu     sync.Mutex
	conn   *tls.Conn
	closed chan struct{} // closed when the receiver closed conn (or it failed)
	buf    bytes.Buffer
}

// NewSyslogSink returns a SyslogSink; it connects on the first Send.
func NewSyslogSink(o SyslogOptions) (*SyslogSink, error) {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("export: syslog address %q: %w", o.Addr, err)
	}
	if o.TLS == nil {
		return nil, errors.New("export: the syslog sink needs a TLS configuration")
	}
	if o.Facility == 0 {
		o.Facility = 13
	}
	if o.Facility < 0 || o.Facility > 23 {
		return nil, fmt.Errorf("export: syslog facility %d: want 0 to 23", o.Facility)
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	o.TLS = o.TLS.Clone()
	if o.TLS.ServerName == "" {
		o.TLS.ServerName = host
	}
	return &SyslogSink{o: o, host: syslogHeaderField(o.Hostname, 255)}, nil
}

func (s *SyslogSink) String() string { return "syslog over TLS to " + s.o.Addr }

// connect dials the receiver if there is no live connection.
func (s *SyslogSink) connect(ctx context.Context) error {
	if s.conn != nil {
		select {
		case <-s.closed:
			s.conn.Close()
			s.conn = nil
		default:
			return nil
		}
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: s.o.Timeout, KeepAlive: 30 * time.Second}, Config: s.o.TLS}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("export: connecting to syslog receiver %s: %w", s.o.Addr, err)
	}
	conn := c.(*tls.Conn)
	closed := make(chan struct{})
	go func() {
		// The receiver never sends anything (RFC 5425): a read that
		// returns means it closed the connection or the connection
		// failed.
		var b [1]byte
		conn.Read(b[:])
		close(closed)
	}()
	// With TLS 1.3 a client's handshake ends before the receiver has
	// checked the client's certificate: a receiver that refuses it closes
	// the connection just after, and what was written is lost. Give it a
	// moment to do so before anything is written.
	if conn.ConnectionState().Version >= tls.VersionTLS13 && len(s.o.TLS.Certificates) > 0 {
		select {
		case <-closed:
			conn.Close()
			return fmt.Errorf("export: the syslog receiver %s closed the connection right after the TLS handshake (did it refuse the client certificate?)", s.o.Addr)
		case <-time.After(syslogProbe):
		}
	}
	s.conn, s.closed = conn, closed
	return nil
}

// syslogProbe is how long a new TLS 1.3 connection is watched for the
// receiver's refusal of the client certificate before records are written
// to it.
const syslogProbe = 300 * time.Millisecond

// Send writes the batch as octet-counted messages on the connection.
func (s *SyslogSink) Send(ctx context.Context, batch []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.connect(ctx); err != nil {
		return err
	}
	s.buf.Reset()
	for i := range batch {
		s.frame(&batch[i])
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < s.o.Timeout {
		s.conn.SetWriteDeadline(deadline)
	} else {
		s.conn.SetWriteDeadline(time.Now().Add(s.o.Timeout))
	}
	stop := context.AfterFunc(ctx, func() { s.conn.SetWriteDeadline(time.Unix(1, 0)) })
	_, err := s.conn.Write(s.buf.Bytes())
	stop()
	if err != nil {
		s.conn.Close()
		s.conn = nil
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("export: writing to syslog receiver %s: %w", s.o.Addr, err)
	}
	return nil
}

// Close closes the connection.
func (s *SyslogSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// syslogSeverity maps an OCSF severity_id to a syslog severity.
func syslogSeverity(ocsf int) int {
	switch {
	case ocsf >= 6:
		return 1 // alert
	case ocsf == 5:
		return 2 // crit
	case ocsf == 4:
		return 3 // err
	case ocsf == 3:
		return 4 // warning
	case ocsf == 2:
		return 5 // notice
	}
	return 6 // info
}

// sdEscaper escapes an SD-PARAM value (RFC 5424 §6.3.3).
var sdEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)

// frame appends the octet-counted RFC 5424 message of r to s.buf.
func (s *SyslogSink) frame(r *Record) {
	var m bytes.Buffer
	m.WriteByte('<')
	m.WriteString(strconv.Itoa(s.o.Facility*8 + syslogSeverity(r.Severity)))
	m.WriteString(">1 ")
	m.WriteString(r.Received.UTC().Format("2006-01-02T15:04:05.000000Z"))
	m.WriteByte(' ')
	m.WriteString(s.host)
	m.WriteString(" audit-sealer - ")
	m.WriteString(syslogHeaderField(r.Category, 32))
	m.WriteString(" [" + SyslogSDID)
	param := func(k, v string) {
		m.WriteString(" " + k + `="`)
		m.WriteString(sdEscaper.Replace(v))
		m.WriteByte('"')
	}
	param("seq", strconv.FormatUint(r.Seq, 10))
	param("audit_id", r.AuditID)
	param("type", r.Type)
	param("service", r.Service)
	if r.Redelivered {
		param("redelivered", "1")
	}
	m.WriteString("] ")
	m.Write(r.Line)
	s.buf.WriteString(strconv.Itoa(m.Len()))
	s.buf.WriteByte(' ')
	s.buf.Write(m.Bytes())
}

// syslogHeaderField returns s as a header field of RFC 5424: printable
// US-ASCII without spaces, at most max characters, "-" (NILVALUE) when
// empty. Other characters become '_'.
func syslogHeaderField(s string, max int) string {
	if s == "" {
		return "-"
	}
	b := []byte(s)
	if len(b) > max {
		b = b[:max]
	}
	for i, c := range b {
		if c < 33 || c > 126 {
			b[i] = '_'
		}
	}
	return string(b)
}
