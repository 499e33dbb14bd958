package sealer

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// listenNotify plays NOTIFY_SOCKET and returns the assignments received.
func listenNotify(t *testing.T) <-chan string {
	t.Helper()
	path, lines := testkit.NotifySocket(t)
	t.Setenv("NOTIFY_SOCKET", path)
	return lines
}

// TestWatchdogPingsOnlyWhileWriterTurns: with WATCHDOG_USEC set, STATUS=
// is refreshed regardless, but WATCHDOG=1 is sent only when the writer
// completed a round since the last check: a stuck writer gets the sealer
// restarted, a turning one keeps it alive.
func TestWatchdogPingsOnlyWhileWriterTurns(t *testing.T) {
	msgs := listenNotify(t)
	t.Setenv("WATCHDOG_USEC", "100000") // checks every 50 ms
	s := &Sealer{log: hclog.NewNullLogger(), started: time.Now()}
	stop := make(chan struct{})
	defer close(stop)
	go s.superviseNotify(stop)
	statuses := 0
	for end := time.After(400 * time.Millisecond); ; {
		select {
		case m := <-msgs:
			if m == "WATCHDOG=1" {
				t.Fatal("WATCHDOG=1 although the writer did not turn")
			}
			if strings.HasPrefix(m, "STATUS=records=") {
				statuses++
			}
			continue
		case <-end:
		}
		break
	}
	if statuses == 0 {
		t.Fatal("no STATUS= while the writer was stuck")
	}
	turning := make(chan struct{})
	go func() {
		for {
			select {
			case <-turning:
				return
			case <-time.After(5 * time.Millisecond):
				s.rounds.Add(1)
			}
		}
	}()
	defer close(turning)
	for end := time.After(2 * time.Second); ; {
		select {
		case m := <-msgs:
			if m == "WATCHDOG=1" {
				return
			}
		case <-end:
			t.Fatal("no WATCHDOG=1 while the writer turned")
		}
	}
}

// TestWatchdogIntervalHonoursPID: the watchdog is half of WATCHDOG_USEC,
// and off when WATCHDOG_PID names another process.
func TestWatchdogIntervalHonoursPID(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "30000000")
	if d := watchdogInterval(); d != 15*time.Second {
		t.Fatalf("interval %v, want 15s", d)
	}
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	if d := watchdogInterval(); d != 0 {
		t.Fatalf("watchdog on for another pid: %v", d)
	}
}

// TestStatusLineLeadsWithDegraded: STATUS= names a failing dependency
// first, then the counts.
func TestStatusLineLeadsWithDegraded(t *testing.T) {
	got := statusLine(Status{Records: 7, Unsealed: 3, SignerError: "token gone"})
	if !strings.HasPrefix(got, "degraded: signer: token gone; records=7 unsealed=3") {
		t.Fatalf("status line %q", got)
	}
	if got := statusLine(Status{Records: 7}); !strings.HasPrefix(got, "records=7 unsealed=0") {
		t.Fatalf("status line %q", got)
	}
}

// TestActivatedListenerEnvironment: descriptors meant for another process
// are ignored, several without names are refused, and the variables are
// removed either way.
func TestActivatedListenerEnvironment(t *testing.T) {
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()+1))
	if ln, err := activatedListener(); ln != nil || err != nil {
		t.Fatalf("took descriptors meant for another pid: %v %v", ln, err)
	}
	if os.Getenv("LISTEN_FDS") != "" {
		t.Fatal("LISTEN_FDS left in the environment")
	}
	t.Setenv("LISTEN_FDS", "2")
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	if _, err := activatedListener(); !errors.Is(err, ErrActivation) {
		t.Fatalf("two unnamed descriptors: %v", err)
	}
	if ln, err := activatedListener(); ln != nil || err != nil {
		t.Fatalf("no LISTEN_FDS: %v %v", ln, err)
	}
}
