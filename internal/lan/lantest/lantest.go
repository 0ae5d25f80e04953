// Package lantest runs a test inside a network namespace whose loopback
// carries multicast, so that mDNS can be tested on a machine whose loopback
// has no multicast and whose real network must not be disturbed.
//
// InNetns is called from a test goroutine only; it starts a child process
// and waits for it.
package lantest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// NetnsEnv is set when the test binary runs inside the namespace the test
// made; its value is the namespace's name.
const NetnsEnv = "PARLEY_LAN_NETNS"

// InNetns runs the calling test again inside a fresh network namespace whose
// loopback carries multicast, and reports whether the caller is already that
// inner run (then it should do the work). The outer run fails if the inner
// one fails, and skips with the reason when no namespace can be made.
func InNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(NetnsEnv) != "" {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("skipped: making a network namespace needs root (loopback has no multicast outside one)")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("skipped: the ip command (iproute2) is not installed, so no network namespace can be made")
	}
	name := fmt.Sprintf("parley-lan-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot make a network namespace (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command(ip, "netns", "delete", name).CombinedOutput(); err != nil {
			t.Errorf("deleting namespace %s: %v: %s", name, err, out)
		}
	})
	for _, args := range [][]string{
		{"netns", "exec", name, ip, "link", "set", "lo", "up", "multicast", "on"},
		{"netns", "exec", name, ip, "route", "add", "224.0.0.0/4", "dev", "lo"},
	} {
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ip, "netns", "exec", name, os.Args[0],
		"-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), NetnsEnv+"="+name)
	out, err := cmd.CombinedOutput()
	t.Logf("inside namespace %s:\n%s", name, out)
	if err != nil {
		t.Fatalf("the test failed inside the namespace: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("the inner run did not report a pass for %s", t.Name())
	}
	return false
}
