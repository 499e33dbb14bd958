//go:build !cgo

package buildinfo

// cgoEnabled is whether this package was compiled with cgo on; the
// CGO_ENABLED build setting, when stamped, says the same.
const cgoEnabled = false
