package reports

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// CycleRow is a commission cycle with its rule and band by name, the
// distance to the next band and the rule's retroactive mode.
type CycleRow struct {
	store.CycleRow
	RuleName  string           `json:"rule_name"`
	RetroMode tiered.RetroMode `json:"retro_mode"`
	BandName  string           `json:"band_name,omitempty"`
	NextBand  *NextBand        `json:"next_band,omitempty"`
}

// NextBand is the band above the cycle's and what it takes to reach it.
type NextBand struct {
	Name  string     `json:"name"`
	Needs []Distance `json:"needs"`
}

// Distance is what a metric must still exceed to reach the next band.
// From is where the way there starts: the metric's lower bound in the
// current band (0 without one), so From → MustExceed is the bar to fill.
type Distance struct {
	Metric        tiered.Metric   `json:"metric"`
	Value         decimal.Decimal `json:"value"`
	From          decimal.Decimal `json:"from"`
	MustExceed    decimal.Decimal `json:"must_exceed"`
	StillToExceed decimal.Decimal `json:"still_to_exceed"`
}

// Reached reports whether the metric is past the next band's bound.
func (d Distance) Reached() bool { return d.Value.GreaterThan(d.MustExceed) }

// CycleFilter selects cycles for the report; After is a cursor from
// CyclePage.NextCursor ("" for the first page).
type CycleFilter struct {
	RuleID, PartnerID, OfferID int64
	After                      string
	Limit                      int
}

// CyclePage is a page of the commission-cycle report.
type CyclePage struct {
	Rows       []CycleRow `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// CommissionCycles reads one page of the commission-cycle report, newest
// period first.
func (s *Service) CommissionCycles(ctx context.Context, f CycleFilter) (CyclePage, error) {
	sf := store.CycleFilter{RuleID: f.RuleID, PartnerID: f.PartnerID, OfferID: f.OfferID, Limit: f.Limit + 1}
	if f.After != "" {
		key, err := ParseCycleCursor(f.After)
		if err != nil {
			return CyclePage{}, err
		}
		sf.After = &key
	}
	rows, err := s.store.CommissionCycles(ctx, sf)
	if err != nil {
		return CyclePage{}, err
	}
	page := CyclePage{Rows: []CycleRow{}}
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		last := rows[f.Limit-1]
		page.NextCursor = CycleCursor(store.CycleKey{RuleID: last.RuleID, PartnerID: last.PartnerID, OfferID: last.OfferID, PeriodStart: last.PeriodStart})
	}
	rules, err := s.tieredRules(ctx)
	if err != nil {
		return CyclePage{}, err
	}
	for _, row := range rows {
		page.Rows = append(page.Rows, cycleRow(row, rules[row.RuleID]))
	}
	return page, nil
}

// tieredRules reads every rule once, by id.
func (s *Service) tieredRules(ctx context.Context) (map[int64]tiered.Rule, error) {
	rules, err := s.store.TieredRules(ctx, false)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]tiered.Rule, len(rules))
	for _, r := range rules {
		byID[r.ID] = r
	}
	return byID, nil
}

// cycleRow names the cycle's band and measures the way to the next one.
func cycleRow(row store.CycleRow, rule tiered.Rule) CycleRow {
	out := CycleRow{CycleRow: row, RuleName: rule.Name, RetroMode: rule.RetroMode()}
	if row.Band >= 0 && row.Band < len(rule.Bands) {
		out.BandName = rule.Bands[row.Band].Name
	}
	next := row.Band + 1
	if next >= len(rule.Bands) {
		return out
	}
	nb := &NextBand{Name: rule.Bands[next].Name, Needs: []Distance{}}
	for _, b := range rule.Bands[next].Bounds {
		if b.Min == nil {
			continue
		}
		v := row.Metrics.Value(b.Metric)
		d := Distance{Metric: b.Metric, Value: v, From: decimal.Zero, MustExceed: *b.Min,
			StillToExceed: decimal.Max(decimal.Zero, b.Min.Sub(v))}
		if row.Band >= 0 && row.Band < len(rule.Bands) {
			for _, cur := range rule.Bands[row.Band].Bounds {
				if cur.Metric == b.Metric && cur.Min != nil {
					d.From = *cur.Min
				}
			}
		}
		nb.Needs = append(nb.Needs, d)
	}
	out.NextBand = nb
	return out
}

// CycleCursor is the cursor that continues the report after key.
func CycleCursor(key store.CycleKey) string {
	return fmt.Sprintf("%d.%d.%d.%d", key.PeriodStart.UnixMicro(), key.RuleID, key.PartnerID, key.OfferID)
}

// ParseCycleCursor reads a cursor of CycleCursor; anything else is a
// problem with "after".
func ParseCycleCursor(v string) (store.CycleKey, error) {
	parts := strings.Split(v, ".")
	bad := store.Invalid("after", "must be a cursor from next_cursor")
	if len(parts) != 4 {
		return store.CycleKey{}, bad
	}
	var n [4]int64
	for i, p := range parts {
		x, err := strconv.ParseInt(p, 10, 64)
		if err != nil || (i > 0 && x <= 0) {
			return store.CycleKey{}, bad
		}
		n[i] = x
	}
	return store.CycleKey{PeriodStart: time.UnixMicro(n[0]).UTC(), RuleID: n[1], PartnerID: n[2], OfferID: n[3]}, nil
}
