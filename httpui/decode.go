package httpui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/roy/roy-procwatch/daemon/procs"
)

// errRateLimited answers failed authentications once the limiter is empty.
var errRateLimited = httpErr(http.StatusTooManyRequests, codeRateLimited, "too many failed authentications; retry later")

func badInput(format string, a ...any) *apiError {
	return httpErr(http.StatusBadRequest, codeInvalidArgument, format, a...)
}

// pathPID decodes the {pid} path segment: decimal digits only. Whether
// the number is a valid PID (1..pid_max) is the core's rule.
func pathPID(r *http.Request) (int, error) {
	s := r.PathValue("pid")
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") {
		if len(s) > 20 {
			s = s[:20] + "…"
		}
		return 0, badInput("invalid pid %q: not a number", s)
	}
	return n, nil
}

// pathTarget is the process a GET names: the path's {pid} and, when given,
// ?create_time= (the start time the caller saw: a PID reused since is
// ProcessChanged, not another process's data).
func pathTarget(r *http.Request) (procs.Target, error) {
	pid, err := pathPID(r)
	if err != nil {
		return procs.Target{}, err
	}
	var ct float64
	if s := r.URL.Query().Get("create_time"); s != "" {
		if ct, err = strconv.ParseFloat(s, 64); err != nil {
			return procs.Target{}, badInput("invalid create_time: must be a number")
		}
	}
	return procs.Target{PID: pid, CreateTime: ct}, nil
}

// decodeBody reads exactly one JSON object into v (a pointer to a struct
// with json tags), refusing unknown fields, trailing data and oversized
// bodies. An empty body is allowed when emptyOK.
func (h *Handler) decodeBody(r *http.Request, v any, emptyOK bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return httpErr(http.StatusUnsupportedMediaType, codeUnsupportedType, "Content-Type must be application/json")
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return httpErr(http.StatusRequestEntityTooLarge, codeBodyTooLarge, "request body too large (max %d bytes)", h.opts.MaxBody)
		}
		return badInput("cannot read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return badInput("missing JSON body")
	}
	// One object first, so that field names are checked exactly (the
	// decoder would match them case-insensitively).
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return badInput("malformed JSON body: one JSON object expected")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badInput("invalid JSON: trailing data after the object")
	}
	known := jsonFields(v)
	for k := range fields {
		if !known[k] {
			return badInput("invalid JSON: unknown field %q", k)
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badInput("invalid JSON: field %q must be %s", te.Field, jsonTypeName(te.Type.Kind()))
		}
		return badInput("malformed JSON body")
	}
	return nil
}

// jsonFields is the set of JSON names of the struct v points to.
func jsonFields(v any) map[string]bool {
	t := reflect.TypeOf(v).Elem()
	out := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

func jsonTypeName(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return fmt.Sprintf("of type %s", k)
}
