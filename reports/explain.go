package reports

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// Explanation says, in words and numbers, why a conversion pays what it
// pays: each layer from the offer default up, with its source and formula,
// then what changed the amounts after pricing (refunds, retroactive
// re-pricing, reversals, manual edits), and what of it is paid.
type Explanation struct {
	Currency string
	Payout   decimal.Decimal
	Revenue  decimal.Decimal
	Margin   decimal.Decimal
	// Summary is one sentence: what it pays and which layer decided it.
	Summary string
	// Note says why there are no layers (pending, rejected, not priced yet).
	Note    string
	Layers  []Layer
	Changes []Change
	// Paid is the sum of the payout lines in payout runs, Runs those runs;
	// Unpaid what the next run takes.
	Paid   decimal.Decimal
	Unpaid decimal.Decimal
	Runs   []int64
}

// Layer is one layer of DESIGN §5 as it worked on the conversion.
type Layer struct {
	Number int
	Title  string
	// Source names what the layer read: the offer and event, the tier, the
	// custom setting, the rule and band.
	Source string
	// Applied is true when the layer computed an amount; Decided lists the
	// amounts ("payout", "revenue") it set that no higher layer replaced,
	// and Adjusted those it changed on top of a lower layer's (the tiered
	// commission).
	Applied  bool
	Decided  []string
	Adjusted []string
	// Why says why the layer did not apply, or adds a note.
	Why     string
	Amounts []Amount
	// Details are further facts: the candidates and why each lost, the
	// band's bounds, the metrics at pricing, the period.
	Details []string
	// RuleID links a tiered rule (layer 4) or a Customer Value rule (5).
	RuleID int64
}

// Amount is one amount a layer computed.
type Amount struct {
	Kind    string // payout or revenue
	Formula string
	Amount  decimal.Decimal
	// ReplacedBy names the higher layer whose amount replaced this one.
	ReplacedBy string
	Note       string
}

// Change is a ledger line written after pricing: a refund, a retroactive
// delta, a reversal, a manual edit, or an override or tiered line that
// followed a refund.
type Change struct {
	LineID  int64
	At      time.Time
	Title   string
	Kind    string
	Amount  decimal.Decimal
	Note    string
	PaidIn  *int64
	Reason  string
	Summary string
}

// layerNames are the layers as a manager reads them.
var layerNames = map[string]string{
	string(pricing.LayerOfferDefault): "offer default",
	string(pricing.LayerPartnerTier):  "Partner Tier margin",
	string(pricing.LayerCustomPayout): "custom payout",
	string(pricing.LayerPostback):     "postback revenue",
	"tiered_commission":               "Tiered Commission",
	"customer_value":                  "Customer Value",
}

// layerWords turns the layer identifiers inside a formula into words.
var layerWords = strings.NewReplacer(
	"(from offer_default)", "(from the offer default)",
	"(from custom_payout)", "(from the custom payout)",
	"(from postback)", "(sent by the postback)",
	"(from partner_tier)", "(from the Partner Tier)",
)

// ExplainInput is what Explain reads besides the conversion and its lines.
type ExplainInput struct {
	Conversion store.Conversion
	Lines      []store.LedgerLine
	OfferName  string
	// ValueRules names Customer Value rules by id.
	ValueRules map[int64]string
	// Tiered is the conversion's tiered rule as it is now, for its band
	// names and bounds; zero when none adjusted it.
	Tiered tiered.Rule
}

// Explain builds the explanation of a conversion from its stored pricing
// record, its tiered explanation and its ledger lines.
func Explain(in ExplainInput) (Explanation, error) {
	c := in.Conversion
	e := Explanation{Currency: c.Currency, Payout: c.Payout, Revenue: c.Revenue, Margin: c.Revenue.Sub(c.Payout)}
	for _, l := range in.Lines {
		if l.Kind != store.KindPayout {
			continue
		}
		if l.PayoutRunID != nil {
			e.Paid = e.Paid.Add(l.Amount)
			if !slices.Contains(e.Runs, *l.PayoutRunID) {
				e.Runs = append(e.Runs, *l.PayoutRunID)
			}
		} else {
			e.Unpaid = e.Unpaid.Add(l.Amount)
		}
	}
	if c.Pricing == nil {
		switch {
		case c.Status == store.StatusPending:
			e.Note = "Pending: a pending conversion gets no ledger lines and no rule sees it until it is approved; then it is priced as a new arrival."
		case c.Status == store.StatusRejected:
			e.Note = "Rejected (" + ReasonWords(c.RejectionReason) + "): a rejected conversion is never priced."
		default:
			e.Note = "Accepted and waiting to be priced: the customer's workflow prices it within a second of its signal."
		}
		e.Summary = e.Note
		return e, nil
	}
	var rec pricing.Record
	if err := json.Unmarshal(c.Pricing, &rec); err != nil {
		return Explanation{}, fmt.Errorf("decode pricing of conversion %d: %w", c.ID, err)
	}
	x := rec.Explanation
	e.Layers = append(e.Layers, pricingLayers(x, c, in.OfferName)...)
	tl, err := tieredLayer(c, in.Tiered, in.Lines)
	if err != nil {
		return Explanation{}, err
	}
	e.Layers = append(e.Layers, tl)
	e.Layers = append(e.Layers, valueLayer(c, in.Lines, in.ValueRules))
	e.Changes = changes(c, in.Lines)
	e.Summary = summary(c, x, e)
	return e, nil
}

