package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tierwise/tierwise/customervalue"
)

// Data point types.
const (
	DataPointText   = "text"
	DataPointNumber = "number"
)

// DataPoint is a postback parameter captured on conversions, typed. Its
// identifier (the parameter name) and type never change; an inactive data
// point is no longer read from postbacks.
type DataPoint struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Identifier string    `json:"identifier"`
	Type       string    `json:"type"`
	Active     bool      `json:"active"`
	CreatedAt  time.Time `json:"created_at"`
}

// Definition is the data point as Customer Value rules see it.
func (d DataPoint) Definition() customervalue.DataPoint {
	return customervalue.DataPoint{Identifier: d.Identifier, Type: customervalue.DataPointType(d.Type)}
}

// DataPointInput is a new data point.
type DataPointInput struct {
	Name       string `json:"name"`
	Identifier string `json:"identifier"`
	Type       string `json:"type"`
}

// Validate returns every problem with the input at once.
func (in DataPointInput) Validate() error {
	var p Problems
	in.check(&p, "")
	return p.Err()
}

// check adds the input's problems, each field named after prefix.
func (in DataPointInput) check(p *Problems, prefix string) {
	checkName(p, prefix+"name", in.Name)
	checkIdentifier(p, prefix+"identifier", in.Identifier)
	checkOneOf(p, prefix+"type", in.Type, DataPointText, DataPointNumber)
}

// DataPointPatch changes a data point's name or whether it is read from
// postbacks. Identifier and type are immutable: they may be sent (a client
// sending back what it read) only with their current values.
type DataPointPatch struct {
	Name       *string `json:"name"`
	Active     *bool   `json:"active"`
	Identifier *string `json:"identifier"`
	Type       *string `json:"type"`
}

// DataPointFilter selects data points; a nil Active selects all.
type DataPointFilter struct {
	Active *bool
	Page
}

var identifierPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// maxIdentifierLength bounds data point identifiers, as event names.
const maxIdentifierLength = 64

// reservedIdentifiers are the postback's own parameters and the built-in
// metrics of Customer Value conditions: a data point named like one would
// read another value than the manager meant.
var reservedIdentifiers = map[string]string{
	"token": "a postback parameter", "transaction_id": "a postback parameter", "offer_id": "a postback parameter",
	"partner_id": "a postback parameter", "user_id": "a postback parameter", "event": "a postback parameter",
	"amount": "a postback parameter", "revenue": "a postback parameter", "order_id": "a postback parameter",
	"status": "a postback parameter", "timestamp": "a postback parameter",
	"adv1": "a postback parameter", "adv2": "a postback parameter", "adv3": "a postback parameter",
	"adv4": "a postback parameter", "adv5": "a postback parameter",
	customervalue.MetricConversionCount: "a built-in metric", customervalue.MetricEventCount: "a built-in metric",
	customervalue.MetricSaleAmount: "a built-in metric", customervalue.MetricPayout: "a built-in metric",
}

// checkIdentifier requires a lower-case identifier that is not reserved.
func checkIdentifier(p *Problems, field, identifier string) {
	switch {
	case identifier == "":
		p.Add(field, "is required")
	case !identifierPattern.MatchString(identifier):
		p.Add(field, "must be lower-case letters, digits and underscores, starting with a letter, got %q", identifier)
	case len(identifier) > maxIdentifierLength:
		p.Add(field, "must be at most %d characters", maxIdentifierLength)
	case reservedIdentifiers[identifier] != "":
		p.Add(field, "%q is %s; choose another identifier", identifier, reservedIdentifiers[identifier])
	}
}

const dataPointColumns = `id, name, identifier, type, active, created_at`

// ActiveDataPoints lists the data points postbacks are read for.
func (s *Store) ActiveDataPoints(ctx context.Context) ([]DataPoint, error) {
	active := true
	return s.DataPoints(ctx, DataPointFilter{Active: &active})
}

// DataPoints lists data points in id order.
func (s *Store) DataPoints(ctx context.Context, f DataPointFilter) ([]DataPoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+dataPointColumns+` FROM data_points
		WHERE id > $1 AND ($2::boolean IS NULL OR active = $2) ORDER BY id LIMIT $3`, f.After, f.Active, f.limit())
	if err != nil {
		return nil, fmt.Errorf("list data points: %w", err)
	}
	dps, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DataPoint])
	if err != nil {
		return nil, fmt.Errorf("list data points: %w", err)
	}
	return dps, nil
}

// DataPoint returns one data point.
func (s *Store) DataPoint(ctx context.Context, id int64) (DataPoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+dataPointColumns+` FROM data_points WHERE id = $1`, id)
	if err != nil {
		return DataPoint{}, fmt.Errorf("read data point %d: %w", id, err)
	}
	dp, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[DataPoint])
	if errors.Is(err, pgx.ErrNoRows) {
		return DataPoint{}, NotFound("data point", id)
	}
	if err != nil {
		return DataPoint{}, fmt.Errorf("read data point %d: %w", id, err)
	}
	return dp, nil
}

// CreateDataPoint stores a data point. Identifiers are unique.
func (s *Store) CreateDataPoint(ctx context.Context, name, identifier, typ string) (DataPoint, error) {
	in := DataPointInput{Name: name, Identifier: identifier, Type: typ}
	if err := in.Validate(); err != nil {
		return DataPoint{}, err
	}
	return insertDataPoint(ctx, s.pool, in, "identifier")
}

