package reports

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/tierwise/tierwise/store"
)

// PayoutRun is a payout run with what it pays each partner, per currency.
type PayoutRun struct {
	store.PayoutRun
	Partners     []PartnerTotal
	PartnerNames map[int64]string
}

// PartnerTotal is a partner's total in a run, by name.
type PartnerTotal struct {
	store.PartnerTotal
	PartnerName string
}

// PayoutRun reads a run with its totals per partner.
func (s *Service) PayoutRun(ctx context.Context, id int64) (PayoutRun, error) {
	run, err := s.store.PayoutRun(ctx, id)
	if err != nil {
		return PayoutRun{}, err
	}
	totals, err := s.store.PayoutRunTotals(ctx, id)
	if err != nil {
		return PayoutRun{}, err
	}
	var partners []int64
	for _, t := range totals {
		partners = append(partners, t.PartnerID)
	}
	if run.PartnerID != nil {
		partners = append(partners, *run.PartnerID)
	}
	names, err := s.store.NamesOf(ctx, nil, nil, partners, nil)
	if err != nil {
		return PayoutRun{}, err
	}
	out := PayoutRun{PayoutRun: run, PartnerNames: names.Partners}
	for _, t := range totals {
		out.Partners = append(out.Partners, PartnerTotal{PartnerTotal: t, PartnerName: names.Partners[t.PartnerID]})
	}
	return out, nil
}

// PayoutRunColumns are the columns of a payout run's CSV.
var PayoutRunColumns = []string{"Line", "Conversion", "Occurred", "Partner ID", "Partner", "Offer ID", "Event", "Reason", "Currency", "Amount", "Note"}

// ExportPayoutRun writes every line of a run as CSV under
// PayoutRunColumns, times in loc.
func (s *Service) ExportPayoutRun(ctx context.Context, w io.Writer, id int64, loc *time.Location) error {
	cw := NewCSVWriter(w)
	if err := cw.Write(PayoutRunColumns); err != nil {
		return fmt.Errorf("export payout run %d: %w", id, err)
	}
	page := store.Page{Limit: exportPage}
	for {
		lines, err := s.store.PayoutRunLines(ctx, id, page)
		if err != nil {
			return fmt.Errorf("export payout run %d: %w", id, err)
		}
		var partners []int64
		for _, l := range lines {
			partners = append(partners, l.PartnerID)
		}
		names, err := s.store.NamesOf(ctx, nil, nil, partners, nil)
		if err != nil {
			return fmt.Errorf("export payout run %d: %w", id, err)
		}
		for _, l := range lines {
			event := l.Event
			if event == "" {
				event = "base"
			}
			if err := cw.Write([]string{strconv.FormatInt(l.ID, 10), strconv.FormatInt(l.ConversionID, 10),
				l.OccurredAt.In(loc).Format("2006-01-02 15:04:05"), strconv.FormatInt(l.PartnerID, 10), names.Partners[l.PartnerID],
				strconv.FormatInt(l.OfferID, 10), event, l.Reason, l.Currency, l.Amount.String(), l.Note}); err != nil {
				return fmt.Errorf("export payout run %d: %w", id, err)
			}
		}
		if len(lines) < page.Limit {
			break
		}
		page.After = lines[len(lines)-1].ID
	}
	if err := cw.Flush(); err != nil {
		return fmt.Errorf("export payout run %d: %w", id, err)
	}
	return nil
}
