package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestSelfSigned(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	renewed := make(chan string, 1)
	p, err := SelfSigned([]string{"chat.lan", "192.168.1.5"}, WithClock(clock), OnRenew(func(h string) { renewed <- h }))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := p.Certificate()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || leaf.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Fatalf("key %T", leaf.PublicKey)
	}
	if v := leaf.NotAfter.Sub(leaf.NotBefore); v >= 14*24*time.Hour {
		t.Fatalf("valid for %v", v)
	}
	if !leaf.NotBefore.Before(now) || !leaf.NotAfter.After(now) {
		t.Fatal("not valid now")
	}
	if err := leaf.VerifyHostname("chat.lan"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("192.168.1.5"); err != nil {
		t.Error(err)
	}
	sum := sha256.Sum256(c.Certificate[0])
	h1 := p.Hash()
	if h1 != hex.EncodeToString(sum[:]) || h1 != HashOf(c.Certificate[0]) {
		t.Fatalf("hash %s", h1)
	}
	spki := p.SPKIHash()

	// Close to expiry it is renewed, with the same key.
	mu.Lock()
	now = now.Add(Validity - RenewBefore + time.Minute)
	mu.Unlock()
	c2, _ := p.GetCertificate(nil)
	if h2 := p.Hash(); h2 == h1 || HashOf(c2.Certificate[0]) != h2 {
		t.Fatal("not renewed")
	}
	if got := <-renewed; got != p.Hash() {
		t.Fatalf("OnRenew got %s", got)
	}
	if p.SPKIHash() != spki {
		t.Fatal("SPKI hash changed on renewal")
	}
	k1, err1 := KeyHashOf(c.Certificate[0])
	k2, err2 := KeyHashOf(c2.Certificate[0])
	if err1 != nil || err2 != nil || len(k1) != 64 || k1 != k2 {
		t.Fatalf("key hashes %q (%v) and %q (%v): want one 64-digit hash across the renewal", k1, err1, k2, err2)
	}
	if _, err := KeyHashOf([]byte("not a certificate")); err == nil {
		t.Fatal("KeyHashOf of garbage succeeded")
	}
	if !p.NotAfter().After(now) {
		t.Fatal("renewed certificate expired")
	}
	if tc := p.TLSConfig(); tc.GetCertificate == nil {
		t.Fatal("TLSConfig without GetCertificate")
	}
}

func TestLoadPEM(t *testing.T) {
	p, _ := SelfSigned(nil)
	c, _ := p.Certificate()
	dir := t.TempDir()
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600)
	q, err := Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if q.Hash() != p.Hash() {
		t.Fatal("loaded certificate has another hash")
	}
	if _, err := Load(certFile, filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("missing key loaded")
	}
	if _, err := FromPEM([]byte("junk"), []byte("junk")); err == nil {
		t.Fatal("junk loaded")
	}
}
