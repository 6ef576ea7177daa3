package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tierwise/tierwise/limits"
)

// Page asks a list for the rows with an id (the cursor) after After, at most
// Limit of them, in id order. Limit 0 means no limit.
type Page struct {
	After int64
	Limit int
}

// limit is the SQL LIMIT of p: NULL (all rows) when p has none.
func (p Page) limit() *int {
	if p.Limit <= 0 {
		return nil
	}
	return &p.Limit
}

// dbtx is what the network-setup queries run on: the pool or a transaction.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// maxNameLength bounds names, descriptions excepted.
const maxNameLength = 200

var (
	currencyPattern  = regexp.MustCompile(`^[A-Z]{3}$`)
	eventNamePattern = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// checkName requires a non-blank name of at most maxNameLength characters.
func checkName(p *Problems, field, name string) {
	switch {
	case strings.TrimSpace(name) == "":
		p.Add(field, "is required")
	default:
		checkText(p, field, name, maxNameLength, false)
	}
}

// checkOneOf requires value to be one of allowed.
func checkOneOf(p *Problems, field, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		p.Add(field, "must be one of %s, got %q", strings.Join(allowed, ", "), value)
	}
}

// checkCurrency requires an ISO 4217-style code: three upper-case letters.
func checkCurrency(p *Problems, field, code string) {
	if !currencyPattern.MatchString(code) {
		p.Add(field, "must be three upper-case letters (an ISO 4217 code such as USD), got %q", code)
	}
}

// checkEventName requires a lower-case event name; "" is the base conversion.
func checkEventName(p *Problems, field, event string) {
	if event != "" && (!eventNamePattern.MatchString(event) || len(event) > 64) {
		p.Add(field, "must be empty (the base conversion) or 1–64 of a–z, 0–9 and _, got %q", event)
	}
}

// checkID requires a positive id.
func checkID(p *Problems, field string, id int64) {
	if id <= 0 {
		p.Add(field, "is required (a positive id)")
	}
}

// checkDestinationURL requires an absolute http(s) URL of at most 2,000
// characters. Click macros such as {transaction_id} may appear in its path
// and query only: in the host they would let a click choose where it
// redirects (an open redirect).
func checkDestinationURL(p *Problems, field, raw string) {
	const marker = "tierwise-macro"
	if raw == "" {
		p.Add(field, "is required")
		return
	}
	if err := limits.Text(raw, 2000, false); err != nil {
		p.Add(field, "%v", err)
		return
	}
	u, err := url.Parse(clickMacros.Replace(raw, func(string) string { return marker }))
	switch {
	case err != nil:
		p.Add(field, "is not a valid URL: %v", errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https":
		p.Add(field, "must be an absolute http or https URL")
	case u.Host == "" || u.Opaque != "":
		p.Add(field, "must name a host")
	case strings.Contains(u.Host, marker), u.User != nil && strings.Contains(u.User.String(), marker):
		p.Add(field, "may carry click macros only in its path and query, not in its host")
	case strings.Contains(u.Fragment, marker):
		p.Add(field, "may carry click macros only in its path and query, not in its fragment")
	case strings.ContainsAny(u.Host, "{}"):
		p.Add(field, "has an unknown macro in its host")
	}
}

// idList formats ids for messages: "3, 5, 8".
func idList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return strings.Join(parts, ", ")
}

// missingIDs returns the ids of table (partners, offers, ...) that do not
// exist, in id order.
func missingIDs(ctx context.Context, q dbtx, table string, ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT DISTINCT want.id FROM unnest($1::bigint[]) AS want (id)
		WHERE NOT EXISTS (SELECT 1 FROM `+table+` t WHERE t.id = want.id) ORDER BY want.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("check %s ids: %w", table, err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("check %s ids: %w", table, err)
	}
	return missing, nil
}

// exists reports whether table has a row with id.
func exists(ctx context.Context, q dbtx, table string, id int64) (bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("check %s %d: %w", table, id, err)
	}
	return ok, nil
}
