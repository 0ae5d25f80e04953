// Package servecmd is `parley serve`: it reads the flags and environment
// variables, builds a server.Server (with the durable store when --data is
// given), serves it, optionally serves the admin endpoints and announces
// the server on the LAN, and drains it when its context ends. With --data it
// keeps the QUIC stateless reset key there (ResetKey), so that a server
// restarted after a crash resets its previous run's connections at once,
// and, without --cert/--key, the self-signed certificate and its key
// (certs.Persistent), so that its hash — what clients pin — survives a
// restart until the certificate is renewed.
//
// # Configuration
//
// Every flag has an environment variable (see Flags); a flag given on the
// command line wins over the variable, which wins over the default. Every
// value is validated before anything starts, and an error names the flag or
// variable at fault.
//
// # Concurrency
//
// Run blocks until the server has shut down. It starts, tracks and waits
// for these goroutines: the server's Serve, the admin HTTP server, and the
// LAN announcer's refresher; nothing outlives Run. Parse is a pure
// function of its arguments.
package servecmd
