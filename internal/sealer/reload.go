package sealer

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/config"
)

// A reload (SIGHUP, systemctl reload) reads the configuration again and
// applies, without a restart, what the running sealer can change safely:
// who may emit as which service ([[policy]]), who may read the log and ask
// for administrative operations ([query] uids/gids/groups, [admin]), the limits
// that protect it from clients ([limits]), the queue's bounds ([queue])
// and the log level. Every other setting (the data directory, the socket,
// the signer and its token, the TPM, the seal cadence, retention,
// witnesses, metrics) is read by parts that are built once at start: a
// change to one of those is reported as needing a restart, in the log and
// in the chain, never silently ignored. A configuration that does not load
// or validate changes nothing: the error is logged and counted, and the
// sealer keeps the configuration in force.

// liveSettings are the settings a reload changes while the sealer runs.
// The sealer holds them in an atomic pointer (Sealer.settings) and swaps
// them whole; nothing modifies a liveSettings once it is published.
type liveSettings struct {
	// cfg is the configuration in force: the start's, with what reloads
	// (and an online key rotation: signer.key_label) changed since.
	cfg    config.Config
	policy *policy
	admin  access
	reader access // [query]: who may read the log
}

// settings returns the settings in force.
func (s *Sealer) settings() *liveSettings { return s.live.Load() }

// access is a set of uids and gids.
type access struct{ uids, gids map[uint32]bool }

// newAdminAccess resolves [admin]: its uids, and the gids of its groups.
func newAdminAccess(a config.Admin) (access, error) {
	return newAccess("admin", a.UIDs, nil, a.Groups)
}

// newReaderAccess resolves [query]: its uids, its gids and the gids of
// its groups.
func newReaderAccess(q config.Query) (access, error) {
	return newAccess("query", q.UIDs, q.GIDs, q.Groups)
}

// newAccess resolves the uids, gids and group names of section.
func newAccess(section string, uids, gids []uint32, groups []string) (access, error) {
	acc := access{uids: map[uint32]bool{}, gids: map[uint32]bool{}}
	for _, u := range uids {
		acc.uids[u] = true
	}
	for _, g := range gids {
		acc.gids[g] = true
	}
	for _, name := range groups {
		g, err := user.LookupGroup(name)
		if err != nil {
			return acc, fmt.Errorf("sealer: %s group %q: %w", section, name, err)
		}
		n, err := strconv.ParseUint(g.Gid, 10, 32)
		if err != nil {
			return acc, fmt.Errorf("sealer: %s group %q: gid %q: %w", section, name, g.Gid, err)
		}
		acc.gids[uint32(n)] = true
	}
	return acc, nil
}

// allows reports whether a peer with uid, primary gid and supplementary
// groups is in the set.
func (a access) allows(uid, gid uint32, groups []uint32) bool {
	if a.uids[uid] || a.gids[gid] {
		return true
	}
	for _, g := range groups {
		if a.gids[g] {
			return true
		}
	}
	return false
}

// newLiveSettings resolves cfg's policy and admin groups (users and groups
// must exist).
func newLiveSettings(cfg config.Config) (*liveSettings, error) {
	pol, err := newPolicy(cfg.Policy)
	if err != nil {
		return nil, err
	}
	adm, err := newAdminAccess(cfg.Admin)
	if err != nil {
		return nil, err
	}
	rd, err := newReaderAccess(cfg.Query)
	if err != nil {
		return nil, err
	}
	return &liveSettings{cfg: cfg, policy: pol, admin: adm, reader: rd}, nil
}

// liveKeys are the settings (config.Flat keys; a key ending in "." is a
// whole section) that a reload applies at once.
var liveKeys = []string{"policy", "query.uids", "query.gids", "query.groups", "admin.", "limits.", "queue.", "log.level"}

// isLive reports whether a reload applies the setting key at once.
func isLive(key string) bool {
	for _, k := range liveKeys {
		if key == k || strings.HasSuffix(k, ".") && strings.HasPrefix(key, k) {
			return true
		}
	}
	return false
}

// ReloadResult says what a reload did.
type ReloadResult struct {
	// Applied are the settings whose new values are in force.
	Applied []string
	// RestartRequired are the settings that changed in the configuration
	// but take effect only at the next start.
	RestartRequired []string
	// Seq is the audit.config_reloaded record.
	Seq uint64
}

// ErrReload wraps why a reload changed nothing.
var ErrReload = errors.New("sealer: reload")

// reloadRecordWait bounds how long a reload waits for its record to be
// written and sealed.
const reloadRecordWait = 30 * time.Second

