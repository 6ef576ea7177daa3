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

	"github.com/tierwise/tierwise/store"
)

// decodeJSON is decodeStrict that names the field when a value fails to parse
// as its type (a decimal string such as "30%", a timestamp such as
// "yesterday"): encoding/json reports those without the field, so the body
// is walked again to find every such value.
func decodeJSON(r *http.Request, v any) error {
	buf, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return store.Invalid("body", "could not be read: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(buf))
	err = decodeStrict(r, v)
	var invalid *store.InvalidError
	if !errors.As(err, &invalid) || len(invalid.Problems) != 1 || invalid.Problems[0].Field != "body" {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.UseNumber()
	var raw any
	if dec.Decode(&raw) != nil {
		return err
	}
	var problems store.Problems
	valueProblems(&problems, "", raw, reflect.TypeOf(v).Elem())
	if len(problems) == 0 {
		return err
	}
	return problems.Err()
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
				p.Add(path, "must be a decimal number in a string, such as \"12.50\", got %s", buf)
			case timeType:
				p.Add(path, "must be an RFC 3339 timestamp, such as \"2026-01-31T00:00:00Z\", got %s", buf)
			default:
				p.Add(path, "is not valid: %s", buf)
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
