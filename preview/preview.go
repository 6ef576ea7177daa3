package preview

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// MaxConversions is the most conversions one preview replays, and the
// default.
const MaxConversions = 10_000

// DefaultExamples is how many example conversions a result shows.
const DefaultExamples = 5

// Request is one preview: the draft and the conversions to replay.
type Request struct {
	// From and To bound the conversions' own timestamps, [From, To).
	From, To time.Time
	// MaxConversions caps the replay (0: MaxConversions, at most that).
	MaxConversions int
	// Examples is how many changed conversions to show (0: DefaultExamples).
	Examples int
	// The draft: one of the two. Its ID is 0 for a new rule, or the saved
	// rule it replaces (an edit, or a paused rule previewed as active); it
	// is validated by the caller (the store's checks).
	Value  *customervalue.Rule
	Tiered *tiered.Rule
	// Now is the clock of end-of-cycle outcomes and a new draft's creation
	// time; zero: time.Now.
	Now time.Time
}

// Validate returns every problem with the request's bounds at once.
func (r Request) Validate() error {
	var p store.Problems
	if r.From.IsZero() {
		p.Add("from", "is required: the first day of the conversions to replay")
	}
	if !r.To.IsZero() && !r.To.After(r.From) {
		p.Add("to", "must be after from")
	}
	if r.MaxConversions < 0 || r.MaxConversions > MaxConversions {
		p.Add("max_conversions", "must be between 1 and %d", MaxConversions)
	}
	if r.Examples < 0 || r.Examples > 50 {
		p.Add("examples", "must be between 0 and 50")
	}
	if (r.Value == nil) == (r.Tiered == nil) {
		p.Add("rule", "is required: a Customer Value or a Tiered Commissions rule")
	}
	return p.Err()
}

// Progress is how far a preview got: reading the conversions, then
// replaying them twice (without and with the draft).
type Progress struct {
	Phase string `json:"phase"` // reading, replaying, done
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// Result is what the draft would have changed.
type Result struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// RuleID and RuleName name the draft (RuleID 0: not saved yet).
	RuleID   int64  `json:"rule_id"`
	RuleName string `json:"rule_name"`
	// Conversions is how many were replayed; Reversed how many reversed
	// ones were left out; Truncated whether MaxConversions cut the range,
	// Through the pricing time of the last one replayed.
	Conversions int        `json:"conversions"`
	Reversed    int        `json:"reversed"`
	Truncated   bool       `json:"truncated"`
	Through     *time.Time `json:"through,omitempty"`
	// Changed is how many conversions the draft changes (their payout or
	// revenue with the draft differs from the replay without it).
	Changed int `json:"changed"`
	// Totals are per currency, Partners per partner and currency, those
	// whose payout the draft changes or that differ from the ledger first.
	Totals   []Total        `json:"totals"`
	Partners []PartnerTotal `json:"partners"`
	// Drift counts the conversions whose replay without the draft already
	// differs from the ledger: the other rules changed since they were
	// priced (or their period began before From).
	Drift    Drift     `json:"drift"`
	Examples []Example `json:"examples"`
	// ElapsedMS is how long the preview took.
	ElapsedMS int64 `json:"elapsed_ms"`
}

// Total sums one currency: what the ledger holds, the replay without the
// draft (Baseline) and with it (Preview); Difference is Preview − Ledger,
// DraftEffect Preview − Baseline.
type Total struct {
	Currency        string          `json:"currency"`
	Conversions     int             `json:"conversions"`
	LedgerPayout    decimal.Decimal `json:"ledger_payout"`
	BaselinePayout  decimal.Decimal `json:"baseline_payout"`
	PreviewPayout   decimal.Decimal `json:"preview_payout"`
	Difference      decimal.Decimal `json:"difference"`
	DraftEffect     decimal.Decimal `json:"draft_effect"`
	LedgerRevenue   decimal.Decimal `json:"ledger_revenue"`
	PreviewRevenue  decimal.Decimal `json:"preview_revenue"`
	BaselineRevenue decimal.Decimal `json:"baseline_revenue"`
}

