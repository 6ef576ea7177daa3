package console

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

// view is what every page's template gets: the page's own data in Data,
// and around it the session, the CSRF token, a message from the previous
// page, the problems of a form that was not saved and the values it was
// sent with.
type view struct {
	Title   string
	Section string // the navigation entry to mark as current
	Session *store.Session
	CSRF    string
	Flash   string
	// Errors are the problems of a form by field (the field names the API
	// and the store use, so "margin" or "events[0].payout.amount"); Alerts
	// are the problems no field of the form shows.
	Errors map[string][]string
	Alerts []string
	// Refused leads the summary of a refused form: "Not saved" unless the
	// form only filters.
	Refused string
	// Form holds the values a form was sent with, to show them again.
	Form url.Values
	// Secret is a key or token shown once; SecretLabel says what it is.
	Secret      string
	SecretLabel string
	Loc         *time.Location
	// Refresh, when positive, reloads the page after that many seconds (a
	// job's page without JavaScript).
	Refresh int
	Data    any
	base    string // scheme://host of the request, for URLs to copy
}

// view starts the view of a page.
func (s *Server) view(r *http.Request, title, section string) *view {
	v := &view{Title: title, Section: section, Errors: map[string][]string{}, Form: url.Values{}, Loc: time.UTC, base: baseURL(r), Refused: "Not saved"}
	if sess, ok := sessionOf(r); ok {
		v.Session, v.CSRF = &sess, sess.CSRFToken
	}
	if loc, err := s.store.NetworkTimeZone(r.Context()); err == nil {
		v.Loc = loc
	}
	return v
}

// withFlash takes the message the previous page left and clears it.
func (v *view) withFlash(w http.ResponseWriter, r *http.Request) *view {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return v
	}
	if msg, err := url.QueryUnescape(c.Value); err == nil {
		v.Flash = msg
	}
	setCookie(w, r, http.Cookie{Name: flashCookie, Value: "", Path: Path, MaxAge: -1})
	return v
}

// problems sorts a form's problems: those of the form's fields go next to
// them, the others into Alerts. A field ending in "*" takes every field
// with that prefix ("events[*" takes each event's fields).
func (v *view) problems(ps []store.Problem, fields []string) {
	for _, p := range ps {
		if matchField(p.Field, fields) {
			v.Errors[p.Field] = append(v.Errors[p.Field], p.Message)
		} else {
			v.Alerts = append(v.Alerts, p.Field+": "+p.Message)
		}
	}
}

func matchField(field string, fields []string) bool {
	for _, f := range fields {
		if prefix, ok := strings.CutSuffix(f, "*"); ok && strings.HasPrefix(field, prefix) || f == field {
			return true
		}
	}
	return false
}

// Err returns the problems of a field.
func (v *view) Err(field string) []string { return v.Errors[field] }

// Invalid reports whether a field has problems.
func (v *view) Invalid(field string) bool { return len(v.Errors[field]) > 0 }

// fieldProblem is one problem of a field, for a list under a group of
// inputs (a condition row, a band).
type fieldProblem struct {
	Field   string
	Label   string // the field's path after the group's prefix, in words
	Message string
}

// ErrPrefix returns the problems of every field whose name starts with
// prefix, in field order, each labelled with the rest of its name
// ("operator", "payout value").
func (v *view) ErrPrefix(prefix string) []fieldProblem {
	var fields []string
	for f := range v.Errors {
		if strings.HasPrefix(f, prefix) {
			fields = append(fields, f)
		}
	}
	slices.Sort(fields)
	var out []fieldProblem
	for _, f := range fields {
		label := strings.NewReplacer(".", " ", "_", " ", "[", " ", "]", "").Replace(strings.TrimPrefix(f, prefix))
		for _, m := range v.Errors[f] {
			out = append(out, fieldProblem{Field: f, Label: strings.TrimSpace(label), Message: m})
		}
	}
	return out
}

// InvalidPrefix reports whether a field whose name starts with prefix has
// problems.
func (v *view) InvalidPrefix(prefix string) bool { return len(v.ErrPrefix(prefix)) > 0 }

// HasErrors reports whether the form was refused.
func (v *view) HasErrors() bool { return len(v.Errors) > 0 || len(v.Alerts) > 0 }

// ErrorCount is how many problems the form has.
func (v *view) ErrorCount() int {
	n := len(v.Alerts)
	for _, ms := range v.Errors {
		n += len(ms)
	}
	return n
}

// Val is the value a form field was sent with.
func (v *view) Val(field string) string { return v.Form.Get(field) }

// Checked reports whether a checkbox was sent checked.
func (v *view) Checked(field string) bool { return checked(v.Form.Get(field)) }

// Selected reports whether value is among the values a field was sent with.
func (v *view) Selected(field string, value any) bool {
	return slices.Contains(v.Form[field], fmt.Sprint(value))
}