// pricingLayers are layers 1–3 and the postback's revenue, from the
// pricing record.
func pricingLayers(x pricing.Explanation, c store.Conversion, offerName string) []Layer {
	event := "the base conversion"
	if c.Event != "" {
		event = "event " + strconv.Quote(c.Event)
	}
	var out []Layer
	for _, st := range x.Steps {
		l := Layer{Applied: st.Applied, Why: st.Reason}
		switch st.Layer {
		case pricing.LayerOfferDefault:
			l.Number, l.Title = 1, "Offer default"
			l.Source = fmt.Sprintf("Offer %q (#%d), %s", offerName, c.OfferID, event)
		case pricing.LayerPartnerTier:
			l.Number, l.Title = 2, "Partner Tier margin"
			if t := st.Tier; t != nil {
				l.Source = fmt.Sprintf("Tier %q: margin %s%%, %s, offer %s, apply margin %s", t.Name, t.MarginPercent,
					onOff(t.Active, "active", "inactive"), onOff(t.OfferListed, "listed", "not listed"), onOff(t.ApplyMargin, "on", "off"))
			} else {
				l.Source = "No tier"
			}
			if st.Applied {
				l.Why = fmt.Sprintf("The partner keeps %s%% of the revenue; the network keeps the margin.", hundred.Sub(st.Tier.MarginPercent))
			}
		case pricing.LayerCustomPayout:
			l.Number, l.Title = 3, "Custom payout"
			if s := st.CustomSetting; s != nil {
				who := fmt.Sprintf("partner #%d", s.PartnerID)
				if s.AllPartners {
					who = "all partners"
				}
				l.Source = fmt.Sprintf("Custom payout setting #%d for %s%s", s.ID, who, dates(s.StartsAt, s.EndsAt))
			} else {
				l.Source = "No custom setting"
			}
			for _, cand := range st.Candidates {
				l.Details = append(l.Details, fmt.Sprintf("Setting #%d: %s", cand.ID, cand.Reason))
			}
		case pricing.LayerPostback:
			l.Title = "Postback revenue" // not a layer: the revenue it sends beats every rate (§13.4)
			l.Source = "The revenue parameter of the postback"
		}
		for _, a := range []struct {
			kind string
			calc *pricing.Calculation
			won  pricing.Layer
		}{{"payout", st.Payout, x.PayoutLayer}, {"revenue", st.Revenue, x.RevenueLayer}} {
			if a.calc == nil {
				continue
			}
			amt := Amount{Kind: a.kind, Formula: layerWords.Replace(a.calc.Formula), Amount: a.calc.Amount, Note: a.calc.Note}
			if a.calc.SupersededBy != "" {
				amt.ReplacedBy = layerNames[string(a.calc.SupersededBy)]
			} else if a.won == st.Layer {
				l.Decided = append(l.Decided, a.kind)
			}
			l.Amounts = append(l.Amounts, amt)
		}
		out = append(out, l)
	}
	return out
}

