package client

import (
	"testing"
	"time"

	"parley/protocol"
)

// The ping datagram is a frame of type ping, padded past the size under
// which a QUIC server sends no stateless reset (quic-go: 42 bytes for the
// whole packet; the datagram alone is made larger than that).
func TestPingDatagramIsPaddedPing(t *testing.T) {
	const resetThreshold = 1 + 20 + 4 + 1 + 16 // quic-go's MinStatelessResetSize
	if len(pingDatagram) <= resetThreshold {
		t.Fatalf("ping datagram is %d bytes, want more than %d", len(pingDatagram), resetThreshold)
	}
	f, err := protocol.Decode(pingDatagram)
	if err != nil || f.Type != protocol.TypePing {
		t.Fatalf("ping datagram %q decodes to %+v, %v", pingDatagram, f, err)
	}
}

func TestPingEveryDefaults(t *testing.T) {
	if d := (Config{}).withDefaults().PingEvery; d != DefaultPingEvery {
		t.Fatalf("zero PingEvery became %v, want %v", d, DefaultPingEvery)
	}
	if d := (Config{PingEvery: -1}).withDefaults().PingEvery; d >= 0 {
		t.Fatalf("negative PingEvery became %v, want it to stay off", d)
	}
	if d := (Config{PingEvery: time.Second}).withDefaults().PingEvery; d != time.Second {
		t.Fatalf("PingEvery 1s became %v", d)
	}
}
