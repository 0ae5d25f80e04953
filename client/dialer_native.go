//go:build !js

package client

func init() {
	newDefaultDialer = func(cfg Config) (Dialer, error) {
		wtURL, wsURL, err := ServerURLs(cfg.Server)
		if err != nil {
			return nil, err
		}
		pin, err := newKeyPin(cfg.CertHash, cfg.KeyHash)
		if err != nil {
			return nil, err
		}
		// One pin for both transports: a key learned on one is trusted on
		// the other.
		wt := &WebTransportDialer{URL: wtURL, TLS: pin.tlsConfig()}
		ws := &WebSocketDialer{URL: wsURL, TLS: pin.tlsConfig()}
		return &pinnedDialer{FallbackDialer: &FallbackDialer{Primary: wt, Fallback: ws, After: cfg.FallbackAfter}, pin: pin}, nil
	}
}

// pinnedDialer is the default native Dialer: it reports the server key its
// pin accepts (Client.KeyHash).
type pinnedDialer struct {
	*FallbackDialer
	pin *keyPin // nil: the system roots verify
}

// KeyHash returns the hex SHA-256 of the server's public key the dialer
// accepts, given or learned; "" when none.
func (d *pinnedDialer) KeyHash() string {
	if d.pin == nil {
		return ""
	}
	return d.pin.keyHash()
}