// tieredLayer is layer 4, from the conversion's tiered explanation.
func tieredLayer(c store.Conversion, rule tiered.Rule, lines []store.LedgerLine) (Layer, error) {
	l := Layer{Number: 4, Title: "Tiered Commission"}
	if c.Tiered == nil {
		l.Source = "No Tiered Commission"
		l.Why = "No active tiered rule covered this conversion's offer, partner, event and date when it was priced."
		return l, nil
	}
	var x tiered.Explanation
	if err := json.Unmarshal(c.Tiered, &x); err != nil {
		return Layer{}, fmt.Errorf("decode tiered explanation of conversion %d: %w", c.ID, err)
	}
	l.RuleID = x.RuleID
	l.Source = fmt.Sprintf("Rule %q (#%d)", x.RuleName, x.RuleID)
	l.Applied = x.Band >= 0
	if x.Band >= 0 {
		l.Source += ", band " + bandLabel(x.Band, x.BandName)
		if len(x.Bounds) > 0 {
			l.Details = append(l.Details, "The band holds when "+boundsWords(x.Bounds)+".")
		}
	}
	if x.Metrics != nil {
		l.Details = append(l.Details, "Metrics of the period when it was priced, this conversion included: "+metricsWords(*x.Metrics, x.Bounds, c.Currency)+".")
	}
	if x.PeriodStart != nil {
		end := "open-ended"
		if x.PeriodEnd != nil && x.PeriodEnd.Year() < 9000 {
			end = x.PeriodEnd.Format(time.RFC3339)
		}
		l.Details = append(l.Details, fmt.Sprintf("Period: from %s to %s (UTC), per partner and offer.", x.PeriodStart.Format(time.RFC3339), end))
	}
	for _, cand := range x.Candidates {
		l.Details = append(l.Details, fmt.Sprintf("Rule %q (#%d): %s", cand.RuleName, cand.RuleID, cand.Reason))
	}
	if x.Reason != "" {
		l.Why = x.Reason
	}
	overridden := slices.ContainsFunc(lines, func(ln store.LedgerLine) bool {
		return ln.Reason == store.ReasonOverride && ln.Kind == store.KindPayout
	})
	for _, a := range []struct {
		kind string
		line tiered.Line
	}{{"payout", x.Payout}, {"revenue", x.Revenue}} {
		amt := Amount{Kind: a.kind, Amount: a.line.Amount, Note: a.line.Reason}
		if a.line.Adjusted {
			amt.Formula = a.line.Formula + "; line: " + a.line.LineFormula
			if !(a.kind == "payout" && overridden) {
				l.Adjusted = append(l.Adjusted, a.kind)
			}
		} else {
			amt.Formula = "no change: " + SignedMoney(a.line.Amount, c.Currency)
		}
		if a.kind == "payout" && overridden {
			amt.ReplacedBy = layerNames["customer_value"]
		}
		l.Amounts = append(l.Amounts, amt)
	}
	if rule.ID != 0 {
		l.Details = append(l.Details, "Retroactive mode: "+string(rule.RetroMode())+".")
	}
	return l, nil
}

// valueLayer is layer 5: the Customer Value bonus and override lines
// written when rules fired (not those that followed a refund).
func valueLayer(c store.Conversion, lines []store.LedgerLine, names map[int64]string) Layer {
	l := Layer{Number: 5, Title: "Customer Value", Source: "No Customer Value rule"}
	if c.Anonymous() {
		l.Why = "The postback sent no user_id: without a customer there is no Customer Value."
		return l
	}
	var rules []string
	for _, ln := range lines {
		if (ln.Reason != store.ReasonBonus && ln.Reason != store.ReasonOverride) || strings.HasPrefix(ln.Key, "refund:") {
			continue
		}
		l.Applied = true
		l.RuleID = ln.RuleID
		name := names[ln.RuleID]
		if name == "" {
			name = fmt.Sprintf("#%d", ln.RuleID)
		}
		if !slices.Contains(rules, name) {
			rules = append(rules, name)
		}
		kind := "bonus"
		if ln.Reason == store.ReasonOverride {
			kind = "override"
			if ln.Kind == store.KindPayout && !slices.Contains(l.Decided, "payout") {
				l.Decided = append(l.Decided, "payout")
			}
		}
		l.Amounts = append(l.Amounts, Amount{Kind: ln.Kind, Amount: ln.Amount,
			Formula: fmt.Sprintf("%s %s of rule %q: %s", kind, ln.Kind, name, SignedMoney(ln.Amount, c.Currency)), Note: ln.Note})
	}
	if l.Applied {
		l.Source = "Rule " + strings.Join(quoteAll(rules), ", ")
		l.Why = "An override replaces layers 1–4 while it applies; a bonus is a line on top."
	} else {
		l.Why = "No rule's goal was completed by this conversion, and no override applied to it."
	}
	return l
}

// changes lists the lines written after pricing.
func changes(c store.Conversion, lines []store.LedgerLine) []Change {
	var out []Change
	for _, ln := range lines {
		ch := Change{LineID: ln.ID, At: ln.CreatedAt, Kind: ln.Kind, Amount: ln.Amount, Note: ln.Note, PaidIn: ln.PayoutRunID, Reason: ln.Reason}
		refundKey := strings.HasPrefix(ln.Key, "refund:")
		switch {
		case ln.Reason == store.ReasonRefund:
			ch.Title = "Partial refund"
		case ln.Reason == store.ReasonRetro:
			ch.Title = "Retroactive re-pricing"
		case ln.Reason == store.ReasonReversal:
			ch.Title = "Reversal"
		case ln.Reason == "manual":
			ch.Title = "Manual edit"
		case refundKey && ln.Reason == store.ReasonTiered:
			ch.Title = "Tiered adjustment after a refund"
		case refundKey && ln.Reason == store.ReasonOverride:
			ch.Title = "Override re-targeted after a refund"
		default:
			continue
		}
		ch.Summary = fmt.Sprintf("%s: %s %s", ch.Title, ln.Kind, SignedMoney(ln.Amount, c.Currency))
		out = append(out, ch)
	}
	return out
}

