//go:build !linux

package api

import "net"

// watchClient does nothing off Linux: requests end at Config.RequestTimeout (and the
// database's statement_timeout) instead of when the client hangs up.
func watchClient(net.Conn, func()) (stop func()) { return func() {} }
