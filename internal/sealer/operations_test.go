package sealer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/chain"
	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/ledger"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/internal/wire"
	"github.com/audit-sealer/audit-sealer/signer"
)

// logBuffer collects a sealer's log lines; safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLogged runs a sealer whose log goes to the returned buffer, at
// the configured level.
func startLogged(t *testing.T, cfg config.Config, opts ...sealer.Option) (*harness, *logBuffer) {
	h, buf, _ := startLoggedWith(t, cfg, opts...)
	return h, buf
}

// startLoggedWith is startLogged that also returns the logger.
func startLoggedWith(t *testing.T, cfg config.Config, opts ...sealer.Option) (*harness, *logBuffer, hclog.Logger) {
	t.Helper()
	buf := &logBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.LevelFromString(cfg.Log.Level)})
	sl, err := sealer.New(cfg, testkit.Key("main"), logger, opts...)
	if err != nil {
		t.Fatalf("sealer.New: %v", err)
	}
	h := &harness{t: t, cfg: cfg, sl: sl}
	h.run()
	return h, buf, logger
}

// TestUncleanStopWarned: a start after a run that did not stop cleanly
// (here: records committed and synced after the last checkpoint, then the
// process gone without closing the log) logs a warning that says so and
// how many records were recovered; a start after a clean stop does not.
func TestUncleanStopWarned(t *testing.T) {
	cfg := testConfig(t)
	l, _, err := ledger.Open(ledger.Config{Dir: cfg.DataDir, Signer: testkit.Key("main"), Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Seal(context.Background(), ledger.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ev, err := event.Decode([]byte(sealVerified(i)), event.DecodeOptions{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		body, err := event.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Append(chain.KindEvent, "svc", ev.EventType(), body, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil { // the three records and their commit
		t.Fatal(err)
	}
	l.Abandon() // the process is gone: no closing checkpoint

	h, logs := startLogged(t, cfg)
	h.stopAndVerify()
	if !strings.Contains(logs.String(), "the previous run did not stop cleanly") || !strings.Contains(logs.String(), "records_recovered=4") {
		t.Fatalf("no unclean-stop warning with records_recovered=4:\n%s", logs)
	}
	h2, logs2 := startLogged(t, cfg)
	h2.stopAndVerify()
	if strings.Contains(logs2.String(), "did not stop cleanly") {
		t.Fatalf("warned after a clean stop:\n%s", logs2)
	}
}

// emitAs emits a durable event as service and returns the reply.
func (c *client) emitAs(service string, i int) wireReply {
	c.t.Helper()
	return c.do(fmt.Sprintf(`{"op":"emit","id":"e","durable":true,"service":%q,"event":%s}`, service, sealVerified(i)))
}

// TestReloadAppliesLiveSettings: a reload applies the policy, the limits,
// the queue's bounds and the log level at once (an open connection emits
// under the new policy from its next request), names the settings that
// need a restart (and keeps their values), records audit.config_reloaded
// (critical: sealed) before it applies anything, and shows in status.
func TestReloadAppliesLiveSettings(t *testing.T) {
	cfg := testConfig(t)
	me := uint32(os.Getuid())
	cfg.Policy = []config.Policy{{UID: &me, Services: []string{"svc-a"}}}
	h, logs, logger := startLoggedWith(t, cfg)
	c := dial(t, cfg.Socket)
	mustOK(t, c.emitAs("svc-a", 1))
	if r := c.emitAs("svc-b", 2); r.code() != "not_authorized" {
		t.Fatalf("svc-b before the reload: %s", r.raw)
	}
	next := cfg
	next.Policy = []config.Policy{{UID: &me, Services: []string{"svc-a", "svc-b"}}}
	next.Limits.MaxBadLines = 7
	next.Queue.Bytes = cfg.Queue.Bytes / 2
	next.Queue.Events = cfg.Queue.Events * 2 // above the start's: needs a restart
	next.Log.Level = "debug"
	next.DataDir = filepath.Join(t.TempDir(), "elsewhere")
	res, err := h.sl.Reload("/etc/test.toml", func() (config.Config, error) { return next, nil })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"limits.max_bad_lines", "log.level", "policy", "queue.bytes"}; !slices.Equal(res.Applied, want) {
		t.Errorf("applied %q, want %q", res.Applied, want)
	}
	if want := []string{"data_dir", "queue.events"}; !slices.Equal(res.RestartRequired, want) {
		t.Errorf("restart required %q, want %q", res.RestartRequired, want)
	}
	// The same connection, its next request: the new policy.
	mustOK(t, c.emitAs("svc-b", 3))
	if !logger.IsDebug() {
		t.Error("the log level is not debug after the reload")
	}
	if !strings.Contains(logs.String(), "restart required") || !strings.Contains(logs.String(), "data_dir") {
		t.Errorf("no restart-required warning naming data_dir:\n%s", logs)
	}
	st := c.status()
	if st.ConfigReloadedAt == nil || st.ConfigReloadError != "" {
		t.Errorf("status after a reload: %+v", st)
	}
	if v, _ := sealer.MetricValue(h.sl, "audit_sealer_config_reloads_total", "result", "ok"); v != 1 {
		t.Errorf("config_reloads_total{ok} = %v", v)
	}
	c.close()
	h.stopAndVerify()
	recs := readRecords(t, cfg.DataDir)
	evs := sealerEvents(t, recs, event.TypeConfigReloaded)
	if len(evs) != 1 {
		t.Fatalf("%d audit.config_reloaded records", len(evs))
	}
	ev := evs[0].(*event.ConfigReloaded)
	if ev.File != "/etc/test.toml" || !slices.Equal(ev.Applied, res.Applied) || !slices.Equal(ev.RestartRequired, res.RestartRequired) ||
		ev.Settings["max_bad_lines"] != "7" || ev.Settings["data_dir"] != cfg.DataDir || ev.Settings["queue_events"] != fmt.Sprint(cfg.Queue.Events) ||
		len(ev.Policy) != 1 || ev.Policy[0] != fmt.Sprintf("uid %d: svc-a svc-b", me) {
		t.Errorf("audit.config_reloaded: %+v", ev)
	}
	// Recorded before the first emit under the new policy.
	var reloadSeq, svcBSeq uint64
	for _, r := range recs {
		switch {
		case string(r.Type) == event.TypeConfigReloaded:
			reloadSeq = r.Seq
		case string(r.Service) == "svc-b" && svcBSeq == 0:
			svcBSeq = r.Seq
		}
	}
	if svcBSeq == 0 || reloadSeq >= svcBSeq {
		t.Errorf("reload record %d, first svc-b record %d", reloadSeq, svcBSeq)
	}
}

// TestReloadFailureKeepsConfiguration: a configuration that does not load,
// does not validate, or names a user that does not exist changes nothing:
// the error is logged, counted and shown by status, and nothing is
// recorded; a good reload afterwards clears the status's error.
func TestReloadFailureKeepsConfiguration(t *testing.T) {
	cfg := testConfig(t)
	me := uint32(os.Getuid())
	cfg.Policy = []config.Policy{{UID: &me, Services: []string{"svc-a"}}}
	h, logs := startLogged(t, cfg)
	c := dial(t, cfg.Socket)
	widened := cfg
	widened.Policy = []config.Policy{{UID: &me, Services: []string{"svc-a", "svc-b"}}}
	badLevel := widened
	badLevel.Log.Level = "loud"
	noUser := widened
	noUser.Policy = append(noUser.Policy, config.Policy{User: "no-such-user-for-audit-sealer", Services: []string{"x"}})
	for name, load := range map[string]func() (config.Config, error){
		"unreadable": func() (config.Config, error) {
			return config.Config{}, errors.New("config: /etc/x.toml: unknown settings: seal.intervall")
		},
		"invalid": func() (config.Config, error) { return badLevel, nil },
		"no user": func() (config.Config, error) { return noUser, nil },
	} {
		if _, err := h.sl.Reload("/etc/x.toml", load); !errors.Is(err, sealer.ErrReload) {
			t.Errorf("%s: %v, want ErrReload", name, err)
		}
	}
	if r := c.emitAs("svc-b", 1); r.code() != "not_authorized" {
		t.Fatalf("svc-b after failed reloads: %s", r.raw)
	}
	st := c.status()
	if !strings.Contains(st.ConfigReloadError, "sealer: reload") || st.ConfigReloadedAt != nil {
		t.Errorf("status after failed reloads: %+v", st)
	}
	if v, _ := sealer.MetricValue(h.sl, "audit_sealer_config_reloads_total", "result", "error"); v != 3 {
		t.Errorf("config_reloads_total{error} = %v, want 3", v)
	}
	if n := strings.Count(logs.String(), "configuration reload failed"); n != 3 {
		t.Errorf("%d failures logged, want 3:\n%s", n, logs)
	}
	if _, err := h.sl.Reload("/etc/x.toml", func() (config.Config, error) { return widened, nil }); err != nil {
		t.Fatal(err)
	}
	mustOK(t, c.emitAs("svc-b", 2))
	if st := c.status(); st.ConfigReloadError != "" || st.ConfigReloadedAt == nil {
		t.Errorf("status after a good reload: %+v", st)
	}
	c.close()
	h.stopAndVerify()
	if n := len(sealerEvents(t, readRecords(t, cfg.DataDir), event.TypeConfigReloaded)); n != 1 {
		t.Errorf("%d audit.config_reloaded records, want 1 (the good reload)", n)
	}
}

// nextKeyOpener opens testkit.Key("next") for an online rotation and
// counts the commits.
func nextKeyOpener(commits *atomic.Int32) sealer.KeyOpener {
	return func(label string) (signer.Signer, func() error, func(), error) {
		if label != "" && label != "next" {
			return nil, nil, nil, fmt.Errorf("%w: no key labelled %q", sealer.ErrBadKey, label)
		}
		return testkit.Key("next"), func() error { commits.Add(1); return nil }, nil, nil
	}
}

// TestRotateKeyOnline: an admin's rotate_key hands signing to the new key
// while emitters keep sending (none is refused): the log records
// audit.key_introduced, endorsed by a checkpoint of the old key, the new
// key signs from then on, status names it, and the log verifies from the
// first key alone.
func TestRotateKeyOnline(t *testing.T) {
	cfg := testConfig(t)
	var commits atomic.Int32
	h, logs := startLogged(t, cfg, sealer.WithKeyRotation(nextKeyOpener(&commits)))
	stop := make(chan struct{})
	refused := make(chan string, 1)
	var sent atomic.Int64
	go func() {
		c := dial(t, cfg.Socket)
		for i := 0; ; i++ {
			select {
			case <-stop:
				close(refused)
				return
			default:
			}
			if r := c.do(emitLine("e", true, sealVerified(i))); !r.OK {
				refused <- r.raw
				return
			}
			sent.Add(1)
		}
	}()
	eventually(t, "some events", func() bool { return sent.Load() > 20 })
	admin := dial(t, cfg.Socket)
	r := admin.do(`{"op":"rotate_key","id":"r","reason":"scheduled"}`)
	var rep struct {
		OK  bool             `json:"ok"`
		Key wire.KeyRotation `json:"key"`
	}
	if err := json.Unmarshal([]byte(r.raw), &rep); err != nil || !rep.OK {
		t.Fatalf("rotate_key: %s", r.raw)
	}
	next, main := testkit.Key("next").Public().ID(), testkit.Key("main").Public().ID()
	if rep.Key.KeyID != next || rep.Key.PreviousKeyID != main || rep.Key.CheckpointSize <= rep.Key.IntroducedSeq {
		t.Fatalf("rotate_key reply: %+v", rep.Key)
	}
	before := sent.Load()
	eventually(t, "events after the rotation", func() bool { return sent.Load() > before+20 })
	close(stop)
	if raw, ok := <-refused; ok {
		t.Fatalf("an emit was refused during the rotation: %s", raw)
	}
	if st := admin.status(); st.KeyID != next {
		t.Fatalf("status key %s after the rotation, want %s", st.KeyID, next)
	}
	if commits.Load() != 1 {
		t.Errorf("%d commits of the new key", commits.Load())
	}
	if v, _ := sealer.MetricValue(h.sl, "audit_sealer_key_rotations_total", "result", "ok"); v != 1 {
		t.Errorf("key_rotations_total{ok} = %v", v)
	}
	admin.close()
	rep2 := h.stopAndVerify() // from the first key alone
	if rep2.LastCheckpoint == nil || rep2.LastCheckpoint.KeyID != next {
		t.Fatalf("the log's last checkpoint is signed by %+v, want the new key %s", rep2.LastCheckpoint, next)
	}
	recs := readRecords(t, cfg.DataDir)
	intro := sealerEvents(t, recs, event.TypeKeyIntroduced)
	if len(intro) != 1 || intro[0].(*event.KeyIntroduced).KeyID != next || !strings.Contains(intro[0].(*event.KeyIntroduced).Reason, "online") {
		t.Fatalf("key_introduced records: %+v", intro)
	}
	if !strings.Contains(logs.String(), "signing key rotated while running") {
		t.Errorf("the rotation was not logged:\n%s", logs)
	}
}

// TestRotateKeyAdminsOnly: a peer that is not in [admin] gets
// not_authorized (logged and counted) and nothing changes; a peer in an
// [admin] group (by its primary gid here) may rotate; a label that names
// no key is bad_request.
func TestRotateKeyAdminsOnly(t *testing.T) {
	cfg := testConfig(t)
	cfg.Dev = false // a production sealer: rotate_key names a key label
	gid := os.Getgid()
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		t.Skipf("the test's group %d has no name: %v", gid, err)
	}
	var commits atomic.Int32
	sl, err := sealer.New(cfg, testkit.Key("main"), hclog.NewNullLogger(), sealer.WithKeyRotation(nextKeyOpener(&commits)))
	if err != nil {
		t.Fatal(err)
	}
	sealer.SetPeerUIDHook(sl, func(uint32) uint32 { return 4242 }) // not root
	h := &harness{t: t, cfg: cfg, sl: sl}
	h.run()
	c := dial(t, cfg.Socket)
	if r := c.do(`{"op":"rotate_key","id":"r","key_label":"next"}`); r.code() != "not_authorized" {
		t.Fatalf("a non-admin's rotate_key: %s", r.raw)
	}
	if v, _ := sealer.MetricValue(sl, "audit_sealer_key_rotations_total", "result", "refused"); v != 1 {
		t.Errorf("key_rotations_total{refused} = %v", v)
	}
	// The group of the peer's gid becomes an admin group.
	next := cfg
	next.Admin = config.Admin{Groups: []string{g.Name}}
	if _, err := sl.Reload("", func() (config.Config, error) { return next, nil }); err != nil {
		t.Fatal(err)
	}
	if r := c.do(`{"op":"rotate_key","id":"r"}`); r.code() != "bad_request" {
		t.Fatalf("rotate_key without key_label: %s", r.raw)
	}
	if r := c.do(`{"op":"rotate_key","id":"r","key_label":"absent"}`); r.code() != "bad_request" {
		t.Fatalf("rotate_key to a label that names no key: %s", r.raw)
	}
	mustOK(t, c.do(`{"op":"rotate_key","id":"r","key_label":"next"}`))
	if st := c.status(); st.KeyID != testkit.Key("next").Public().ID() {
		t.Fatalf("status key %s after the rotation", st.KeyID)
	}
	c.close()
	h.stopAndVerify()
}

// flagSigner signs with key; once armed is set, its next signature fails
// (once).
type flagSigner struct {
	*signer.SoftwareSigner
	armed *atomic.Bool
}

func (f flagSigner) Sign(msg []byte) ([]byte, error) {
	if f.armed.CompareAndSwap(true, false) {
		return nil, fmt.Errorf("%w: token removed", signer.ErrUnavailable)
	}
	return f.SoftwareSigner.Sign(msg)
}

// probeSigner is the new key; its first signature (the sealer's probe
// before it introduces the key) arms the old key's failure, so that the
// old key fails exactly the endorsement.
type probeSigner struct {
	*signer.SoftwareSigner
	arm *atomic.Bool
}

func (p probeSigner) Sign(msg []byte) ([]byte, error) {
	p.arm.Store(true)
	return p.SoftwareSigner.Sign(msg)
}

// TestRotateKeyEndorsementFails: when the current key fails to sign the
// endorsement, the rotation fails (unavailable) and leaves nothing behind:
// the introduction never becomes durable, the current key keeps signing,
// the sealer recovers by itself, and the log verifies from the first key
// with no key introduced.
func TestRotateKeyEndorsementFails(t *testing.T) {
	cfg := testConfig(t)
	var armed atomic.Bool
	open := func(string) (signer.Signer, func() error, func(), error) {
		return probeSigner{testkit.Key("next"), &armed}, nil, nil, nil
	}
	sl, err := sealer.New(cfg, flagSigner{testkit.Key("main"), &armed}, hclog.NewNullLogger(), sealer.WithKeyRotation(open))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, sl: sl}
	h.run()
	c := dial(t, cfg.Socket)
	first := c.emitDurable(sealVerified(1))
	if r := c.do(`{"op":"rotate_key","id":"r"}`); r.code() != "unavailable" {
		t.Fatalf("rotate_key whose endorsement fails: %s", r.raw)
	}
	eventually(t, "the sealer to accept events again", func() bool {
		return c.do(emitLine("e", true, sealVerified(2))).OK
	})
	if st := c.status(); st.KeyID != testkit.Key("main").Public().ID() {
		t.Fatalf("key %s after a failed rotation", st.KeyID)
	}
	c.close()
	h.stopAndVerify()
	recs := readRecords(t, cfg.DataDir)
	if n := len(sealerEvents(t, recs, event.TypeKeyIntroduced)); n != 0 {
		t.Fatalf("%d key_introduced records after a failed rotation", n)
	}
	// The introduction was cut by the storage recovery, which says why.
	rec := sealerEvents(t, recs, event.TypeStorageRecovered)
	if len(rec) != 1 || !strings.Contains(rec[0].(*event.StorageRecovered).Error, "key rotation: the endorsement") {
		t.Fatalf("storage_recovered records: %+v", rec)
	}
	if provedRecord(t, cfg.DataDir, first).Seq != first {
		t.Fatal("the record acknowledged before the rotation is gone")
	}
}
