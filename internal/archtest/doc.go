// Package archtest holds the test that keeps SafeGrid's package layout
// (docs/ARCHITECTURE.md) from eroding: which package may import which, and where the
// database may be reached.
package archtest
