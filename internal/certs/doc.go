// Package certs provides the TLS certificates of a Parley server: a
// self-signed ECDSA P-256 certificate valid for less than 14 days (what
// browsers accept with serverCertificateHashes), renewed before it expires,
// or a certificate loaded from PEM files. A Provider hands certificates out
// through tls.Config.GetCertificate, so a renewal takes effect without a
// restart.
//
// Persistent keeps the self-signed certificate and its key in a directory
// and serves the kept one again after a restart, so the hash clients pin
// stays the same until the certificate is due for renewal; each renewal
// is written back (see persist.go).
//
// # Concurrency
//
// A Provider is safe for concurrent use. Renewal happens lazily inside
// GetCertificate (and Certificate, Hash), under the Provider's mutex, which
// is also held while a Persistent provider writes the renewed certificate
// to its directory. The only goroutine started is the one that calls an
// OnRenew function after a renewal.
package certs