// Reload reads the configuration again with load (defaults, the file
// named file, AUDIT_SEALER_* variables and the command line's flags, as
// at start) and applies what can change while the sealer runs (liveKeys).
// It first records audit.config_reloaded (the settings applied, those
// that need a restart, the settings and policy in force) and waits until
// that record is durable, then applies them all at once; connections
// already open use the new policy and limits from their next request
// (their line and idle timeouts stay those they opened with). Settings
// that changed but cannot change live are named in a warning and in the
// record ("restart required"); they keep their values. If load fails, the
// new configuration does not validate, a policy's user or group does not
// exist, or the record cannot be written, nothing changes: the error is
// logged, counted (audit_sealer_config_reloads_total{result="error"}),
// shown by status, and returned wrapped in ErrReload. Reloads are
// serialised.
func (s *Sealer) Reload(file string, load func() (config.Config, error)) (*ReloadResult, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	res, err := s.reload(file, load)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrReload, err)
		s.m.reloads.WithLabelValues("error").Inc()
		s.noteReload(err)
		s.log.Error("configuration reload failed: the configuration in force is kept", "file", file, "error", err)
		return nil, err
	}
	s.m.reloads.WithLabelValues("ok").Inc()
	s.noteReload(nil)
	s.log.Info("configuration reloaded", "file", file, "applied", res.Applied, "record", res.Seq)
	if len(res.RestartRequired) > 0 {
		s.log.Warn("configuration reloaded, but these settings changed and take effect only at the next start: restart required",
			"restart_required", res.RestartRequired)
	}
	return res, nil
}

func (s *Sealer) reload(file string, load func() (config.Config, error)) (*ReloadResult, error) {
	next, err := load()
	if err != nil {
		return nil, err
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	cur := s.settings()
	res := &ReloadResult{}
	applied := cur.cfg
	for _, key := range config.Changed(&cur.cfg, &next) {
		if isLive(key) && !(key == "queue.events" && next.Queue.Events > s.startQueueEvents) {
			res.Applied = append(res.Applied, key)
		} else {
			res.RestartRequired = append(res.RestartRequired, key)
		}
	}
	applied.Policy = next.Policy
	applied.Query.UIDs, applied.Query.GIDs, applied.Query.Groups = next.Query.UIDs, next.Query.GIDs, next.Query.Groups
	applied.Admin = next.Admin
	applied.Limits = next.Limits
	events := applied.Queue.Events
	applied.Queue = next.Queue
	if next.Queue.Events > s.startQueueEvents {
		// The intake was sized at start: more events need a restart.
		applied.Queue.Events = events
	}
	applied.Log.Level = next.Log.Level
	live, err := newLiveSettings(applied)
	if err != nil {
		return nil, err
	}
	if s.stopping.Load() {
		return nil, ErrUnavailable
	}
	// Recorded first, then applied: the chain never lacks a change that
	// was in force.
	ev := &event.ConfigReloaded{Timestamp: time.Now().UTC(), File: file, Applied: nonNil(res.Applied),
		RestartRequired: nonNil(res.RestartRequired), Settings: applied.Settings(), Policy: policyLines(applied.Policy)}
	if res.Seq, err = s.recordNow(ev); err != nil {
		return nil, fmt.Errorf("cannot record the reload in the chain: %w", err)
	}
	s.live.Store(live)
	s.log.SetLevel(hclog.LevelFromString(applied.Log.Level))
	s.badLines.setRate(applied.Limits.BadLinesPerSecond)
	return res, nil
}

// nonNil returns l, or an empty list for nil (recorded as []).
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// policyLines renders the policy for audit.config_reloaded, one entry a
// line: who it matches, then the services ("uid 0, user root: a b").
func policyLines(ps []config.Policy) []string {
	out := []string{}
	for _, p := range ps {
		var who []string
		if p.UID != nil {
			who = append(who, "uid "+strconv.FormatUint(uint64(*p.UID), 10))
		}
		if p.User != "" {
			who = append(who, "user "+p.User)
		}
		if p.GID != nil {
			who = append(who, "gid "+strconv.FormatUint(uint64(*p.GID), 10))
		}
		if p.Group != "" {
			who = append(who, "group "+p.Group)
		}
		out = append(out, strings.Join(who, ", ")+": "+strings.Join(p.Services, " "))
	}
	return out
}

// recordNow records one of the sealer's own events (a critical one: the
// writer seals it at once) and waits until it is durable; a record that
// is durable but not yet sealed (the log key is away) counts as recorded.
func (s *Sealer) recordNow(ev event.Event) (uint64, error) {
	r := &request{kind: reqRecord, critical: true, sealerEvent: ev, done: make(chan reply, 1)}
	if err := s.submit(r); err != nil {
		return 0, err
	}
	select {
	case rep := <-r.done:
		if rep.err != nil && !errors.Is(rep.err, ErrNotSealed) {
			return 0, rep.err
		}
		return r.seq, nil
	case <-time.After(reloadRecordWait):
		return 0, fmt.Errorf("%w: the record was not written within %v", ErrUnavailable, reloadRecordWait)
	}
}

// noteReload notes the outcome of a reload for the status: when the last
// one succeeded, or why the last one failed (until one succeeds).
func (s *Sealer) noteReload(err error) {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	if err != nil {
		s.status.ConfigReloadError = err.Error()
		return
	}
	now := time.Now().UTC()
	s.status.ConfigReloadedAt, s.status.ConfigReloadError = &now, ""
}

// refreshPeer gives a connection's peer the policy in force: after a
// reload, an open connection emits under the new policy from its next
// request on. It runs on the connection's goroutine, which alone uses
// peer.
func (s *Sealer) refreshPeer(peer *Peer) {
	if l := s.settings(); l != peer.live {
		peer.live = l
		peer.Services = l.policy.services(peer.UID, peer.GID)
	}
}
