package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/workflows"
)

// LoadCustomer returns the customer's saved workflow state, nil when there
// is none.
func (a *Activities) LoadCustomer(ctx context.Context, advertiserID int64, userID string) (*workflows.CustomerState, error) {
	raw, err := a.store.CustomerSnapshot(ctx, advertiserID, userID)
	if err != nil || raw == nil {
		return nil, err
	}
	var s workflows.CustomerState
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("decode customer snapshot %d/%s: %w", advertiserID, userID, err)
	}
	return &s, nil
}

// RecordCustomer writes Customer Value outcomes as ledger lines and saves the
// customer's state, in one transaction; writing the same record twice
// changes nothing more.
func (a *Activities) RecordCustomer(ctx context.Context, r workflows.CustomerRecord) error {
	outcomes := make([]store.ValueOutcome, 0, len(r.Outcomes))
	for _, o := range r.Outcomes {
		v := store.ValueOutcome{RuleID: o.RuleID, RuleName: o.RuleName, ConversionID: o.ConversionID,
			Override: o.Kind == customervalue.KindOverride, Payout: o.Payout, Key: o.Key}
		if o.Revenue != nil {
			v.Revenue = decimal.NewNullDecimal(*o.Revenue)
		}
		outcomes = append(outcomes, v)
	}
	return a.store.RecordCustomer(ctx, r.State.AdvertiserID, r.State.UserID, outcomes, r.Evaluated, r.State)
}

// valueFacts is what the Customer Value rules read of a priced conversion:
// its layer 1–3 amounts and its data points.
func valueFacts(c store.Conversion, record pricing.Record) *customervalue.Conversion {
	data := make(map[string]string, len(c.Data))
	for k, v := range c.Data {
		data[k] = fmt.Sprint(v)
	}
	return &customervalue.Conversion{
		ID: c.ID, PartnerID: c.PartnerID, OfferID: c.OfferID, AdvertiserID: c.AdvertiserID, Event: c.Event,
		At: c.OccurredAt, Currency: c.Currency, SaleAmount: c.SaleAmount,
		Revenue: record.Explanation.Revenue, Payout: record.Explanation.Payout, Data: data,
	}
}
