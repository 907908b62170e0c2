package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"safegrid/grid/testdb"
)

// openPTY opens a pseudo-terminal: the side a person types into and the side the
// command reads as its stdin.
func openPTY(t *testing.T) (typist, terminal *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Skipf("TIOCGPTN: %v", e)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Skipf("TIOCSPTLCK: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal side: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// TestUsersPasswordFromTerminal: at a terminal, `users add` asks twice and the password
// is not echoed.
func TestUsersPasswordFromTerminal(t *testing.T) {
	typist, terminal := openPTY(t)
	st := testdb.New(t, nil)
	url := testdb.URL(t, st)

	// Whatever the terminal shows (echo included) comes back on the typist's side. The
	// typist answers each prompt once it is shown (and ReadPassword has had a moment to
	// turn echo off).
	shown := make(chan string)
	go func() {
		var all bytes.Buffer
		buf := make([]byte, 1024)
		answered := 0
		for {
			n, err := typist.Read(buf)
			all.Write(buf[:n])
			for _, prompt := range []string{"New password for tty", "Again:"}[answered:] {
				if !strings.Contains(all.String(), prompt) {
					break
				}
				time.Sleep(100 * time.Millisecond)
				typist.WriteString("typed-secret-1\n")
				answered++
			}
			if err != nil {
				break
			}
		}
		shown <- all.String()
	}()

	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(terminal) // the prompts go to the terminal, as they would
	root.SetIn(terminal)
	root.SetArgs([]string{"--database-url", url, "users", "add", "tty", "--role", "planner"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("add at a terminal: %v (%s)", err, out.String())
	}
	if _, err := st.CheckPassword(context.Background(), "tty", "typed-secret-1"); err != nil {
		t.Errorf("the typed password does not sign in: %v", err)
	}
	if strings.Contains(out.String(), "password:") {
		t.Errorf("a typed password was reported as generated: %s", out.String())
	}
	terminal.Close()
	typist.SetReadDeadline(time.Now().Add(2 * time.Second))
	screen := <-shown
	if !strings.Contains(screen, "New password for tty") || !strings.Contains(screen, "Again:") {
		t.Errorf("the prompts: %q", screen)
	}
	if strings.Contains(screen, "typed-secret") {
		t.Errorf("the password was echoed: %q", screen)
	}
}