// PartnerTotal is one partner's payout in one currency.
type PartnerTotal struct {
	PartnerID      int64           `json:"partner_id"`
	PartnerName    string          `json:"partner_name"`
	Currency       string          `json:"currency"`
	Conversions    int             `json:"conversions"`
	Changed        int             `json:"changed"`
	LedgerPayout   decimal.Decimal `json:"ledger_payout"`
	BaselinePayout decimal.Decimal `json:"baseline_payout"`
	PreviewPayout  decimal.Decimal `json:"preview_payout"`
	Difference     decimal.Decimal `json:"difference"`
	DraftEffect    decimal.Decimal `json:"draft_effect"`
}

// Drift is the replay without the draft against the ledger.
type Drift struct {
	Conversions int `json:"conversions"`
	// Payout is Baseline − Ledger per currency.
	Payout map[string]decimal.Decimal `json:"payout,omitempty"`
}

// Example is one conversion the draft changes, with why.
type Example struct {
	ConversionID   int64           `json:"conversion_id"`
	PartnerID      int64           `json:"partner_id"`
	OfferID        int64           `json:"offer_id"`
	Event          string          `json:"event,omitempty"`
	UserID         string          `json:"user_id,omitempty"`
	OccurredAt     time.Time       `json:"occurred_at"`
	Currency       string          `json:"currency"`
	LedgerPayout   decimal.Decimal `json:"ledger_payout"`
	BaselinePayout decimal.Decimal `json:"baseline_payout"`
	PreviewPayout  decimal.Decimal `json:"preview_payout"`
	// Why says what the tiered and Customer Value layers did with the
	// draft; Before the same without it.
	Why    []string `json:"why"`
	Before []string `json:"before,omitempty"`
}

// Service runs previews on a network's stored conversions.
type Service struct {
	store *store.Store
}

// New returns the previews of st.
func New(st *store.Store) *Service { return &Service{store: st} }

