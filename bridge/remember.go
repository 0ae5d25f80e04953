package bridge

import (
	"strings"

	"parley/protocol"
)

// Remembered is what was open on one server: the rooms joined and the
// private chats open, each as the server spells it, earliest opened first.
// A shell keeps it between runs through Options.Remember and gives it back
// through Options.Recall, so that Connect opens all of them again.
type Remembered struct {
	Rooms    []string `json:"rooms,omitempty"`
	Privates []string `json:"privates,omitempty"`
}

// MaxRemembered bounds the rooms, and separately the private chats,
// remembered per server; past it the earliest opened are forgotten.
const MaxRemembered = 50

// ServerKey names a server for Options.Recall and Options.Remember: its
// address as connected to, in lower case, without "https://" (and "/").
// The certificate hash is not part of it: a self-signed certificate, and
// so its hash, changes at every renewal.
func ServerKey(server string) string {
	s := strings.ToLower(strings.TrimSpace(server))
	s = strings.TrimPrefix(s, "https://")
	return strings.TrimSuffix(s, "/")
}

// Clean returns r with invalid and repeated names dropped (repeats by
// their folded form, the latest spelling kept in the earliest place) and
// at most MaxRemembered of each kind, the latest opened. Shells use it on
// what they read back from disk.
func (r Remembered) Clean() Remembered {
	out := Remembered{}
	for _, room := range r.Rooms {
		if c, err := protocol.CleanRoom(strings.TrimSpace(room)); err == nil {
			out.Rooms = addName(out.Rooms, c)
		}
	}
	for _, name := range r.Privates {
		if c, err := protocol.CleanName(strings.TrimSpace(name)); err == nil {
			out.Privates = addName(out.Privates, c)
		}
	}
	return out
}

func (r Remembered) clone() Remembered {
	return Remembered{Rooms: append([]string(nil), r.Rooms...), Privates: append([]string(nil), r.Privates...)}
}

// addName adds name to list (replacing the spelling of a folded repeat in
// its place) and keeps the latest MaxRemembered.
func addName(list []string, name string) []string {
	k := protocol.Fold(name)
	for i, n := range list {
		if protocol.Fold(n) == k {
			list[i] = name
			return list
		}
	}
	list = append(list, name)
	if over := len(list) - MaxRemembered; over > 0 {
		list = append([]string(nil), list[over:]...)
	}
	return list
}

// removeName returns list without the names that fold like name (a new
// slice; list is not changed).
func removeName(list []string, name string) []string {
	k := protocol.Fold(name)
	out := list[:0:0]
	for _, n := range list {
		if protocol.Fold(n) != k {
			out = append(out, n)
		}
	}
	return out
}

// hasName reports whether list holds a name that folds like name.
func hasName(list []string, name string) bool {
	k := protocol.Fold(name)
	for _, n := range list {
		if protocol.Fold(n) == k {
			return true
		}
	}
	return false
}

// noteRoomLocked records that room was joined (or left). b.mu is held;
// call remember after unlocking.
func (b *Bridge) noteRoomLocked(room string, joined bool) {
	if b.openKey == "" {
		return
	}
	if joined {
		b.open.Rooms = addName(b.open.Rooms, room)
	} else {
		b.open.Rooms = removeName(b.open.Rooms, room)
	}
	b.openDirty = true
}

// notePrivateLocked records that the private chat with name was opened
// (or closed). A guest's are not remembered: the server keeps no private
// chat of a guest after its session. b.mu is held.
func (b *Bridge) notePrivateLocked(name string, open bool) {
	if b.openKey == "" || b.openGuest {
		return
	}
	if open {
		if hasName(b.open.Privates, name) {
			return
		}
		b.open.Privates = addName(b.open.Privates, name)
	} else {
		b.open.Privates = removeName(b.open.Privates, name)
	}
	b.openDirty = true
}

// remember hands what is open to Options.Remember if it changed. Calls
// are serialised by rememberMu (taken before mu), so the last one made
// carries the latest state.
func (b *Bridge) remember() {
	if b.opts.Remember == nil {
		return
	}
	b.rememberMu.Lock()
	defer b.rememberMu.Unlock()
	b.mu.Lock()
	if !b.openDirty || b.openKey == "" {
		b.mu.Unlock()
		return
	}
	b.openDirty = false
	key, r := b.openKey, b.open.clone()
	b.mu.Unlock()
	b.opts.Remember(key, r)
}

// recall returns what to open at Connect: room first (if any), then the
// remembered rooms; DefaultRoom when that is nothing; and the remembered
// private chats (none for a guest).
func (b *Bridge) recall(server, room string, guest bool) (rooms []string, r Remembered) {
	if b.opts.Recall != nil {
		r = b.opts.Recall(ServerKey(server)).Clean()
	}
	if guest {
		r.Privates = nil
	}
	if room != "" {
		rooms = append(rooms, room)
	}
	for _, rm := range r.Rooms {
		if !hasName(rooms, rm) {
			rooms = append(rooms, rm)
		}
	}
	if len(rooms) == 0 && b.opts.DefaultRoom != "" {
		rooms = append(rooms, b.opts.DefaultRoom)
	}
	return rooms, r
}
