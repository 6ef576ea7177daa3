package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/store"
)

// maxJSONBody bounds a JSON request body.
const maxJSONBody = 1 << 20

// decodeJSON reads a JSON request body into v, refusing what v does not
// expect: unknown fields (a typo in a field name is an error, not a silent
// default), a body that is not one JSON object (or has data after it), text
// with NUL or control characters (naming the field), and values that do not
// parse as their type (a decimal string such as "30%", a timestamp such as
// "yesterday"; encoding/json reports those without the field, so the body
// is walked again to find every such value).
func decodeJSON(r *http.Request, v any) error {
	buf, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxJSONBody))
	if err != nil {
		return store.Invalid("body", "must be a JSON body of at most %d bytes", maxJSONBody)
	}
	if err := textProblems(buf); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblems(buf, v, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return store.Invalid("body", "must be one JSON value; there is more after it")
	}
	return nil
}

// decodeProblems turns a decoding error into problems that name the field.
func decodeProblems(buf []byte, v any, err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return store.Invalid("body", "must be a JSON %s, got a JSON %s", jsonKind(reflect.TypeOf(v).Elem()), typeErr.Value)
		}
		return store.Invalid(typeErr.Field, "must be a JSON %s, got a JSON %s", jsonKind(typeErr.Type), typeErr.Value)
	}
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.UseNumber()
	var raw any
	if dec.Decode(&raw) == nil {
		var problems store.Problems
		valueProblems(&problems, "", raw, reflect.TypeOf(v).Elem())
		if len(problems) > 0 {
			return problems.Err()
		}
	}
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return store.Invalid("body", "is not valid JSON")
	}
	// Unknown fields and the like: encoding/json's message names the field.
	return store.Invalid("body", "%s", limits.Clip(strings.TrimPrefix(err.Error(), "json: ")))
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return "string"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	}
	return "number"
}

// textProblems refuses a body with a NUL or another control character
// (tabs and line breaks aside) in any string, naming its field: PostgreSQL
// cannot store a NUL, and no field has a use for one.
func textProblems(buf []byte) error {
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.UseNumber()
	var path []string // the keys and indexes down to the current value
	type frame struct {
		object bool
		index  int
		key    bool // the next string of an object is a key
	}
	var stack []frame
	field := func() string {
		if len(path) == 0 {
			return "body"
		}
		return strings.Join(path, "")
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the decoder proper reports bad JSON
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if len(stack) > 0 && !stack[len(stack)-1].object {
					path = append(path, fmt.Sprintf("[%d]", stack[len(stack)-1].index))
					stack[len(stack)-1].index++
				}
				stack = append(stack, frame{object: d == '{', key: true})
			case '}', ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 {
					path = path[:len(path)-1]
					if stack[len(stack)-1].object {
						stack[len(stack)-1].key = true
					}
				}
			}
			continue
		}
		top := -1
		if len(stack) > 0 {
			top = len(stack) - 1
		}
		if top >= 0 && stack[top].object && stack[top].key {
			key, _ := tok.(string)
			name := key
			if len(path) > 0 {
				name = "." + key
			}
			path = append(path, name)
			stack[top].key = false
			continue
		}
		if s, ok := tok.(string); ok {
			if err := limits.Text(s, maxJSONBody, true); err != nil {
				return store.Invalid(field(), "%v", err)
			}
		}
		switch {
		case top >= 0 && stack[top].object:
			path = path[:len(path)-1]
			stack[top].key = true
		case top >= 0:
			stack[top].index++
		}
	}
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	decimalType     = reflect.TypeFor[decimal.Decimal]()
	timeType        = reflect.TypeFor[time.Time]()
)

// valueProblems adds a problem for every value in raw, decoded generically,
// that does not unmarshal into its field of type t.
func valueProblems(p *store.Problems, path string, raw any, t reflect.Type) {
	if raw == nil {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		buf, _ := json.Marshal(raw)
		if json.Unmarshal(buf, reflect.New(t).Interface()) != nil {
			switch t {
			case decimalType:
				p.Add(path, "must be a decimal number in a string, such as \"12.50\", got %s", limits.Clip(string(buf)))
			case timeType:
				p.Add(path, "must be an RFC 3339 timestamp, such as \"2026-01-31T00:00:00Z\", got %s", limits.Clip(string(buf)))
			default:
				p.Add(path, "is not valid: %s", limits.Clip(string(buf)))
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		valueProblems(p, path, raw, t.Elem())
	case reflect.Slice:
		items, _ := raw.([]any)
		for i, item := range items {
			valueProblems(p, fmt.Sprintf("%s[%d]", path, i), item, t.Elem())
		}
	case reflect.Struct:
		obj, _ := raw.(map[string]any)
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case f.Anonymous && name == "":
				valueProblems(p, path, raw, f.Type)
			case name == "" || name == "-" || !f.IsExported():
			default:
				if sub, ok := obj[name]; ok {
					field := name
					if path != "" {
						field = path + "." + name
					}
					valueProblems(p, field, sub, f.Type)
				}
			}
		}
	}
}
