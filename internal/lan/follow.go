package lan

import (
	"context"
	"net"
	"slices"
	"time"
)

// Follow keeps what a announces equal to current(), checked every `every`
// until ctx ends or a is closed: a change (the member count, a renewed
// certificate's hash, the addresses) is announced at the next check, so
// the announcement changes at most once per every, and an unchanged Info
// is not announced again. An Info with an empty CertHash keeps the hash
// announced now (the certificate could not be read this time). A failed
// update is passed to onErr (when not nil) and tried again at the next
// check. Follow blocks; run it in a goroutine that the caller waits for.
func (a *Announcer) Follow(ctx context.Context, every time.Duration, current func() Info, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		last, closed := a.announced()
		if closed {
			return
		}
		next := current()
		if next.CertHash == "" {
			next.CertHash = last.CertHash
		}
		if sameInfo(next, last) {
			continue
		}
		if err := a.Update(next); err != nil && onErr != nil {
			onErr(err)
		}
	}
}

// announced returns the Info announced now and whether a is closed.
func (a *Announcer) announced() (Info, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.info, a.closed
}

// cloneInfo copies info with its own IPs.
func cloneInfo(info Info) Info {
	info.IPs = slices.Clone(info.IPs)
	return info
}

// sameInfo reports whether x and y announce the same thing.
func sameInfo(x, y Info) bool {
	return x.Name == y.Name && x.Port == y.Port && x.CertHash == y.CertHash &&
		x.Members == y.Members && x.Host == y.Host &&
		slices.EqualFunc(x.IPs, y.IPs, net.IP.Equal)
}
