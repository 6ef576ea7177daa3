package store

import (
	"context"
	"fmt"
	"time"
	_ "time/tzdata" // time zones validate the same on every machine, with or without a system zoneinfo
)

// Network is the one row of settings that every period and amount depends on.
type Network struct {
	// TimeZone is an IANA zone name; periods and cycles are calendar periods
	// in it.
	TimeZone string `json:"time_zone"`
	// Currency is the reporting currency and the default currency of new
	// offers.
	Currency  string    `json:"currency"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NetworkInput replaces the network settings.
type NetworkInput struct {
	TimeZone string `json:"time_zone"`
	Currency string `json:"currency"`
}

// Validate returns every problem with the input at once.
func (in NetworkInput) Validate() error {
	var p Problems
	switch in.TimeZone {
	case "":
		p.Add("time_zone", "is required (an IANA zone such as Europe/Berlin or UTC)")
	case "Local":
		p.Add("time_zone", "must be an IANA zone name, not Local")
	default:
		if _, err := time.LoadLocation(in.TimeZone); err != nil {
			p.Add("time_zone", "%q is not an IANA time zone", in.TimeZone)
		}
	}
	checkCurrency(&p, "currency", in.Currency)
	return p.Err()
}

// Network returns the network settings.
func (s *Store) Network(ctx context.Context) (Network, error) {
	return network(ctx, s.pool)
}

func network(ctx context.Context, q dbtx) (Network, error) {
	var n Network
	if err := q.QueryRow(ctx, `SELECT time_zone, currency, updated_at FROM network`).Scan(&n.TimeZone, &n.Currency, &n.UpdatedAt); err != nil {
		return Network{}, fmt.Errorf("read network settings: %w", err)
	}
	n.UpdatedAt = n.UpdatedAt.UTC()
	return n, nil
}

// UpdateNetwork replaces the network settings. Existing offers keep their
// currency; the new one is the default of offers created afterwards.
func (s *Store) UpdateNetwork(ctx context.Context, in NetworkInput) (Network, error) {
	if err := in.Validate(); err != nil {
		return Network{}, err
	}
	var n Network
	err := s.pool.QueryRow(ctx, `UPDATE network SET time_zone = $1, currency = $2, updated_at = now()
		RETURNING time_zone, currency, updated_at`, in.TimeZone, in.Currency).Scan(&n.TimeZone, &n.Currency, &n.UpdatedAt)
	if err != nil {
		return Network{}, fmt.Errorf("update network settings: %w", err)
	}
	n.UpdatedAt = n.UpdatedAt.UTC()
	return n, nil
}
