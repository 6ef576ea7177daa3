package reports

import (
	"context"
	"time"

	"github.com/tierwise/tierwise/store"
)

// Overview is the console's home page: today's and this month's
// conversions and money, how far pricing is behind, and the latest band
// changes.
type Overview struct {
	// Today and Month run from the start of the day and of the month in
	// the network's time zone to now.
	TodayFrom time.Time
	MonthFrom time.Time
	Today     []store.ConversionTotal
	Month     []store.ConversionTotal
	Pipeline  store.Pipeline
	Bands     []BandChange
}

// BandChange is a cycle that reached a band, by name.
type BandChange struct {
	store.BandChange
	RuleName    string
	BandName    string
	PartnerName string
	OfferName   string
}

// overviewBands is how many band changes the overview lists.
const overviewBands = 8

// Overview builds the overview at now.
func (s *Service) Overview(ctx context.Context, now time.Time) (Overview, error) {
	loc, err := s.store.NetworkTimeZone(ctx)
	if err != nil {
		return Overview{}, err
	}
	local := now.In(loc)
	o := Overview{
		TodayFrom: time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc),
		MonthFrom: time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, loc),
	}
	if o.Today, err = s.store.ConversionTotals(ctx, store.ConversionFilter{From: o.TodayFrom, To: now}); err != nil {
		return Overview{}, err
	}
	if o.Month, err = s.store.ConversionTotals(ctx, store.ConversionFilter{From: o.MonthFrom, To: now}); err != nil {
		return Overview{}, err
	}
	if o.Pipeline, err = s.store.ConversionPipeline(ctx, now); err != nil {
		return Overview{}, err
	}
	changes, err := s.store.BandChanges(ctx, overviewBands)
	if err != nil {
		return Overview{}, err
	}
	rules, err := s.tieredRules(ctx)
	if err != nil {
		return Overview{}, err
	}
	var partners, offers []int64
	for _, c := range changes {
		partners, offers = append(partners, c.PartnerID), append(offers, c.OfferID)
	}
	names, err := s.store.NamesOf(ctx, nil, offers, partners, nil)
	if err != nil {
		return Overview{}, err
	}
	for _, c := range changes {
		r := rules[c.RuleID]
		o.Bands = append(o.Bands, BandChange{BandChange: c, RuleName: r.Name, BandName: BandLabel(r, c.Band),
			PartnerName: names.Partners[c.PartnerID], OfferName: names.Offers[c.OfferID]})
	}
	return o, nil
}