// Time writes an instant in the network's time zone.
func (v *view) Time(t any) string {
	switch t := t.(type) {
	case time.Time:
		if t.IsZero() {
			return ""
		}
		return t.In(v.Loc).Format("2006-01-02 15:04:05")
	case *time.Time:
		if t == nil {
			return ""
		}
		return v.Time(*t)
	}
	return ""
}

// Date writes the day of an instant in the network's time zone.
func (v *view) Date(t time.Time) string { return t.In(v.Loc).Format("2006-01-02") }

// LastDay is the last day of a period that ends (exclusive) at end.
func (v *view) LastDay(end *time.Time) string {
	if end == nil {
		return ""
	}
	return end.Add(-time.Nanosecond).In(v.Loc).Format("2006-01-02")
}

// Zone names the network's time zone.
func (v *view) Zone() string { return v.Loc.String() }

// Base is the console's own URL scheme and host, for URLs to copy.
func (v *view) Base() string { return v.base }

// Query returns the current filters with key set to value, for links that
// change one filter or the page.
func (v *view) Query(key, value string) template.URL {
	q := url.Values{}
	for k, vs := range v.Form {
		if k != "after" {
			q[k] = vs
		}
	}
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	return template.URL("?" + q.Encode())
}

// baseURL is scheme://host of the request as the browser sent it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// funcs are the template functions every page may use.
var funcs = template.FuncMap{
	"money":  reports.Money,
	"signed": reports.SignedMoney,
	"dec":    func(d decimal.Decimal) string { return d.String() },
	"pct": func(d decimal.Decimal) string {
		return d.String() + "%"
	},
	"plural": func(n any, one, many string) string {
		if fmt.Sprint(n) == "1" {
			return one
		}
		return many
	},
	"event": func(e string) string {
		if e == "" {
			return "base"
		}
		return e
	},
	"reason": reports.ReasonWords,
	"metric": func(m any) string { return strings.ReplaceAll(fmt.Sprint(m), "_", " ") },
	"words":  func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
	"join":   strings.Join,
	"itoa":   func(n int64) string { return strconv.FormatInt(n, 10) },
	"add":    func(a, b int) int { return a + b },
	"deref":  func(p *int64) int64 { return derefInt(p) },
	"derefDec": func(p *decimal.Decimal) decimal.Decimal {
		if p == nil {
			return decimal.Zero
		}
		return *p
	},
	"dur":        duration,
	"condTarget": condTarget,
	// share is what a partner keeps of the revenue under a margin.
	"share": func(margin decimal.Decimal) decimal.Decimal { return decimal.NewFromInt(100).Sub(margin) },
	"payoutRate": func(r pricing.PayoutRate, currency string) string {
		return rateWords(string(r.Type), r.Amount, r.Percent, currency)
	},
	"revenueRate": func(r pricing.RevenueRate, currency string) string {
		return rateWords(string(r.Type), r.Amount, r.Percent, currency)
	},
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
}

func derefInt(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func checked(v string) bool { return v == "on" || v == "true" || v == "1" }

// duration writes a duration as a person reads it: "320 ms", "1.4 s",
// "1 minute", "1 hour".
func duration(d any) string {
	var x time.Duration
	switch d := d.(type) {
	case time.Duration:
		x = d
	case *time.Duration:
		if d == nil {
			return "—"
		}
		x = *d
	default:
		return fmt.Sprint(d)
	}
	switch {
	case x < time.Second:
		return fmt.Sprintf("%d ms", x.Milliseconds())
	case x < time.Minute:
		return fmt.Sprintf("%.1f s", x.Seconds())
	case x < time.Hour:
		n := int(x.Minutes())
		return fmt.Sprintf("%d %s", n, map[bool]string{true: "minute", false: "minutes"}[n == 1])
	}
	n := int(x.Hours())
	return fmt.Sprintf("%d %s", n, map[bool]string{true: "hour", false: "hours"}[n == 1])
}

// operators are the condition operators as signs.
var operators = map[customervalue.Operator]string{
	customervalue.OpEq: "=", customervalue.OpNe: "≠", customervalue.OpGt: ">", customervalue.OpGte: "≥",
	customervalue.OpLt: "<", customervalue.OpLte: "≤", customervalue.OpIn: "one of", customervalue.OpBetween: "between",
}

// condTarget writes what condition i of a rule asks for: "> 200",
// "one of EU1, EU2", "between 1 and 5".
func condTarget(r customervalue.Rule, i int) string {
	if i < 0 || i >= len(r.Conditions) {
		return "?"
	}
	c := r.Conditions[i]
	op := operators[c.Operator]
	switch c.Operator {
	case customervalue.OpIn:
		return op + " " + strings.Join(c.Values, ", ")
	case customervalue.OpBetween:
		lo, hi := "?", "?"
		if c.Min != nil {
			lo = c.Min.String()
		}
		if c.Max != nil {
			hi = c.Max.String()
		}
		return op + " " + lo + " and " + hi
	}
	return op + " " + c.Value
}
