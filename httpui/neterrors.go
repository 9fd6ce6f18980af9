package httpui

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Some requests never reach the handler: net/http answers them itself
// when it cannot read the request (a malformed request line or header, a
// missing Host header on HTTP/1.1, headers over MaxHeaderBytes, an unknown
// transfer encoding, an unsupported HTTP version), in plain text, and
// closes the connection. No server option changes that body (ErrorLog
// only sees what is logged), so JSONErrorListener rewrites these answers
// on the connection: net/http writes each in one Write, in one fixed form
// (the status line, then exactly "Content-Type: text/plain;
// charset=utf-8" and "Connection: close", then a body repeating the
// status), a form no response of the handler has (net/http sorts the
// headers and always adds Date). Any other write passes untouched, so a
// change of that form in a later Go falls back to the plain text; the
// tests (TestNetHTTPErrorsAreJSON) would say so.

// netHTTPErrorHeaders is what net/http writes between the status line
// and the body of its own error answers (net/http/server.go, conn.serve).
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// JSONErrorListener wraps l so that the answers net/http makes by itself
// carry the API's JSON error body {"error","code"}.
func JSONErrorListener(l net.Listener) net.Listener { return jsonErrorListener{l} }

type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return jsonErrorConn{c}, nil
}

type jsonErrorConn struct{ net.Conn }

// CloseWrite half-closes the connection when it can (net/http does after
// a 431, so that the client reads the answer before the connection goes).
func (c jsonErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Write sends b, or its JSON form when b is one of net/http's own error
// answers; it reports len(b) written when the rewrite was sent whole.
func (c jsonErrorConn) Write(b []byte) (int, error) {
	j := jsonNetHTTPError(b)
	if j == nil {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(j); err != nil {
		return 0, err
	}
	return len(b), nil
}

// jsonNetHTTPError returns the JSON form of b when b is exactly one of
// net/http's own error answers, and nil otherwise.
func jsonNetHTTPError(b []byte) []byte {
	rest, ok := bytes.CutPrefix(b, []byte("HTTP/1.1 "))
	if !ok {
		return nil
	}
	i := bytes.IndexByte(rest, '\r')
	if i < 5 || !bytes.HasPrefix(rest[i:], []byte(netHTTPErrorHeaders)) {
		return nil
	}
	status, body := string(rest[:i]), string(rest[i+len(netHTTPErrorHeaders):])
	if body != status && !(strings.HasPrefix(status, "501 ") && body == "Unsupported transfer encoding") {
		return nil
	}
	code, err := strconv.Atoi(status[:3])
	if err != nil || status[3] != ' ' || code < 400 || code > 599 {
		return nil
	}
	// "400 Bad Request: invalid header name" → the detail after the colon.
	reason := status[4:]
	detail := ""
	if _, d, ok := strings.Cut(reason, ": "); ok {
		detail = d
	}
	var msg, snake string
	switch code {
	case http.StatusRequestHeaderFieldsTooLarge:
		msg, snake = "request headers too large", "headers_too_large"
	case http.StatusNotImplemented:
		msg, snake = "unsupported transfer encoding", codeNotImplemented
	case http.StatusHTTPVersionNotSupported:
		msg, snake = "unsupported HTTP version: use HTTP/1.1", "http_version_not_supported"
	case http.StatusBadRequest:
		msg, snake = "malformed HTTP request", codeInvalidArgument
		if detail != "" {
			msg += ": " + detail
		}
	default:
		msg, snake = strings.ToLower(reason), "bad_request"
	}
	js, err := json.Marshal(map[string]string{"error": msg, "code": snake})
	if err != nil {
		return nil
	}
	js = append(js, '\n')
	var out bytes.Buffer
	out.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n")
	out.WriteString("Content-Type: application/json; charset=utf-8\r\n")
	out.WriteString("Content-Length: " + strconv.Itoa(len(js)) + "\r\n")
	out.WriteString("X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n")
	out.Write(js)
	return out.Bytes()
}
