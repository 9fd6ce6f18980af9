package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// connPool caps the HTTP connections open at once (over every listener)
// without letting anyone who lacks the token lock the API out by holding
// them. When the pool is full, a new connection evicts the open one that
// has waited longest with no request in its handler, preferring
// connections that never presented a valid token: holding idle
// keep-alive connections, or dripping a request's headers, keeps no slot
// from a client that is about to send a request. A connection is never
// evicted in its first connGrace (time to send its first request), which
// also bounds a reconnect storm to max/connGrace evictions a second. Only
// when no connection can be evicted does a new one wait, and that lasts
// at most connGrace unless every connection is inside a handler:
// unauthenticated handlers are short (health, 401, static files) while
// long ones (event streams, restarts) need the token.
type connPool struct {
	max int

	mu    sync.Mutex
	open  int // admitted and not closed yet
	conns map[*poolConn]struct{}
	freed chan struct{} // a slot freed or a connection left its handler
}

const connGrace = 500 * time.Millisecond

func newConnPool(max int) *connPool {
	return &connPool{max: max, conns: map[*poolConn]struct{}{}, freed: make(chan struct{}, 1)}
}

type poolConn struct {
	net.Conn
	pool      *connPool
	closeOnce sync.Once

	// guarded by pool.mu
	busy     int       // requests inside the handler
	authed   bool      // has presented a valid token (or ticket)
	accepted time.Time // when admitted
	since    time.Time // admitted, or last left the handler
}

func (c *poolConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.pool.remove(c) })
	return err
}

// CloseWrite half-closes the connection when it can: net/http does so
// before closing a connection whose request it did not read whole (a 413,
// a 431), so that the client reads the answer instead of a reset.
func (c *poolConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (p *connPool) signal() {
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

func (p *connPool) remove(c *poolConn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.open--
	p.mu.Unlock()
	p.signal()
}

// victim is the connection to evict: past its grace and not inside a
// handler; unauthenticated before authenticated, then the longest
// waiting. nil when there is none. Called with p.mu held.
func (p *connPool) victim(now time.Time) *poolConn {
	var v *poolConn
	for c := range p.conns {
		if c.busy > 0 || now.Sub(c.accepted) < connGrace {
			continue
		}
		if v == nil || (v.authed && !c.authed) || (v.authed == c.authed && c.since.Before(v.since)) {
			v = c
		}
	}
	return v
}

// admit makes room for c, evicting as needed, and tracks it. It waits
// while every connection is busy; done (the listener's) ends the wait.
func (p *connPool) admit(c net.Conn, done <-chan struct{}) (*poolConn, error) {
	for {
		p.mu.Lock()
		now := time.Now()
		if p.open < p.max {
			p.open++
			pc := &poolConn{Conn: c, pool: p, accepted: now, since: now}
			p.conns[pc] = struct{}{}
			p.mu.Unlock()
			return pc, nil
		}
		v := p.victim(now)
		p.mu.Unlock()
		if v != nil {
			_ = v.Close() // frees its slot at once; net/http notices and drops it
			continue
		}
		select {
		case <-p.freed:
		case <-done:
			return nil, net.ErrClosed
		case <-time.After(connGrace / 10): // a grace may have ended
		}
	}
}

// connKey carries the *poolConn of a request in its context.
type connKey struct{}

// connContext is http.Server.ConnContext: it lets the handler find the
// request's connection.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*poolConn); ok {
		return context.WithValue(ctx, connKey{}, pc)
	}
	return ctx
}

func connOf(r *http.Request) *poolConn {
	pc, _ := r.Context().Value(connKey{}).(*poolConn)
	return pc
}

// wrap marks the request's connection busy while h runs.
func (p *connPool) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pc := connOf(r)
		if pc == nil {
			h.ServeHTTP(w, r)
			return
		}
		p.mu.Lock()
		pc.busy++
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			pc.busy--
			pc.since = time.Now()
			p.mu.Unlock()
			p.signal()
		}()
		h.ServeHTTP(w, r)
	})
}

// authenticated marks the request's connection as the token holder's
// (httpui.Options.OnAuthenticated): evicted only after every other.
func (p *connPool) authenticated(r *http.Request) {
	if pc := connOf(r); pc != nil {
		p.mu.Lock()
		pc.authed = true
		p.mu.Unlock()
	}
}

// listener admits the connections l accepts into p.
func (p *connPool) listener(l net.Listener) net.Listener {
	return &poolListener{Listener: l, pool: p, done: make(chan struct{})}
}

type poolListener struct {
	net.Listener
	pool      *connPool
	done      chan struct{}
	closeOnce sync.Once
}

// Close closes the listener and wakes an Accept waiting for room.
func (l *poolListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Accept takes the next connection from the kernel, then makes room for
// it. A connection waiting for room is not served yet (as if still in
// the backlog).
func (l *poolListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	pc, err := l.pool.admit(c, l.done)
	if err != nil {
		c.Close()
		return nil, err
	}
	return pc, nil
}
