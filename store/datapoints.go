package store

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// Data point types.
const (
	DataPointText   = "text"
	DataPointNumber = "number"
)

// DataPoint is a postback parameter captured on conversions, typed.
type DataPoint struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Identifier string    `json:"identifier"`
	Type       string    `json:"type"`
	Active     bool      `json:"active"`
	CreatedAt  time.Time `json:"created_at"`
}

var identifierPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ActiveDataPoints lists the data points postbacks are read for.
func (s *Store) ActiveDataPoints(ctx context.Context) ([]DataPoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, identifier, type, active, created_at FROM data_points WHERE active ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list data points: %w", err)
	}
	dps, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DataPoint])
	if err != nil {
		return nil, fmt.Errorf("list data points: %w", err)
	}
	return dps, nil
}

// CreateDataPoint stores a data point. Identifiers are unique.
func (s *Store) CreateDataPoint(ctx context.Context, name, identifier, typ string) (DataPoint, error) {
	var p Problems
	if name == "" {
		p.Add("name", "is required")
	}
	if !identifierPattern.MatchString(identifier) {
		p.Add("identifier", "must be lower-case letters, digits and underscores, starting with a letter")
	}
	if typ != DataPointText && typ != DataPointNumber {
		p.Add("type", "must be text or number")
	}
	if err := p.Err(); err != nil {
		return DataPoint{}, err
	}
	rows, err := s.pool.Query(ctx, `INSERT INTO data_points (name, identifier, type) VALUES ($1, $2, $3)
		RETURNING id, name, identifier, type, active, created_at`, name, identifier, typ)
	if err != nil {
		return DataPoint{}, fmt.Errorf("create data point: %w", err)
	}
	dp, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[DataPoint])
	if isUniqueViolation(err, "") {
		return DataPoint{}, Invalid("identifier", "%q is taken", identifier)
	}
	if err != nil {
		return DataPoint{}, fmt.Errorf("create data point: %w", err)
	}
	return dp, nil
}
