package reports

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/store"
)

// ConversionRow is a row of the conversion report: a conversion with the
// names of its advertiser, offer and partner, its margin and the rules that
// touched it.
type ConversionRow struct {
	store.Conversion
	AdvertiserName string          `json:"advertiser_name"`
	OfferName      string          `json:"offer_name"`
	PartnerName    string          `json:"partner_name"`
	Margin         decimal.Decimal `json:"margin"`
	Rules          []string        `json:"rules"`
}

// ConversionPage is a page of the conversion report and, when asked for,
// the totals of every conversion the filter selects.
type ConversionPage struct {
	Rows []ConversionRow `json:"items"`
	// NextCursor is the after of the next page; 0 on the last one.
	NextCursor int64                   `json:"-"`
	Totals     []store.ConversionTotal `json:"totals,omitempty"`
}

// Conversions reads one page of the report: at most f.Limit rows after
// f.After, and with totals the sums over the whole filter.
func (s *Service) Conversions(ctx context.Context, f store.ConversionFilter, totals bool) (ConversionPage, error) {
	limit := f.Limit
	f.Limit++
	cs, err := s.store.ListConversions(ctx, f)
	if err != nil {
		return ConversionPage{}, err
	}
	var page ConversionPage
	if len(cs) > limit {
		cs = cs[:limit]
		page.NextCursor = cs[limit-1].ID
	}
	if page.Rows, err = s.rows(ctx, cs); err != nil {
		return ConversionPage{}, err
	}
	if totals {
		if page.Totals, err = s.store.ConversionTotals(ctx, f); err != nil {
			return ConversionPage{}, err
		}
	}
	return page, nil
}

// rows names the conversions' advertisers, offers and partners.
func (s *Service) rows(ctx context.Context, cs []store.Conversion) ([]ConversionRow, error) {
	var advertisers, offers, partners []int64
	for _, c := range cs {
		advertisers, offers, partners = append(advertisers, c.AdvertiserID), append(offers, c.OfferID), append(partners, c.PartnerID)
	}
	names, err := s.store.NamesOf(ctx, advertisers, offers, partners, nil)
	if err != nil {
		return nil, err
	}
	rows := make([]ConversionRow, len(cs))
	for i, c := range cs {
		rows[i] = ConversionRow{Conversion: c, AdvertiserName: names.Advertisers[c.AdvertiserID], OfferName: names.Offers[c.OfferID],
			PartnerName: names.Partners[c.PartnerID], Margin: c.Revenue.Sub(c.Payout), Rules: c.RuleNames()}
		if rows[i].Rules == nil {
			rows[i].Rules = []string{}
		}
	}
	return rows, nil
}

// ConversionColumns are the columns of the console's conversion report, in
// the order it shows them and its CSV writes them.
var ConversionColumns = []string{"Conversion", "Occurred", "Advertiser", "Offer", "Partner", "Event", "User",
	"Status", "Rejection reason", "Currency", "Sale amount", "Payout", "Revenue", "Margin", "Rules"}

// Cells returns the row's cells under ConversionColumns, times in loc.
func (r ConversionRow) Cells(loc *time.Location) []string {
	event := r.Event
	if event == "" {
		event = "base"
	}
	return []string{strconv.FormatInt(r.ID, 10), r.OccurredAt.In(loc).Format("2006-01-02 15:04:05"), r.AdvertiserName,
		r.OfferName, r.PartnerName, event, r.UserID, r.Status, r.RejectionReason, r.Currency,
		r.SaleAmount.String(), r.Payout.String(), r.Revenue.String(), r.Margin.String(), strings.Join(r.Rules, "; ")}
}

// exportPage is how many conversions an export reads at a time.
const exportPage = 1000

// ExportConversions writes every conversion f selects, its cursor and
// limit aside, as CSV under ConversionColumns, a page at a time.
func (s *Service) ExportConversions(ctx context.Context, w io.Writer, f store.ConversionFilter, loc *time.Location) error {
	cw := NewCSVWriter(w)
	if err := cw.Write(ConversionColumns); err != nil {
		return fmt.Errorf("export conversions: %w", err)
	}
	f.After, f.Limit = 0, exportPage
	for {
		page, err := s.Conversions(ctx, f, false)
		if err != nil {
			return fmt.Errorf("export conversions: %w", err)
		}
		for _, r := range page.Rows {
			if err := cw.Write(r.Cells(loc)); err != nil {
				return fmt.Errorf("export conversions: %w", err)
			}
		}
		if page.NextCursor == 0 {
			break
		}
		f.After = page.NextCursor
	}
	if err := cw.Flush(); err != nil {
		return fmt.Errorf("export conversions: %w", err)
	}
	return nil
}

// ConversionTotals sums every conversion f selects, per currency.
func (s *Service) ConversionTotals(ctx context.Context, f store.ConversionFilter) ([]store.ConversionTotal, error) {
	return s.store.ConversionTotals(ctx, f)
}