// Run previews the request's draft, reporting its progress to progress
// (nil: none). It stops with ctx's error when ctx ends.
func (s *Service) Run(ctx context.Context, req Request, progress func(Progress)) (Result, error) {
	started := time.Now()
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	if req.Now.IsZero() {
		req.Now = started
	}
	if req.To.IsZero() {
		req.To = req.Now
	}
	if req.MaxConversions == 0 {
		req.MaxConversions = MaxConversions
	}
	if req.Examples == 0 {
		req.Examples = DefaultExamples
	}
	report := func(phase string, done, total int) {
		if progress != nil {
			progress(Progress{Phase: phase, Done: done, Total: total})
		}
	}

	loc, err := s.store.NetworkTimeZone(ctx)
	if err != nil {
		return Result{}, err
	}
	baseline, draft, name, id, err := s.rules(ctx, req, loc)
	if err != nil {
		return Result{}, err
	}
	filter := store.PreviewFilter{From: req.From, To: req.To, Limit: req.MaxConversions}
	count, err := s.store.CountPreviewConversions(ctx, filter)
	if err != nil {
		return Result{}, err
	}
	res := Result{From: req.From, To: req.To, RuleID: id, RuleName: name, Truncated: count > req.MaxConversions}
	total := min(count, req.MaxConversions)
	report("reading", 0, total)
	convs := make([]store.PreviewConversion, 0, total)
	err = s.store.EachPreviewConversion(ctx, filter, func(c store.PreviewConversion) error {
		convs = append(convs, c)
		if len(convs)%checkEvery == 0 {
			report("reading", len(convs), total)
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("preview: %w", err)
	}
	total = len(convs)

	report("replaying", 0, 2*total)
	before, err := Replay(ctx, convs, baseline, loc, req.Now, func(done int) { report("replaying", done, 2*total) })
	if err != nil {
		return Result{}, err
	}
	after, err := Replay(ctx, convs, draft, loc, req.Now, func(done int) { report("replaying", total+done, 2*total) })
	if err != nil {
		return Result{}, err
	}
	s.compare(&res, convs, before, after, req.Examples)
	if err := s.name(ctx, &res); err != nil {
		return Result{}, err
	}
	res.ElapsedMS = time.Since(started).Milliseconds()
	report("done", 2*total, 2*total)
	return res, nil
}

// rules returns the rule sets of the two replays: the network's active
// rules, and the same with the draft in (replacing its saved version).
func (s *Service) rules(ctx context.Context, req Request, loc *time.Location) (baseline, draft Rules, name string, id int64, err error) {
	if baseline.Tiered, err = s.store.TieredRules(ctx, true); err != nil {
		return
	}
	if baseline.Value, err = s.store.ActiveCustomerValueRules(ctx); err != nil {
		return
	}
	draft = Rules{Tiered: slices.Clone(baseline.Tiered), Value: slices.Clone(baseline.Value)}
	switch {
	case req.Tiered != nil:
		r := *req.Tiered
		name, id = r.Name, r.ID
		r.Active = true
		all, e := s.store.TieredRules(ctx, false)
		if e != nil {
			return baseline, draft, "", 0, e
		}
		if r.ID == 0 {
			r.ID, r.CreatedAt = nextTieredID(all), req.Now
		} else if i := slices.IndexFunc(all, func(x tiered.Rule) bool { return x.ID == r.ID }); i >= 0 {
			r.CreatedAt = all[i].CreatedAt
		}
		if start, _, e := r.Window(loc); e == nil && start.After(req.From) {
			r.StartDate = req.From.In(loc).Format(tiered.DateLayout)
		}
		draft.Tiered = slices.DeleteFunc(draft.Tiered, func(x tiered.Rule) bool { return x.ID == r.ID })
		draft.Tiered = append(draft.Tiered, r)
	case req.Value != nil:
		r := *req.Value
		name, id = r.Name, r.ID
		r.Active = true
		if r.ID == 0 {
			all, e := s.store.CustomerValueRules(ctx, store.CustomerValueRuleFilter{})
			if e != nil {
				return baseline, draft, "", 0, e
			}
			for _, x := range all {
				r.ID = max(r.ID, x.ID)
			}
			r.ID++
			r.CreatedAt = req.Now
		} else if saved, e := s.store.CustomerValueRule(ctx, r.ID); e == nil {
			r.CreatedAt = saved.CreatedAt
		}
		if r.StartsAt.IsZero() || r.StartsAt.After(req.From) {
			r.StartsAt = req.From
		}
		draft.Value = slices.DeleteFunc(draft.Value, func(x customervalue.Rule) bool { return x.ID == r.ID })
		draft.Value = append(draft.Value, r)
	}
	return baseline, draft, name, id, nil
}

func nextTieredID(rules []tiered.Rule) int64 {
	var id int64
	for _, r := range rules {
		id = max(id, r.ID)
	}
	return id + 1
}

// compare sums the two replays against the ledger and picks the examples.
func (s *Service) compare(res *Result, convs []store.PreviewConversion, before, after []Priced, examples int) {
	type partnerKey struct {
		partner  int64
		currency string
	}
	totals := map[string]*Total{}
	partners := map[partnerKey]*PartnerTotal{}
	var changed []int
	for i := range convs {
		c := &convs[i]
		if c.Reversed {
			res.Reversed++
			continue
		}
		res.Conversions++
		t := totals[c.Currency]
		if t == nil {
			t = &Total{Currency: c.Currency}
			totals[c.Currency] = t
		}
		b, a := before[i], after[i]
		t.Conversions++
		t.LedgerPayout, t.BaselinePayout, t.PreviewPayout = t.LedgerPayout.Add(c.Payout), t.BaselinePayout.Add(b.Payout), t.PreviewPayout.Add(a.Payout)
		t.LedgerRevenue, t.BaselineRevenue, t.PreviewRevenue = t.LedgerRevenue.Add(c.Revenue), t.BaselineRevenue.Add(b.Revenue), t.PreviewRevenue.Add(a.Revenue)
		pk := partnerKey{c.PartnerID, c.Currency}
		pt := partners[pk]
		if pt == nil {
			pt = &PartnerTotal{PartnerID: c.PartnerID, Currency: c.Currency}
			partners[pk] = pt
		}
		pt.Conversions++
		pt.LedgerPayout, pt.BaselinePayout, pt.PreviewPayout = pt.LedgerPayout.Add(c.Payout), pt.BaselinePayout.Add(b.Payout), pt.PreviewPayout.Add(a.Payout)
		if !a.Payout.Equal(b.Payout) || !a.Revenue.Equal(b.Revenue) {
			res.Changed++
			pt.Changed++
			changed = append(changed, i)
		}
		if !b.Payout.Equal(c.Payout) {
			res.Drift.Conversions++
			if res.Drift.Payout == nil {
				res.Drift.Payout = map[string]decimal.Decimal{}
			}
			res.Drift.Payout[c.Currency] = res.Drift.Payout[c.Currency].Add(b.Payout.Sub(c.Payout))
		}
		res.Through = &c.PricedAt
	}
	for _, t := range totals {
		t.Difference, t.DraftEffect = t.PreviewPayout.Sub(t.LedgerPayout), t.PreviewPayout.Sub(t.BaselinePayout)
		res.Totals = append(res.Totals, *t)
	}
	slices.SortFunc(res.Totals, func(a, b Total) int { return cmp.Compare(a.Currency, b.Currency) })
	for _, pt := range partners {
		pt.Difference, pt.DraftEffect = pt.PreviewPayout.Sub(pt.LedgerPayout), pt.PreviewPayout.Sub(pt.BaselinePayout)
		res.Partners = append(res.Partners, *pt)
	}
	// The partners the draft changes first, by how much, then the rest.
	slices.SortFunc(res.Partners, func(a, b PartnerTotal) int {
		return cmp.Or(
			-cmp.Compare(a.DraftEffect.Abs().Cmp(decimal.Zero), b.DraftEffect.Abs().Cmp(decimal.Zero)),
			-a.DraftEffect.Abs().Cmp(b.DraftEffect.Abs()),
			-a.Difference.Abs().Cmp(b.Difference.Abs()),
			cmp.Compare(a.PartnerID, b.PartnerID), cmp.Compare(a.Currency, b.Currency))
	})
	// The examples: the conversions the draft changes most, then the
	// earliest.
	slices.SortStableFunc(changed, func(x, y int) int {
		dx, dy := after[x].Payout.Sub(before[x].Payout).Abs(), after[y].Payout.Sub(before[y].Payout).Abs()
		return -dx.Cmp(dy)
	})
	res.Examples = []Example{}
	for _, i := range changed[:min(examples, len(changed))] {
		c := &convs[i]
		res.Examples = append(res.Examples, Example{
			ConversionID: c.ID, PartnerID: c.PartnerID, OfferID: c.OfferID, Event: c.Event, UserID: c.UserID,
			OccurredAt: c.OccurredAt, Currency: c.Currency, LedgerPayout: c.Payout,
			BaselinePayout: before[i].Payout, PreviewPayout: after[i].Payout,
			Why: orEmpty(after[i].Why), Before: before[i].Why,
		})
	}
	if res.Partners == nil {
		res.Partners = []PartnerTotal{}
	}
	if res.Totals == nil {
		res.Totals = []Total{}
	}
}

// name fills in the partners' names.
func (s *Service) name(ctx context.Context, res *Result) error {
	ids := make([]int64, len(res.Partners))
	for i, p := range res.Partners {
		ids[i] = p.PartnerID
	}
	names, err := s.store.NamesOf(ctx, nil, nil, ids, nil)
	if err != nil {
		return err
	}
	for i := range res.Partners {
		res.Partners[i].PartnerName = names.Partners[res.Partners[i].PartnerID]
	}
	return nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
