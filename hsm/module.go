//go:build cgo

package hsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/pkcs11"

	"github.com/audit-sealer/audit-sealer/signer"
)

// Supported reports whether this build can use PKCS#11 tokens: it needs cgo
// (a build without cgo has Supported false and ErrNoCgo).
const Supported = true

// PKCS#11 v3.0 constants that github.com/miekg/pkcs11 v1.1.2 (a v2.40
// binding) does not define.
const (
	ckkECEdwards           = 0x00000040 // CKK_EC_EDWARDS
	ckmECEdwardsKeyPairGen = 0x00001055 // CKM_EC_EDWARDS_KEY_PAIR_GEN
	ckmEdDSA               = 0x00001057 // CKM_EDDSA
)

// mechanismName names the mechanisms this package uses, for messages.
func mechanismName(m uint) string {
	switch m {
	case ckmEdDSA:
		return "CKM_EDDSA"
	case ckmECEdwardsKeyPairGen:
		return "CKM_EC_EDWARDS_KEY_PAIR_GEN"
	case pkcs11.CKM_ECDSA:
		return "CKM_ECDSA"
	case pkcs11.CKM_EC_KEY_PAIR_GEN:
		return "CKM_EC_KEY_PAIR_GEN"
	}
	return fmt.Sprintf("mechanism 0x%x", m)
}

// loginCalls counts C_Login calls in the process (tests check that a wrong
// PIN is tried once).
var loginCalls atomic.Int64

// module is one PKCS#11 library, loaded and initialised once per process.
//
// Every PKCS#11 call runs under mu.RLock, and reads gen there; only
// Initialize and Finalize take mu.Lock. Session and object handles are valid
// only for the generation they were obtained in: after a re-initialisation
// the library hands out the same small handle numbers again, so a stale
// handle must never be closed or used.
type module struct {
	path string
	ctx  *pkcs11.Ctx

	mu          sync.RWMutex
	initialized bool
	gen         uint64
}

// modules is the process-wide registry of loaded modules, by path.
var modules struct {
	sync.Mutex
	m map[string]*module
}

// loadModule returns the module at path, loading and initialising it on
// first use.
func loadModule(path string) (*module, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, errorf(kinds(ErrModule), "hsm: module %s: %w", path, err)
	}
	modules.Lock()
	defer modules.Unlock()
	if m := modules.m[abs]; m != nil {
		return m, m.ensureInit()
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, errorf(kinds(ErrModule), "hsm: module %s: %w", path, err)
	}
	ctx := pkcs11.New(abs)
	if ctx == nil {
		return nil, errorf(kinds(ErrModule), "hsm: module %s: cannot load it (dlopen failed, or no C_GetFunctionList)", path)
	}
	m := &module{path: abs, ctx: ctx}
	if modules.m == nil {
		modules.m = make(map[string]*module)
	}
	modules.m[abs] = m
	return m, m.ensureInit()
}

// ensureInit initialises the module if it is not initialised (the first
// time, or after a failed re-initialisation).
func (m *module) ensureInit() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.initialized {
		return nil
	}
	return m.initLocked()
}

// reinit finalises and initialises the module again. Every session and
// handle of the old generation becomes invalid.
func (m *module) reinit() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.initialized {
		m.initialized = false
		m.gen++
		if err := m.ctx.Finalize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)) {
			return errorf(kinds(ErrModule, signer.ErrUnavailable), "hsm: finalize module %s: %w", m.path, err)
		}
	}
	return m.initLocked()
}

func (m *module) initLocked() error {
	err := m.ctx.Initialize()
	if err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return errorf(kinds(ErrModule, signer.ErrUnavailable), "hsm: initialize module %s: %w%s", m.path, err, m.hint())
	}
	m.initialized = true
	m.gen++
	return nil
}

// hint explains a failed C_Initialize of SoftHSM2, which says only
// CKR_GENERAL_ERROR when its configuration file or token directory is
// missing.
func (m *module) hint() string {
	if !strings.Contains(filepath.Base(m.path), "softhsm") {
		return ""
	}
	conf := os.Getenv("SOFTHSM2_CONF")
	how := "SOFTHSM2_CONF"
	if conf == "" {
		conf, how = "/etc/softhsm/softhsm2.conf", "the default configuration"
	}
	f, err := os.Open(conf)
	if err != nil {
		return fmt.Sprintf(" (SoftHSM2: %s %s: %v)", how, conf, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.TrimSpace(k) != "directories.tokendir" {
			continue
		}
		dir := strings.TrimSpace(v)
		if _, err := os.Stat(dir); err != nil {
			return fmt.Sprintf(" (SoftHSM2: token directory of %s: %v)", conf, err)
		}
		return fmt.Sprintf(" (SoftHSM2: check %s and its token directory %s)", conf, dir)
	}
	return fmt.Sprintf(" (SoftHSM2: %s sets no directories.tokendir)", conf)
}

// findSlot returns the slot of the initialised token that cfg selects. When
// none matches, the error lists the tokens it saw.
func findSlot(ctx *pkcs11.Ctx, cfg Config) (uint, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, errorf(kinds(signer.ErrUnavailable), "hsm: list slots: %w", err)
	}
	var seen []string
	for _, slot := range slots {
		ti, err := ctx.GetTokenInfo(slot)
		if err != nil || ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		label := strings.TrimRight(ti.Label, " \x00")
		serial := strings.TrimRight(ti.SerialNumber, " \x00")
		if (cfg.TokenLabel != "" && label == cfg.TokenLabel) || (cfg.TokenSerial != "" && serial == cfg.TokenSerial) {
			return slot, nil
		}
		seen = append(seen, fmt.Sprintf("%q (serial %s)", label, serial))
	}
	found := "no initialised tokens"
	if len(seen) > 0 {
		found = "tokens found: " + strings.Join(seen, ", ")
	}
	return 0, errorf(kinds(ErrTokenNotFound), "hsm: no token %s in module %s; %s", cfg.token(), cfg.Module, found)
}

