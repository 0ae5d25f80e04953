package server

// HubHeld returns how many rooms and private conversations the server's
// hub holds in memory (for tests of what it forgets).
func (s *Server) HubHeld() (rooms, pairs int) {
	h := s.hub
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.rooms), len(h.pairs)
}
