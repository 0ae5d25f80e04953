//go:build !js

package client

func init() {
	newDefaultDialer = func(cfg Config) (Dialer, error) {
		wt, err := NewWebTransportDialer(cfg.Server, cfg.CertHash)
		if err != nil {
			return nil, err
		}
		ws, err := NewWebSocketDialer(cfg.Server, cfg.CertHash)
		if err != nil {
			return nil, err
		}
		return &FallbackDialer{Primary: wt, Fallback: ws, After: cfg.FallbackAfter}, nil
	}
}
