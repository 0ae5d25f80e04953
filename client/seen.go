package client

// seen remembers which seqs of one conversation were delivered: every seq
// up to floor, and the ones in above (seqs delivered out of order, such as
// the acknowledgement of one's own message ahead of an event).
type seen struct {
	floor int64
	above map[int64]struct{}
	epoch string
	known bool // floor means something (set by a join answer, a conversations answer or a first message)
}

// maxAbove bounds the out-of-order seqs remembered; past it the floor
// jumps to the lowest of them (a seq the server never delivered is given up).
const maxAbove = 4096

// mark records seq and reports whether it is new.
func (s *seen) mark(seq int64) bool {
	if !s.known {
		s.known = true
		s.floor = seq - 1
	}
	if seq <= s.floor {
		return false
	}
	if _, ok := s.above[seq]; ok {
		return false
	}
	if seq != s.floor+1 {
		if s.above == nil {
			s.above = map[int64]struct{}{}
		}
		s.above[seq] = struct{}{}
		if len(s.above) > maxAbove {
			low := seq
			for k := range s.above {
				low = min(low, k)
			}
			s.floor = low - 1
			s.advance()
		}
		return true
	}
	s.floor = seq
	s.advance()
	return true
}

func (s *seen) advance() {
	for {
		if _, ok := s.above[s.floor+1]; !ok {
			break
		}
		delete(s.above, s.floor+1)
		s.floor++
	}
	for k := range s.above {
		if k <= s.floor {
			delete(s.above, k)
		}
	}
}

// reset starts over at seq (a join answer of a new room, or a new epoch).
func (s *seen) reset(seq int64, epoch string) {
	s.floor, s.above, s.epoch, s.known = seq, nil, epoch, true
}
