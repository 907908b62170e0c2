package api

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// clientPoll is how often a running request checks whether its client is still there.
// Most requests finish before the first check, so they pay for one timer and nothing else.
const clientPoll = 200 * time.Millisecond

// watchClient calls gone once the peer of conn has closed the connection, and stop ends
// the watch. fasthttp does not tell a handler that its client left (its RequestCtx.Done
// only closes on server shutdown), so this peeks at the socket: MSG_PEEK|MSG_DONTWAIT
// reads nothing that fasthttp would miss, and a zero-byte result means the peer sent FIN.
// A client that half-closes its side after sending the request looks gone too; HTTP
// clients do not do that in practice. Connections that are not plain sockets (app.Test,
// TLS wrappers) are not watched: their requests still end at RequestTimeout.
func watchClient(conn net.Conn, gone func()) (stop func()) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return func() {}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	w := &watcher{raw: raw, gone: gone}
	w.mu.Lock()
	w.t = time.AfterFunc(clientPoll, w.check)
	w.mu.Unlock()
	return w.stop
}

type watcher struct {
	raw  syscall.RawConn
	gone func()
	mu   sync.Mutex
	t    *time.Timer
	done bool
}

func (w *watcher) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if peerClosed(w.raw) {
		w.done = true
		w.gone()
		return
	}
	w.t.Reset(clientPoll)
}

func (w *watcher) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	w.t.Stop()
}

func peerClosed(raw syscall.RawConn) bool {
	var closed bool
	buf := make([]byte, 1)
	err := raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || err == syscall.ECONNRESET
		return true // never wait: this is a poll, not a read
	})
	return closed || err != nil
}