// insertDataPoint stores a validated data point; a taken identifier is a
// problem with field.
func insertDataPoint(ctx context.Context, q dbtx, in DataPointInput, field string) (DataPoint, error) {
	rows, err := q.Query(ctx, `INSERT INTO data_points (name, identifier, type) VALUES ($1, $2, $3)
		RETURNING `+dataPointColumns, strings.TrimSpace(in.Name), in.Identifier, in.Type)
	if err != nil {
		return DataPoint{}, fmt.Errorf("create data point: %w", err)
	}
	dp, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[DataPoint])
	if isUniqueViolation(err, "") {
		return DataPoint{}, Invalid(field, "%q is taken by another data point", in.Identifier)
	}
	if err != nil {
		return DataPoint{}, fmt.Errorf("create data point: %w", err)
	}
	return dp, nil
}

// UpdateDataPoint changes a data point's name or active flag. Sending its
// identifier or type with another value is a problem naming the field.
// Deactivating a data point that an active Customer Value rule reads is a
// conflict: the rule would silently stop seeing its values.
func (s *Store) UpdateDataPoint(ctx context.Context, id int64, in DataPointPatch) (DataPoint, error) {
	var out DataPoint
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+dataPointColumns+` FROM data_points WHERE id = $1 FOR UPDATE`, id)
		if err != nil {
			return fmt.Errorf("read data point %d: %w", id, err)
		}
		cur, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[DataPoint])
		if errors.Is(err, pgx.ErrNoRows) {
			return NotFound("data point", id)
		}
		if err != nil {
			return fmt.Errorf("read data point %d: %w", id, err)
		}

		var p Problems
		if in.Name != nil {
			checkName(&p, "name", *in.Name)
		}
		if in.Identifier != nil && *in.Identifier != cur.Identifier {
			p.Add("identifier", "is immutable (it is the postback parameter of data point %d, %q); create a new data point instead", cur.ID, cur.Identifier)
		}
		if in.Type != nil && *in.Type != cur.Type {
			p.Add("type", "is immutable (data point %q is %s); create a new data point instead", cur.Identifier, cur.Type)
		}
		if err := p.Err(); err != nil {
			return err
		}
		if in.Active != nil && !*in.Active && cur.Active {
			if err := deactivatable(ctx, tx, cur.Identifier); err != nil {
				return err
			}
		}
		var name *string
		if in.Name != nil {
			n := strings.TrimSpace(*in.Name)
			name = &n
		}
		rows, err = tx.Query(ctx, `UPDATE data_points SET name = coalesce($2, name), active = coalesce($3, active)
			WHERE id = $1 RETURNING `+dataPointColumns, id, name, in.Active)
		if err != nil {
			return fmt.Errorf("update data point %d: %w", id, err)
		}
		out, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[DataPoint])
		if err != nil {
			return fmt.Errorf("update data point %d: %w", id, err)
		}
		return nil
	})
	return out, err
}

// DeactivateDataPoint stops reading a data point from postbacks; the values
// already captured stay on their conversions. Deactivating an inactive data
// point changes nothing.
func (s *Store) DeactivateDataPoint(ctx context.Context, id int64) (DataPoint, error) {
	inactive := false
	return s.UpdateDataPoint(ctx, id, DataPointPatch{Active: &inactive})
}

// deactivatable returns a conflict when an active Customer Value rule's
// conditions read the data point.
func deactivatable(ctx context.Context, q dbtx, identifier string) error {
	rows, err := q.Query(ctx, `SELECT id FROM customer_value_rules
		WHERE status = 'active' AND definition->'conditions' @> jsonb_build_array(jsonb_build_object('source', $1::text))
		ORDER BY id`, identifier)
	if err != nil {
		return fmt.Errorf("find rules reading data point %q: %w", identifier, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("find rules reading data point %q: %w", identifier, err)
	}
	if len(ids) > 0 {
		return Conflict("data point %q is read by the conditions of active customer value rules %s: pause them first", identifier, idList(ids))
	}
	return nil
}

// allDataPoints lists every data point, active or not, in id order, locked
// against deactivation until the transaction ends when q is one.
func allDataPoints(ctx context.Context, q dbtx, lock bool) ([]DataPoint, error) {
	sql := `SELECT ` + dataPointColumns + ` FROM data_points ORDER BY id`
	if lock {
		sql += ` FOR SHARE`
	}
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("list data points: %w", err)
	}
	dps, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DataPoint])
	if err != nil {
		return nil, fmt.Errorf("list data points: %w", err)
	}
	return dps, nil
}

// definitions returns the data points as Customer Value rules see them.
func definitions(dps []DataPoint) []customervalue.DataPoint {
	out := make([]customervalue.DataPoint, len(dps))
	for i, dp := range dps {
		out[i] = dp.Definition()
	}
	return out
}

// findDataPoint returns the data point with identifier.
func findDataPoint(dps []DataPoint, identifier string) (DataPoint, bool) {
	i := slices.IndexFunc(dps, func(dp DataPoint) bool { return dp.Identifier == identifier })
	if i < 0 {
		return DataPoint{}, false
	}
	return dps[i], true
}