// login logs the user in on sh, unless the application is logged in to the
// token already. It calls C_Login at most once.
func login(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, cfg Config) error {
	if info, err := ctx.GetSessionInfo(sh); err == nil && loggedIn(info.State) {
		return nil
	}
	loginCalls.Add(1)
	err := ctx.Login(sh, pkcs11.CKU_USER, cfg.PIN)
	var rv pkcs11.Error
	errors.As(err, &rv)
	switch {
	case err == nil, rv == pkcs11.CKR_USER_ALREADY_LOGGED_IN:
		return nil
	case rv == pkcs11.CKR_PIN_INCORRECT:
		return errorf(kinds(ErrPINIncorrect), "hsm: PIN incorrect for token %s (the login is not retried: fix the PIN, then reopen): %w", cfg.token(), err)
	case lost(err):
		return errorf(kinds(signer.ErrUnavailable), "hsm: log in to token %s: %w", cfg.token(), err)
	}
	return errorf(kinds(ErrLoginFailed), "hsm: log in to token %s (the login is not retried): %w", cfg.token(), err)
}

func loggedIn(state uint) bool {
	return state == pkcs11.CKS_RO_USER_FUNCTIONS || state == pkcs11.CKS_RW_USER_FUNCTIONS
}

// lost reports whether err means that the session, the login, the key handle
// or the token itself went away: the operation may succeed after a reconnect.
func lost(err error) bool {
	var rv pkcs11.Error
	if !errors.As(err, &rv) {
		return false
	}
	switch rv {
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED,
		pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_TOKEN_NOT_RECOGNIZED,
		pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_DEVICE_MEMORY, pkcs11.CKR_GENERAL_ERROR,
		pkcs11.CKR_USER_NOT_LOGGED_IN, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, pkcs11.CKR_SLOT_ID_INVALID,
		pkcs11.CKR_KEY_HANDLE_INVALID, pkcs11.CKR_OBJECT_HANDLE_INVALID:
		return true
	}
	return false
}

// probe checks that the token in slot can do mech for the operation flag
// (pkcs11.CKF_SIGN or pkcs11.CKF_GENERATE_KEY_PAIR).
func probe(ctx *pkcs11.Ctx, slot uint, cfg Config, mech, flag uint) error {
	// Some modules answer C_GetMechanismInfo for mechanisms that they leave
	// out of C_GetMechanismList and then refuse (SoftHSM2 2.6.1 with a
	// slots.mechanisms list), so the list decides first.
	list, err := ctx.GetMechanismList(slot)
	if err != nil {
		return tokenErr(cfg, "list mechanisms", err)
	}
	if !slices.ContainsFunc(list, func(m *pkcs11.Mechanism) bool { return m.Mechanism == mech }) {
		return errorf(kinds(ErrMechanism), "hsm: token %s lacks %s", cfg.token(), mechanismName(mech))
	}
	info, err := ctx.GetMechanismInfo(slot, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)})
	what := "signing"
	if flag == pkcs11.CKF_GENERATE_KEY_PAIR {
		what = "key pair generation"
	}
	switch {
	case err != nil && lost(err):
		return errorf(kinds(signer.ErrUnavailable), "hsm: token %s: get mechanism info: %w", cfg.token(), err)
	case err != nil:
		return errorf(kinds(ErrMechanism), "hsm: token %s lacks %s: %w", cfg.token(), mechanismName(mech), err)
	case info.Flags&flag == 0:
		return errorf(kinds(ErrMechanism), "hsm: token %s lacks %s for %s (flags 0x%x)", cfg.token(), mechanismName(mech), what, info.Flags)
	}
	return nil
}

// Attribute helpers.

func attr(typ uint, v any) *pkcs11.Attribute { return pkcs11.NewAttribute(typ, v) }

// findObjects returns the handles of all objects that match tmpl.
func findObjects(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := ctx.FindObjectsInit(sh, tmpl); err != nil {
		return nil, err
	}
	var all []pkcs11.ObjectHandle
	for {
		hs, _, err := ctx.FindObjects(sh, 64)
		if err != nil {
			ctx.FindObjectsFinal(sh)
			return nil, err
		}
		all = append(all, hs...)
		if len(hs) == 0 {
			break
		}
	}
	return all, ctx.FindObjectsFinal(sh)
}

// attrs reads the attributes types of object o, by type. An attribute the
// token will not reveal (sensitive, or absent) is left out of the map.
func attrs(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	m := make(map[uint][]byte, len(types))
	for _, t := range types {
		v, err := ctx.GetAttributeValue(sh, o, []*pkcs11.Attribute{attr(t, nil)})
		if err != nil {
			if lost(err) {
				return nil, err
			}
			continue
		}
		m[t] = v[0].Value
	}
	return m, nil
}

// ulong decodes a CK_ULONG attribute value (native byte order and size).
func ulong(b []byte) (uint, bool) {
	var v uint64
	switch len(b) {
	case 8:
		v = binary.NativeEndian.Uint64(b)
	case 4:
		v = uint64(binary.NativeEndian.Uint32(b))
	default:
		return 0, false
	}
	return uint(v), true
}

func boolAttr(b []byte) bool { return len(b) == 1 && b[0] != 0 }
