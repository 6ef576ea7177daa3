package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/store"
)

// form reads a posted form into the domain's inputs, collecting a problem
// for every value that does not parse, named like the API names the field,
// so it shows next to its input with the store's own problems.
type form struct {
	values   url.Values
	problems store.Problems
}

// maxFieldLength bounds a single form value; the store bounds names and
// notes more tightly.
const maxFieldLength = 10000

// readForm parses the posted form. A NUL byte or an overlong value is a
// problem of its field.
func readForm(r *http.Request) *form {
	f := &form{values: url.Values{}}
	if err := r.ParseForm(); err != nil {
		f.problems.Add("form", "could not be read: %v", err)
		return f
	}
	f.values = r.PostForm
	for name, vs := range f.values {
		for _, v := range vs {
			switch {
			case strings.ContainsRune(v, 0):
				f.problems.Add(name, "must not contain a NUL byte")
			case utf8.RuneCountInString(v) > maxFieldLength:
				f.problems.Add(name, "must be at most %d characters", maxFieldLength)
			}
		}
	}
	return f
}

// err returns the parse problems, nil when there are none.
func (f *form) err() error { return f.problems.Err() }

// str is a trimmed text value.
func (f *form) str(name string) string { return strings.TrimSpace(f.values.Get(name)) }

// optStr is a text value, nil when the field was not sent.
func (f *form) optStr(name string) *string {
	if _, ok := f.values[name]; !ok {
		return nil
	}
	v := f.str(name)
	return &v
}

// checked reads a checkbox.
func (f *form) checked(name string) bool { return checked(f.values.Get(name)) }

// dec reads a decimal; empty is zero. "30%" and "1,5" are problems.
func (f *form) dec(name string) decimal.Decimal {
	d, _ := f.optDec(name)
	return d
}

// optDec reads a decimal, false when the field is empty.
func (f *form) optDec(name string) (decimal.Decimal, bool) {
	v := f.str(name)
	if v == "" {
		return decimal.Zero, false
	}
	d, err := decimal.NewFromString(v)
	if err != nil || strings.ContainsAny(v, "eE") {
		f.problems.Add(name, "must be a number such as 30 or 12.50, got %q", v)
		return decimal.Zero, false
	}
	return d, true
}

// id reads a positive id; empty is 0.
func (f *form) id(name string) int64 {
	v := f.str(name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		f.problems.Add(name, "must be one of the listed choices")
		return 0
	}
	return n
}

// optID reads an id, nil when empty.
func (f *form) optID(name string) *int64 {
	if f.str(name) == "" {
		return nil
	}
	n := f.id(name)
	return &n
}

// ids reads every value of a multi-value field as ids.
func (f *form) ids(name string) []int64 {
	ids := []int64{}
	for _, v := range f.values[name] {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n <= 0 {
			f.problems.Add(name, "must be listed choices")
			continue
		}
		ids = append(ids, n)
	}
	return ids
}

// localTime reads a datetime-local value in loc, nil when empty.
func (f *form) localTime(name string, loc *time.Location) *time.Time {
	v := f.str(name)
	if v == "" {
		return nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			t = t.UTC()
			return &t
		}
	}
	f.problems.Add(name, "must be a date and time such as 2026-01-31T09:00")
	return nil
}

// validator is a domain input that reports its own problems.
type validator interface{ Validate() error }

// check returns the parse problems together with the input's own (those of
// fields that did parse), so a form shows every problem at once; nil when
// the form parsed, for the store to validate and write.
func (f *form) check(in validator) error {
	if len(f.problems) == 0 {
		return nil
	}
	all := append(store.Problems{}, f.problems...)
	var invalid *store.InvalidError
	if in != nil && errors.As(in.Validate(), &invalid) {
		for _, p := range invalid.Problems {
			if !slices.ContainsFunc(f.problems, func(q store.Problem) bool { return q.Field == p.Field }) {
				all = append(all, p)
			}
		}
	}
	return all.Err()
}

// mergeProblems returns nil when the form parsed (for the store to check
// and write the input), else the form's problems together with the
// store's own checks of what did parse (validate), so a form shows every
// problem at once.
func mergeProblems(form store.Problems, validate func() error) error {
	if len(form) == 0 {
		return nil
	}
	all := append(store.Problems{}, form...)
	var invalid *store.InvalidError
	if err := validate(); errors.As(err, &invalid) {
		for _, p := range invalid.Problems {
			if !slices.ContainsFunc(form, func(q store.Problem) bool { return q.Field == p.Field }) {
				all = append(all, p)
			}
		}
	}
	return all.Err()
}