// summary is the explanation's first sentence: what the conversion pays
// and earns, and which layer decided the payout.
func summary(c store.Conversion, x pricing.Explanation, e Explanation) string {
	decider := "the " + layerNames[string(x.PayoutLayer)]
	var bonus decimal.Decimal
	for _, l := range e.Layers {
		switch {
		case l.Number == 4 && slices.Contains(l.Adjusted, "payout"):
			decider += " and adjusted by the Tiered Commission"
		case l.Number == 5 && slices.Contains(l.Decided, "payout"):
			decider = "a Customer Value override"
		}
		if l.Number == 5 {
			for _, a := range l.Amounts {
				if a.Kind == store.KindPayout && strings.HasPrefix(a.Formula, "bonus") {
					bonus = bonus.Add(a.Amount)
				}
			}
		}
	}
	s := fmt.Sprintf("Pays %s, set by %s", Money(c.Payout, c.Currency), decider)
	if !bonus.IsZero() {
		s += fmt.Sprintf(", plus a Customer Value bonus of %s", Money(bonus, c.Currency))
	}
	s += fmt.Sprintf(". Earns the network %s (margin %s).", Money(c.Revenue, c.Currency), Money(e.Margin, c.Currency))
	if c.ReversedAt != nil {
		s += " Reversed: every line is offset."
	}
	return s
}

var hundred = decimal.NewFromInt(100)

func onOff(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func dates(start, end *time.Time) string {
	switch {
	case start != nil && end != nil:
		return fmt.Sprintf(", from %s until %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	case start != nil:
		return ", from " + start.Format(time.RFC3339)
	case end != nil:
		return ", until " + end.Format(time.RFC3339)
	}
	return ", no dates"
}

// bandLabel names band i: its name, or "band N" counting from 1.
func bandLabel(i int, name string) string {
	if i < 0 {
		return "none"
	}
	if name != "" {
		return strconv.Quote(name)
	}
	return "band " + strconv.Itoa(i+1)
}

// BandLabel names band i of r for a report: its name, or "Band N".
func BandLabel(r tiered.Rule, i int) string {
	switch {
	case i < 0 || i >= len(r.Bands):
		return "no band yet"
	case r.Bands[i].Name != "":
		return r.Bands[i].Name
	}
	return "Band " + strconv.Itoa(i+1)
}

// MetricWords names a metric.
func MetricWords(m tiered.Metric) string {
	return strings.ReplaceAll(string(m), "_", " ")
}

// boundsWords writes a band's bounds: "conversions > 100 and ≤ 200".
func boundsWords(bounds []tiered.Bound) string {
	parts := make([]string, 0, len(bounds))
	for _, b := range bounds {
		var p []string
		if b.Min != nil {
			p = append(p, "> "+b.Min.String())
		} else {
			p = append(p, "≥ 0")
		}
		if b.Max != nil {
			p = append(p, "≤ "+b.Max.String())
		}
		parts = append(parts, MetricWords(b.Metric)+" "+strings.Join(p, " and "))
	}
	return strings.Join(parts, ", and ")
}

// metricsWords writes the metrics a band reads, or all of them.
func metricsWords(m tiered.Metrics, bounds []tiered.Bound, currency string) string {
	metrics := []tiered.Metric{tiered.MetricConversions, tiered.MetricEventCount, tiered.MetricSaleAmount, tiered.MetricRevenue, tiered.MetricPayout}
	if len(bounds) > 0 {
		metrics = metrics[:0]
		for _, b := range bounds {
			metrics = append(metrics, b.Metric)
		}
	}
	parts := make([]string, len(metrics))
	for i, k := range metrics {
		v := m.Value(k).String()
		if k == tiered.MetricSaleAmount || k == tiered.MetricRevenue || k == tiered.MetricPayout {
			v = Money(m.Value(k), currency)
		}
		parts[i] = MetricWords(k) + " " + v
	}
	return strings.Join(parts, ", ")
}

// ReasonWords says in words why a conversion was rejected.
func ReasonWords(reason string) string {
	switch reason {
	case store.RejectPartnerNotApproved:
		return "the partner was not approved for the offer"
	case store.RejectPartnerInactive:
		return "the partner was not active"
	case store.RejectOfferInactive:
		return "the offer was not active"
	case store.RejectAdvertiserInactive:
		return "the advertiser was not active"
	case store.RejectReversed:
		return "reversed while pending"
	case store.RejectPostback:
		return "the postback said rejected"
	case store.RejectManual:
		return "rejected by an admin"
	case "":
		return "no reason recorded"
	}
	return strings.ReplaceAll(reason, "_", " ")
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
