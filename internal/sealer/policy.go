package sealer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os/user"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/audit-sealer/audit-sealer/internal/config"
)

// Peer is who is at the other end of a connection, as the kernel says
// (SO_PEERCRED), and the service identities the policy gives it.
type Peer struct {
	UID, GID uint32
	PID      int32
	// Groups are the peer's supplementary groups (SO_PEERGROUPS), when
	// the kernel says.
	Groups   []uint32
	Services []string
	queue    *peerQueue    // the uid's share of the queue
	live     *liveSettings // the settings Services were resolved with
}

// ErrNotAuthorized is returned when a peer asks for a service identity the
// policy does not give it.
var ErrNotAuthorized = errors.New("sealer: peer may not use this service identity")

// peerCred reads the peer's credentials from a Unix connection.
func peerCred(c *net.UnixConn) (uid, gid uint32, pid int32, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, 0, 0, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, 0, err
	}
	if credErr != nil {
		return 0, 0, 0, credErr
	}
	return cred.Uid, cred.Gid, cred.Pid, nil
}

// peerGroups reads the peer's supplementary groups (SO_PEERGROUPS, Linux
// 4.13 and later), as they were when it connected; nil when the kernel
// does not say.
func peerGroups(c *net.UnixConn) []uint32 {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	var groups []uint32
	raw.Control(func(fd uintptr) {
		buf := make([]byte, 64*4)
		for {
			n := uint32(len(buf))
			_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_PEERGROUPS,
				uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
			if errno == unix.ERANGE && int(n) > len(buf) && n <= 1<<20 {
				buf = make([]byte, n)
				continue
			}
			if errno != 0 {
				return
			}
			for i := 0; i+4 <= int(n); i += 4 {
				groups = append(groups, binary.NativeEndian.Uint32(buf[i:]))
			}
			return
		}
	})
	return groups
}

// policy resolves peers to service identities. Without any policy entry, a
// peer emits as "uid-<uid>" only: an identity derived from its credentials,
// which no other peer can take. With entries, only peers that match one may
// emit, as the services the matching entries list.
type policy struct {
	entries []resolvedEntry
}

type resolvedEntry struct {
	uids, gids map[uint32]bool
	services   []string
}

func newPolicy(entries []config.Policy) (*policy, error) {
	p := &policy{}
	for i, e := range entries {
		r := resolvedEntry{uids: map[uint32]bool{}, gids: map[uint32]bool{}, services: e.Services}
		if e.UID != nil {
			r.uids[*e.UID] = true
		}
		if e.GID != nil {
			r.gids[*e.GID] = true
		}
		if e.User != "" {
			u, err := user.Lookup(e.User)
			if err != nil {
				return nil, fmt.Errorf("sealer: policy %d: %w", i+1, err)
			}
			n, _ := strconv.ParseUint(u.Uid, 10, 32)
			r.uids[uint32(n)] = true
		}
		if e.Group != "" {
			g, err := user.LookupGroup(e.Group)
			if err != nil {
				return nil, fmt.Errorf("sealer: policy %d: %w", i+1, err)
			}
			n, _ := strconv.ParseUint(g.Gid, 10, 32)
			r.gids[uint32(n)] = true
		}
		p.entries = append(p.entries, r)
	}
	return p, nil
}

// services returns the identities uid/gid may use, in policy order.
func (p *policy) services(uid, gid uint32) []string {
	if len(p.entries) == 0 {
		return []string{"uid-" + strconv.FormatUint(uint64(uid), 10)}
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range p.entries {
		if e.uids[uid] || e.gids[gid] {
			for _, s := range e.services {
				if !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// choose returns the identity to record for a request that asked for
// requested ("" = the peer's first identity).
func (p *Peer) choose(requested string) (string, error) {
	if len(p.Services) == 0 {
		return "", fmt.Errorf("%w: uid %d matches no policy entry", ErrNotAuthorized, p.UID)
	}
	if requested == "" {
		return p.Services[0], nil
	}
	for _, s := range p.Services {
		if s == requested {
			return s, nil
		}
	}
	return "", fmt.Errorf("%w: uid %d may not emit as the requested service", ErrNotAuthorized, p.UID)
}
