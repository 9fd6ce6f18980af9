package units

import (
	"context"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

// Subscribe calls fn for every unit whose load, active or sub state
// changes, from systemd's PropertiesChanged signals (no polling). fn is
// called from one goroutine and must not block. The returned function
// unsubscribes. Without systemd it returns ErrNoSystemd.
func (s *Service) Subscribe(ctx context.Context, fn func(Change)) (func(), error) {
	if !s.available {
		return nil, ErrNoSystemd
	}
	s.subMu.Lock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	s.subMu.Unlock()
	unsub := func() {
		s.subMu.Lock()
		delete(s.subs, id)
		s.subMu.Unlock()
	}
	s.mu.Lock()
	if !s.watchOn {
		s.watchOn = true
		if s.conn != nil && s.conn.Connected() {
			s.startWatch(s.conn)
		}
	}
	s.mu.Unlock()
	// Connects when needed; a new connection is subscribed by bus().
	if _, err := s.bus(ctx); err != nil {
		unsub()
		return nil, err
	}
	return unsub, nil
}

// startWatch subscribes c to systemd's signals; s.mu is held. A new
// connection (after a lost one) is subscribed by bus().
func (s *Service) startWatch(c systemdBus) {
	if err := c.Subscribe(); err != nil {
		s.log.Warn("cannot subscribe to systemd's unit changes", "err", err)
		return
	}
	updates := make(chan *sddbus.PropertiesUpdate, 1024)
	errs := make(chan error, 16)
	c.SetPropertiesSubscriber(updates, errs)
	go s.watch(c, updates, errs)
}

// watch turns PropertiesChanged signals of the Unit interface into
// Changes, one per unit whose states changed.
func (s *Service) watch(c systemdBus, updates <-chan *sddbus.PropertiesUpdate, errs <-chan error) {
	for c.Connected() {
		var up *sddbus.PropertiesUpdate
		select {
		case up = <-updates:
		case err := <-errs:
			s.log.Debug("unit change subscription", "err", err)
			continue
		case <-time.After(5 * time.Second):
			continue // notice a closed connection
		}
		s.invalidate(up.UnitName)
		ch := Change{Name: up.UnitName, Time: time.Now().UTC().Format(time.RFC3339Nano)}
		get := func(k string) (string, bool) {
			v, ok := up.Changed[k]
			if !ok {
				return "", false
			}
			sv, ok := v.Value().(string)
			return sv, ok
		}
		var ok1, ok2, ok3 bool
		ch.Active, ok1 = get("ActiveState")
		ch.Sub, ok2 = get("SubState")
		ch.Load, ok3 = get("LoadState")
		ch.Description, _ = get("Description")
		if !ok1 || !ok2 || !ok3 {
			// Invalidated rather than sent: ask for the states.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := c.ListUnitsByNamesContext(ctx, []string{up.UnitName})
			cancel()
			if err != nil || len(st) == 0 {
				continue
			}
			ch.Description, ch.Load, ch.Active, ch.Sub = st[0].Description, st[0].LoadState, st[0].ActiveState, st[0].SubState
		}
		s.publish(ch)
	}
}

// publish sends ch to the subscribers unless the unit's states are the
// ones last sent.
func (s *Service) publish(ch Change) {
	s.subMu.Lock()
	prev, seen := s.last[ch.Name]
	if seen && prev.Load == ch.Load && prev.Active == ch.Active && prev.Sub == ch.Sub {
		s.subMu.Unlock()
		return
	}
	if len(s.last) > 65536 {
		clear(s.last)
	}
	s.last[ch.Name] = ch
	fns := make([]func(Change), 0, len(s.subs))
	for _, fn := range s.subs {
		fns = append(fns, fn)
	}
	s.subMu.Unlock()
	for _, fn := range fns {
		fn(ch)
	}
}
