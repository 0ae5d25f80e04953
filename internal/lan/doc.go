// Package lan finds Parley servers on the local network and describes how
// to reach one.
//
// # Join links
//
// A join link names a server, the SHA-256 hash of its certificate, the
// SHA-256 hash of its public key and optionally a room:
//
//	parley://host:port?hash=HEX&key=HEX&room=NAME
//
// host is a DNS name or an IP literal (IPv6 in brackets), port is 1–65535
// and required, hash is the lower-case hex SHA-256 of the certificate's DER
// (64 digits; upper case is accepted and lowered), key the same of its
// SubjectPublicKeyInfo (a self-signed server keeps its key when it renews
// its certificate, so a link with the key outlives renewals), room is a room name as
// protocol.CleanRoom accepts it, percent-encoded. ParseLink rejects anything
// else (user info, a path, a fragment, a repeated parameter, a bad host,
// port, hash, key or room); parameters it does not know are ignored, so a link
// made by a newer Parley still opens. FormatLink writes the canonical form.
//
// # mDNS service
//
// A server announces itself as an instance of the DNS-SD service type
// "_parley._udp" in the "local." domain (ServiceType). The SRV record carries
// the port of the server (UDP for WebTransport, the same number on TCP), the
// A/AAAA records its addresses, and the TXT record these keys:
//
//	v=1            protocol version (protocol.Version)
//	name=…         the server's name, as shown to users (at most 200 bytes)
//	hash=…         the certificate hash clients pin (64 lower-case hex digits)
//	members=N      how many sessions are connected (updated with Update)
//	port=N         the port again, for readers that do not resolve SRV
//
// The instance name is "parley-" followed by the first 16 digits of the
// hash, so two servers on one host are told apart by their certificates.
// Discover ignores instances whose TXT record lacks a valid v, hash or port.
//
// # Concurrency
//
// An Announcer is safe for concurrent use: Update swaps the record set under
// a mutex while the responder goroutines (owned by hashicorp/mdns) read it;
// Close is idempotent. Follow runs in its caller's goroutine until its
// context ends or the Announcer is closed, calling current and onErr from
// there. Discover may be called from any goroutine and keeps
// no state between calls. ParseLink and FormatLink are pure functions.
package lan
